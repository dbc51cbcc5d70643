"""The Unsplash Lite dataset as a source: its files (`dataset`), its metadata loaded into
PostgreSQL (`metadata`), its photos downloaded into the pipeline (`download`, `job`)."""
