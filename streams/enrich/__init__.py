"""Each stage's own logic that is not domain maths: dominant colours by k-means, the vectors and
payload an image gets in the index, the country of a GPS position. Records or pixels in, fields
out; no Kafka, no storage, so batch tools and benches reuse it."""
