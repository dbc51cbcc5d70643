"""Named users: saved preferences, and feedback that becomes events for the worker to fold in."""
from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timezone

from aiohttp import web

from schemas.records import Feedback

from . import ranking
from .http import json_body, json_response

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
SIGNALS = ("like", "dislike", "view")
FEEDBACK_TOPIC = "viewfinder.feedback"


def _name(request) -> str:
    name = request.match_info["name"]
    if not NAME.match(name):
        raise web.HTTPBadRequest(text="a user name is 1-64 letters, digits, or . _ @ -")
    return name


async def save_user(request: web.Request) -> web.Response:
    """PUT /recommend/users/<name> with the preferences to keep (any of recommend's)."""
    services, name = request.app["services"], _name(request)
    body = await json_body(request)
    try:
        prefs = ranking.parse_preferences(body)
    except ranking.PreferenceError as exc:
        return json_response({"error": str(exc)}, status=400)
    saved = {k: v for k, v in vars(prefs).items() if k in body}
    await asyncio.to_thread(services.db.save_user, name, saved)
    return json_response(await asyncio.to_thread(services.db.get_user, name))


async def get_user(request: web.Request) -> web.Response:
    services, name = request.app["services"], _name(request)
    user = await asyncio.to_thread(services.db.get_user, name)
    if user is None:
        raise web.HTTPNotFound(text=f"no user {name!r}")
    return json_response(user)


async def feedback(request: web.Request) -> web.Response:
    """POST /recommend/feedback {"user", "image", "signal": like|dislike|view} → 202."""
    services = request.app["services"]
    body = await json_body(request)
    user, image, signal = body.get("user"), body.get("image"), body.get("signal")
    if signal not in SIGNALS:
        return json_response({"error": f"signal must be one of {', '.join(SIGNALS)}, got {signal!r}"}, status=400)
    if not isinstance(user, str) or not NAME.match(user):
        return json_response({"error": "user must be a user name"}, status=400)
    if not isinstance(image, str) or not re.fullmatch(r"[0-9a-f]{32}", image):
        return json_response({"error": "image must be an image id"}, status=400)
    if await asyncio.to_thread(services.db.get_user, user) is None:
        raise web.HTTPNotFound(text=f"no user {user!r}; create one with PUT /recommend/users/<name>")
    if await asyncio.to_thread(services.db.stored_object, image) is None:
        raise web.HTTPNotFound(text=f"no image {image}")
    event = Feedback(event_id=str(uuid.uuid4()), user=user, image_id=image, signal=signal,
                     at=datetime.now(timezone.utc).isoformat())

    def publish():
        services.publisher.publish(FEEDBACK_TOPIC, user, event)
        services.publisher.flush()
    await asyncio.to_thread(publish)
    return json_response({"event_id": event.event_id}, status=202)
