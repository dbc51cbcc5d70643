"""GET /visualize/graph/<name>: the data behind each graph as JSON (see query.analytics.graphs)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from query.analytics import graphs

from .http import int_param, json_response
from .services import SERVICES


async def graph(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    name = request.match_info["name"].strip("/")
    try:
        filters = graphs.Filters.from_query(request.query)
        graphs.parse_name(name)  # unknown names and bad path parameters answer before any SQL runs
    except graphs.UnknownGraph as exc:
        return json_response({"error": str(exc), "graphs": list(graphs.NAMES)}, status=404)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    limit = int_param(request.query, "limit", None, 1, graphs.MAP_MAX)  # each graph checks its own, lower cap
    # Grouping tags by meaning only when a text model is ready: the graph never waits for one.
    embed = services.word_embedding_if_loaded() if name == "tags/dendrogram" else None
    try:
        body = await asyncio.to_thread(graphs.graph, services.db, name, filters, embed=embed, limit=limit)
    except graphs.GraphParameterError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return json_response({"graph": name, "filters": filters.to_query(), **body})
