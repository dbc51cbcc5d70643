"""The read side, by domain: `recommendation` (preferences, ranking, the recommender, its offline
evaluation, the in-memory replica of the colour space) and `analytics` (the data behind every
graph). The gateway's handlers and the Bokeh pages both import them; they import only the
connectors, the schemas and the ground floor."""
