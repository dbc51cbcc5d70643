"""The ground floor: pure domain code that imports nothing else of Viewfinder.

Image decoding and validation, colour maths, EXIF parsing, the label vocabulary, content ids
and the settings. Every other package may import it; it imports none of them, so the index
service, the dashboard and a notebook get the domain without Kafka, models or scikit-learn.
"""
