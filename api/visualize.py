"""GET /visualize/graph/<name>: the data behind each graph as JSON (see query.analytics.graphs);
GET /visualize/api/v1/reset: the original's way to drop cached graph data."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web

from query.analytics import graphs

from .http import int_param, json_response
from .services import SERVICES


async def graph(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    name = request.match_info["name"].strip("/")
    try:
        filters = graphs.Filters.from_query(request.query)
        if filters.until == date.max:  # the filter needs the day after, which no date holds
            raise ValueError(f"until must be before {date.max.isoformat()}")
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


async def reset(request: web.Request) -> web.Response:
    """GET /visualize/api/v1/reset, as the original client calls it: drops the graph data the
    gateway keeps (every graph's numbers are queried afresh anyway; what is kept is the tag
    dendrogram's word vectors). Changes no stored data."""
    dropped = request.app[SERVICES].reset_caches()
    return json_response({"reset": True, "dropped": dropped})
