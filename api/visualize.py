"""GET /visualize/graph/<name>: the data behind each graph as JSON (see dashboards.graphs)."""
from __future__ import annotations

import asyncio

from aiohttp import web

from dashboards import graphs

from .http import json_response


async def graph(request: web.Request) -> web.Response:
    services = request.app["services"]
    name = request.match_info["name"].strip("/")
    try:
        filters = graphs.Filters.from_query(request.query)
        limit = _limit(request.query.get("limit"))
        graphs.parse_name(name)  # unknown names and bad path parameters answer before any SQL runs
    except graphs.UnknownGraph as exc:
        return json_response({"error": str(exc), "graphs": list(graphs.NAMES)}, status=404)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    # Grouping tags by meaning only when a text model is ready: the graph never waits for one.
    embed = services.word_embedding_if_loaded() if name == "tags/dendrogram" else None
    try:
        body = await asyncio.to_thread(graphs.graph, services.db, name, filters, embed=embed, limit=limit)
    except graphs.GraphParameterError as exc:
        return json_response({"error": str(exc)}, status=400)
    return json_response({"graph": name, "filters": filters.to_query(), **body})


def _limit(raw: str | None) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"limit must be a whole number, got {raw!r}") from None
