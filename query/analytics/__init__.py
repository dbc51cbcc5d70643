"""The data behind every graph of the original system, aggregated by PostgreSQL (`graphs`)."""
