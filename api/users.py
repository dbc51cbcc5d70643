"""Named users: saved preferences, and feedback that becomes events for the worker to fold in."""

from __future__ import annotations

import asyncio

from aiohttp import web

from query.recommendation import service
from query.recommendation.ranking import PreferenceError
from schemas.pipeline import FEEDBACK

from .auth import principal_of
from .http import json_body, json_response
from .services import SERVICES


def _name(request) -> str:
    name = request.match_info["name"]
    if not service.valid_user_name(name):
        raise web.HTTPBadRequest(text="a user name is 1-64 letters, digits, or . _ @ -")
    return name


def _acting_for(request: web.Request, user: str) -> None:
    principal = principal_of(request)
    if principal is not None and not principal.acts_for(user):
        raise web.HTTPForbidden(text=f"a key acts for its own user ({principal.user}) only; {user!r} is another")


async def save_user(request: web.Request) -> web.Response:
    """PUT /recommend/users/<name> with the preferences to keep (any of recommend's)."""
    name = _name(request)
    _acting_for(request, name)
    body = await json_body(request)
    try:
        return json_response(await asyncio.to_thread(service.save_user, request.app[SERVICES].db, name, body))
    except PreferenceError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def get_user(request: web.Request) -> web.Response:
    name = _name(request)
    user = await asyncio.to_thread(request.app[SERVICES].db.users.get, name)
    if user is None:
        raise web.HTTPNotFound(text=f"no user {name!r}")
    return json_response(user)


async def feedback(request: web.Request) -> web.Response:
    """POST /recommend/feedback {"image", "signal": like|dislike|view} → 202, as the key's user
    (an admin key may name another `user`)."""
    services = request.app[SERVICES]
    body = await json_body(request)
    principal = principal_of(request)
    user = body.get("user") or (principal.user if principal else None)
    if isinstance(user, str):
        _acting_for(request, user)
    own = principal is not None and user == principal.user
    try:
        event = await asyncio.to_thread(service.feedback, services.db, {**body, "user": user}, own)
    except PreferenceError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    except service.NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None

    def publish():
        services.publisher.publish(FEEDBACK.name, event.user, event)
        services.publisher.flush()

    await asyncio.to_thread(publish)
    return json_response({"event_id": event.event_id}, status=202)
