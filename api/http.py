"""JSON in and out, the same way for every handler."""
from __future__ import annotations

import json
from datetime import date, datetime

from aiohttp import web


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def json_response(body, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, default=_default))


async def json_body(request: web.Request, what: str = "a JSON object", optional: bool = False) -> dict:
    """The request's JSON object, or a 400 that says what was expected."""
    if optional and not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:  # bad JSON, bad UTF-8, or numbers Python refuses to parse
        raise web.HTTPBadRequest(text=f"body must be {what}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=f"body must be {what}")
    return body


def int_param(params, name: str, default, low: int, high: int):
    """A whole-number parameter within [low, high], ``default`` when absent, else a 400 naming it."""
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise web.HTTPBadRequest(text=f"{name} must be between {low} and {high}, got {value}")
    return value
