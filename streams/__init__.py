"""The enrichment pipeline: Faust agents (streaming glue) over pure stage logic in `streams.enrich`."""
