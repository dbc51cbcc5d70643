"""JSON in and out, the same way for every handler, and the one error middleware: every 4xx and
5xx the gateway answers is JSON ``{"error": "…"}`` with the right status."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from aiohttp import web

from core.ids import is_image_id

log = logging.getLogger("viewfinder.api")


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def json_response(body, status: int = 200, headers=None) -> web.Response:
    return web.json_response(body, status=status, headers=headers, dumps=lambda v: json.dumps(v, default=_default))


def _error_body(exc: web.HTTPException) -> str:
    # aiohttp's own answers (unknown route, wrong method, body too large) say "404: Not Found".
    text = exc.text or ""
    return exc.reason if text in ("", f"{exc.status}: {exc.reason}") else text


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return json_response({"error": _error_body(exc)}, status=exc.status, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response({"error": "internal error; see the gateway log"}, status=500)
    if response.status >= 400 and response.content_type != "application/json" and isinstance(response, web.Response):
        return json_response({"error": response.text or response.reason}, status=response.status)
    return response


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


def image_id_param(request: web.Request) -> str:
    """The route's image id, lower-cased; a 404 when it cannot be one."""
    iid = request.match_info["id"].lower()
    if not is_image_id(iid):
        raise web.HTTPNotFound(text=f"no image {request.match_info['id']!r}")
    return iid
