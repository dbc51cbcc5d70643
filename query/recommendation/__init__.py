"""Recommendations: preferences parsed and scored (`ranking`), candidates from the vector index
and feedback (`recommender`), free-text search, the offline evaluation (`evaluation`), the
gateway's in-memory replica of the colour space (`replica`), and what each route does
between a parsed request and its answer (`service`)."""
