"""The enrichment pipeline: the Faust app (`app.create_app`), one agent per stage of
`schemas.pipeline` (`stages`, the streaming glue), the clients and models a worker opens once
(`resources`), and stage logic that is neither domain maths nor a model (`enrich`)."""
