"""The Unsplash Lite dataset as a source: its files (`dataset`), its photos fetched
(`download`), and a run that loads both into the pipeline (`job`)."""
