"""Every route of the gateway, once: method, path, handler, who may call it, what it does.
`create_app` registers them, the auth middleware reads their access, `/openapi.json` lists them.

Access: `public` (always open: health, the web page, the contract, signing in), `read` (open
under VIEWFINDER_AUTH=writes, a `read` key under `all`), `write`, `admin`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from . import auth, docs, gather, openapi, query, users, visualize


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    access: str
    summary: str


ROUTES = (
    Route("POST", "/gather/uploads", gather.uploads, "write", "upload images (multipart, field `files`)"),
    Route("GET", "/gather/download", gather.download, "admin", "start a dataset run"),
    Route("POST", "/gather/download", gather.download, "admin", "start a dataset run"),
    Route("GET", "/gather/status", gather.status, "read", "dataset run, pipeline and download progress"),
    Route("GET", "/gather/deadletters", gather.dead_letters, "read", "images that failed a stage, with the reason"),
    Route("POST", "/gather/deadletters/retry", gather.retry_dead_letters, "admin", "send failed images again"),
    Route("GET", "/images", query.images, "read", "the gallery: enriched images newest first, filtered, paged"),
    Route("GET", "/images/{id}", query.image, "read", "everything stored about one image"),
    Route("GET", "/images/{id}/duplicates", query.duplicates, "read", "the image's near-duplicates"),
    Route("GET", "/cdn/show/{id}", query.show, "read", "the stored image, or its thumbnail"),
    Route("POST", "/recommend/recommend", query.recommend, "read", "ranked images for preferences, with why"),
    Route("GET", "/recommend/similar/{id}", query.similar, "read", "more like this"),
    Route("GET", "/recommend/evaluate", query.evaluate, "read", "the offline evaluation"),
    Route("GET", "/recommend/search", query.search, "read", "free-text search"),
    Route("POST", "/recommend/feedback", users.feedback, "write", "like, dislike or view, as the key's user"),
    Route("PUT", "/recommend/users/{name}", users.save_user, "write", "save a user's preferences"),
    Route("GET", "/recommend/users/{name}", users.get_user, "read", "a user's preferences and opinions"),
    Route("GET", "/visualize/graph/{name:.+}", visualize.graph, "read", "the data behind a graph"),
    Route("GET", "/visualize/api/v1/reset", visualize.reset, "read", "drop the graph data the gateway keeps"),
    Route("GET", "/auth/session", auth.session_info, "public", "who is signed in"),
    Route("POST", "/auth/session", auth.sign_in, "public", "sign in with a key: a session cookie"),
    Route("DELETE", "/auth/session", auth.sign_out, "public", "sign out"),
    Route("GET", "/auth/link", auth.follow_link, "public", "follow a one-time sign-in link"),
    Route("GET", "/auth/keys", auth.list_keys, "admin", "the live API keys (never the keys themselves)"),
    Route("POST", "/auth/keys", auth.create_key, "admin", "a new API key, shown once"),
    Route("DELETE", "/auth/keys/{id}", auth.revoke_key, "admin", "revoke a key and end its sessions"),
    Route("GET", "/openapi.json", openapi.openapi_json, "public", "this contract, as OpenAPI 3.1"),
    Route("GET", "/docs", docs.docs, "public", "this contract, as a page"),
)
