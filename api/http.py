"""JSON in and out, the same way for every handler, and the one error middleware: every 4xx and
5xx the gateway answers is JSON ``{"error": "…"}`` with the right status."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from connectors.errors import unreachable
from core.ids import is_image_id

log = logging.getLogger("viewfinder.api")
RETRY_AFTER_S = 5  # what a 503 tells a client to wait while a store is down


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_response(body, status: int = 200, headers=None) -> web.Response:
    # orjson: a recommendation's answer in a tenth of json's time. What it refuses (an integer
    # past 64 bits) goes the standard way.
    try:
        data = orjson.dumps(body, default=_default, option=_ORJSON)
    except orjson.JSONEncodeError:
        data = json.dumps(body, default=_default).encode()
    return web.Response(body=data, status=status, headers=headers, content_type="application/json")


def _error_body(exc: web.HTTPException) -> str:
    # aiohttp's own answers (unknown route, wrong method, body too large) say "404: Not Found".
    text = exc.text or ""
    return exc.reason if text in ("", f"{exc.status}: {exc.reason}") else text


def _refuse_nul(request: web.Request) -> None:
    """PostgreSQL text cannot hold NUL: a query with one is refused here, not a 500 later. (Each
    route's path parameter is checked by its handler: no id, name or graph holds NUL.)"""
    if any("\x00" in k or "\x00" in v for k, v in request.query.items()):
        raise web.HTTPBadRequest(text="a query may not contain NUL characters (%00)")


def _holds_nul(value) -> bool:
    """Whether a parsed JSON value has a NUL character in any string or key (iterative: no depth limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        _refuse_nul(request)
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return json_response({"error": _error_body(exc)}, status=exc.status, headers=headers)
    except HttpProcessingError as exc:  # a body that does not parse as what it says it is (multipart)
        status = exc.code if 400 <= exc.code < 500 else 400
        return json_response({"error": f"malformed request: {' '.join(exc.message.split())}"}, status=status)
    except Exception as exc:
        if not unreachable(exc):
            log.exception("unhandled error on %s %s", request.method, request.path)
            return json_response({"error": "internal error; see the gateway log"}, status=500)
        log.warning("%s %s: a store is unreachable: %s", request.method, request.path, exc)
        return json_response(
            {"error": f"a store this needs is unreachable ({type(exc).__name__}: {exc}); try again shortly"},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    if response.status >= 400 and response.content_type != "application/json" and isinstance(response, web.Response):
        return json_response({"error": response.text or response.reason}, status=response.status)
    return response


MAX_JSON_BYTES = web.AppKey("max_json_bytes", int)


async def json_body(request: web.Request, what: str = "a JSON object", optional: bool = False) -> dict:
    """The request's JSON object, or a 400 that says what was expected; a 413 past the JSON
    limit, said before a byte more than the limit is read."""
    if optional and not request.can_read_body:
        return {}
    limit = request.app.get(MAX_JSON_BYTES, 64 * 1024)
    too_large = web.HTTPRequestEntityTooLarge(
        max_size=limit, actual_size=request.content_length or limit + 1, text=f"a JSON body is at most {limit} bytes"
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = bytearray()
    while chunk := await request.content.readany():
        raw.extend(chunk)
        if len(raw) > limit:
            raise too_large
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON or UTF-8, numbers Python refuses, nesting too deep
        raise web.HTTPBadRequest(text=f"body must be {what}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=f"body must be {what}")
    if _holds_nul(body):
        raise web.HTTPBadRequest(text="a JSON body may not contain NUL characters (\\u0000)")
    return body


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer: no type sniffing, no framing by other sites, no referrer sent on."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")


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
