"""Who may do what: API keys (`Authorization: Bearer KEY`) and web sessions (a cookie), scopes
per route, the policy (`VIEWFINDER_AUTH`), cross-site checks on cookie writes, a limit on
failed sign-ins per client, and the routes that sign in and out and manage keys.

Every route is declared with its access level (`api.routes`): `public` (always open), `read`,
`write` or `admin`. Under the `writes` policy reads are open; under `all` they need `read`.
No or unknown key → 401 with `WWW-Authenticate: Bearer`; a key without the scope → 403.
Keys and session ids are never logged: only their keyed hashes are stored or compared.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web
from yarl import URL

from core.settings import Settings
from core.tokens import allows, new_token, parse_scopes, token_hash
from query.recommendation.service import valid_user_name

from .http import json_body, json_response

COOKIE = "vf_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REMEMBER_S = 5.0  # a key or session is looked up again after this long: revocation takes effect by then


@dataclass(frozen=True)
class Principal:
    user: str
    scopes: tuple[str, ...]
    key_id: int
    via: str  # "key" | "session"

    def may(self, scope: str) -> bool:
        return allows(self.scopes, scope)

    def acts_for(self, user: str) -> bool:
        """A key acts for its own user; an admin key for anyone."""
        return user == self.user or self.may("admin")


PRINCIPAL = web.RequestKey("principal", Principal)


class Unauthorized(web.HTTPUnauthorized):
    def __init__(self, text: str):
        super().__init__(text=text, headers={"WWW-Authenticate": 'Bearer realm="viewfinder"'})


class FailureLimit:
    """At most `per_minute` failed authentications per client address; past that, 429."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)

    def _recent(self, client: str) -> collections.deque:
        times, now = self.failures[client], time.monotonic()
        while times and now - times[0] > 60:
            times.popleft()
        return times

    def check(self, client: str) -> None:
        times = self._recent(client)
        if len(times) >= self.per_minute:
            retry = max(1, math.ceil(60 - (time.monotonic() - times[0])))
            raise web.HTTPTooManyRequests(
                text=f"too many failed sign-ins from this address; try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
        if len(self.failures) > 10_000:  # a flood of addresses must not grow this without bound
            self.failures.clear()


class Authenticator:
    """Keys and sessions looked up by their keyed hash, each remembered for a few seconds."""

    def __init__(self, db, secret: bytes, settings: Settings):
        self.db, self.secret, self.settings = db, secret, settings
        self.limit = FailureLimit(settings.auth_failures_per_minute)
        self.trusted = [
            ipaddress.ip_network(a.strip(), strict=False) for a in settings.trusted_proxies.split(",") if a.strip()
        ]
        self._remembered: dict[bytes, tuple[float, Principal | None]] = {}
        self._last_marked: dict[int, float] = {}

    def hash(self, token: str) -> bytes:
        return token_hash(self.secret, token)

    async def _lookup(self, token_hash_: bytes, via: str) -> Principal | None:
        now = time.monotonic()
        remembered = self._remembered.get(token_hash_)
        if remembered and remembered[0] > now:
            return remembered[1]
        find = self.db.keys.find if via == "key" else self.db.keys.session
        row = await asyncio.to_thread(find, token_hash_)
        principal = None if row is None else Principal(row["user"], tuple(row["scopes"]), row["id"], via)
        if len(self._remembered) > 10_000:
            self._remembered.clear()
        self._remembered[token_hash_] = (now + REMEMBER_S, principal)
        return principal

    def forget(self, token_hash_: bytes) -> None:
        self._remembered.pop(token_hash_, None)

    def client(self, request: web.Request) -> str:
        """The client's address: the peer's, or, from a trusted proxy, the last address it saw."""
        peer = request.remote or "?"
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded and self.trusted:
            try:
                if any(ipaddress.ip_address(peer) in net for net in self.trusted):
                    return forwarded.split(",")[-1].strip() or peer
            except ValueError:
                pass
        return peer

    async def identify(self, request: web.Request) -> Principal | None:
        """The request's principal; None without credentials. An unknown key is a 401 and counts
        against the client's limit; an unknown or expired session cookie is simply no one."""
        client = self.client(request)
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthorized("Authorization must be `Bearer KEY`")
            self.limit.check(client)
            principal = await self._lookup(self.hash(key.strip()), "key")
            if principal is None:
                self.limit.failed(client)
                raise Unauthorized("unknown or revoked API key")
            await self._mark_used(principal)
            return principal
        session = request.cookies.get(COOKIE)
        if session:
            return await self._lookup(self.hash(session), "session")
        return None

    async def _mark_used(self, principal: Principal) -> None:
        # At most once a minute per key: a write per request would cost more than it tells.
        now = time.monotonic()
        if now - self._last_marked.get(principal.key_id, -math.inf) > 60:
            self._last_marked[principal.key_id] = now
            await asyncio.to_thread(self.db.keys.used, principal.key_id)

    async def sign_in(self, key_id: int) -> tuple[str, datetime]:
        """A new session for key ``key_id``: (its id for the cookie, when it expires)."""
        session = new_token("vfs_")
        expires = datetime.now(UTC) + timedelta(hours=self.settings.session_hours)
        await asyncio.to_thread(self.db.keys.open_session, self.hash(session), key_id, "session", expires)
        return session, expires


AUTH = web.AppKey("auth", Authenticator)
ACCESS = web.AppKey("access", dict)  # aiohttp route → "public" | "read" | "write" | "admin"


def needed_scope(access: str, policy: str) -> str | None:
    if access in ("write", "admin"):
        return access
    if access == "read" and policy == "all":
        return "read"
    return None


def same_origin(request: web.Request) -> bool:
    """A browser's state-changing request came from the gateway's own pages: its Origin (or,
    lacking one, its Referer) names the host the request was sent to."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    return URL(source).raw_authority == request.host


def middleware(settings: Settings):
    @web.middleware
    async def authenticate(request: web.Request, handler):
        auth = request.app[AUTH]
        access = request.app[ACCESS].get(request.match_info.route, "public")
        principal = await auth.identify(request)
        if principal is not None:
            request[PRINCIPAL] = principal
            # A cookie rides along with any site's request: writes by cookie must come from our pages.
            if principal.via == "session" and request.method not in SAFE_METHODS and not same_origin(request):
                raise web.HTTPForbidden(text="cross-site request refused: it must come from this site's pages")
        needed = needed_scope(access, settings.auth)
        if needed is not None:
            if principal is None:
                raise Unauthorized(f"this needs an API key with the `{needed}` scope: Authorization: Bearer KEY")
            if not principal.may(needed):
                raise web.HTTPForbidden(
                    text=f"this needs the `{needed}` scope; the key of {principal.user} has "
                    f"{', '.join(principal.scopes)}"
                )
        return await handler(request)

    return authenticate


def principal_of(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


# -- routes: sign in and out, one-time links, keys ---------------------------------------


def _who(principal: Principal | None) -> dict:
    if principal is None:
        return {"signed_in": False}
    return {"signed_in": True, "user": principal.user, "scopes": list(principal.scopes), "via": principal.via}


def _set_cookie(request: web.Request, response: web.Response, session: str, expires: datetime) -> None:
    response.set_cookie(
        COOKIE,
        session,
        max_age=int((expires - datetime.now(UTC)).total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        # Behind a TLS proxy the gateway sees plain HTTP; a client claiming HTTPS only makes its cookie stricter.
        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
    )


async def session_info(request: web.Request) -> web.Response:
    """GET /auth/session: who is signed in (or that no one is)."""
    return json_response(_who(principal_of(request)))


async def sign_in(request: web.Request) -> web.Response:
    """POST /auth/session {"key": KEY}: a session cookie acting with that key's rights."""
    auth = request.app[AUTH]
    if request.headers.get("Origin") and not same_origin(request):
        raise web.HTTPForbidden(text="cross-site sign-in refused")
    body = await json_body(request, 'a JSON object {"key": KEY}')
    key = body.get("key")
    if not isinstance(key, str) or not key.strip():
        raise web.HTTPBadRequest(text='body must be {"key": KEY}')
    client = auth.client(request)
    auth.limit.check(client)
    row = await asyncio.to_thread(request.app[AUTH].db.keys.find, auth.hash(key.strip()))
    if row is None:
        auth.limit.failed(client)
        raise Unauthorized("unknown or revoked API key")
    session, expires = await auth.sign_in(row["id"])
    response = json_response(
        {**_who(Principal(row["user"], tuple(row["scopes"]), row["id"], "session")), "expires_at": expires}
    )
    _set_cookie(request, response, session, expires)
    return response


async def sign_out(request: web.Request) -> web.Response:
    """DELETE /auth/session: the session ends, on the server too."""
    auth = request.app[AUTH]
    session = request.cookies.get(COOKIE)
    if session:
        await asyncio.to_thread(auth.db.keys.end_session, auth.hash(session))
        auth.forget(auth.hash(session))
    response = json_response({"signed_in": False})
    response.del_cookie(COOKIE, path="/")
    return response


async def follow_link(request: web.Request) -> web.StreamResponse:
    """GET /auth/link?token=…: a one-time sign-in link becomes a session, then the web page."""
    auth = request.app[AUTH]
    token = request.query.get("token", "")
    client = auth.client(request)
    auth.limit.check(client)
    key_id = await asyncio.to_thread(auth.db.keys.use_link, auth.hash(token)) if token else None
    if key_id is None:
        auth.limit.failed(client)
        raise Unauthorized("this sign-in link is unknown, used or expired; ask for a new one")
    session, expires = await auth.sign_in(key_id)
    response = web.HTTPSeeOther("/")
    _set_cookie(request, response, session, expires)
    raise response


async def list_keys(request: web.Request) -> web.Response:
    """GET /auth/keys (admin): every live key, never the key itself."""
    return json_response({"keys": await asyncio.to_thread(request.app[AUTH].db.keys.list)})


async def create_key(request: web.Request) -> web.Response:
    """POST /auth/keys {"user", "scopes": [..]} (admin) → 201 {"id", "key"}: the key, shown once."""
    body = await json_body(request)
    user, scopes = body.get("user"), body.get("scopes")
    if not valid_user_name(user):
        raise web.HTTPBadRequest(text="user must be 1-64 letters, digits, or . _ @ -")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise web.HTTPBadRequest(text='scopes must be a list, e.g. ["read", "write"]')
    try:
        parsed = parse_scopes(",".join(scopes))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    auth = request.app[AUTH]
    key = new_token()
    key_id = await asyncio.to_thread(auth.db.keys.create, user, parsed, auth.hash(key))
    return json_response({"id": key_id, "user": user, "scopes": list(parsed), "key": key}, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    """DELETE /auth/keys/{id} (admin)."""
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound(text=f"no key {raw!r}")
    if not await asyncio.to_thread(request.app[AUTH].db.keys.revoke, int(raw)):
        raise web.HTTPNotFound(text=f"no live key {raw}")
    request.app[AUTH]._remembered.clear()  # its holder is refused from the next request on
    return json_response({"revoked": int(raw)})
