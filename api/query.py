"""Read side: image metadata, the CDN, recommendations."""
from __future__ import annotations

import asyncio
import re

from aiohttp import web

from connectors.unsplash import metadata
from streams.enrich.images import THUMB_SIDE, decode_rgb, jpeg_thumbnail, thumbnail_key

from . import evaluation, ranking, recommender
from .http import int_param, json_body, json_response

ID = re.compile(r"^[0-9a-f]{32}$")


def _image_id(request) -> str:
    iid = request.match_info["id"].lower()
    if not ID.match(iid):
        raise web.HTTPNotFound(text=f"no image {request.match_info['id']!r}")
    return iid


async def image(request: web.Request) -> web.Response:
    services = request.app["services"]
    iid = _image_id(request)
    row = await asyncio.to_thread(services.db.get_image, iid)
    if row is None:
        raise web.HTTPNotFound(text=f"no image {iid}")
    exif = row.pop("exif") or {}
    return json_response({
        "id": row["id"], "status": row["status"], "error": row["error"], "source": row["source"],
        "filename": row["filename"], "content_type": row["content_type"], "size_bytes": row["size_bytes"],
        "arrived_at": row["arrived_at"], "enriched_at": row["enriched_at"],
        "width": row["width"], "height": row["height"], "orientation": row["orientation"],
        "exif": exif, "tags_status": row["tags_status"], "embedding_status": row["embedding_status"],
        "tags": row["tags"] if row["tags_status"] == "ok" else None,
        "colors": row["colors"], "country": row["country"], "dead_letters": row["dead_letters"],
        "url": f"/cdn/show/{iid}", "thumbnail": f"/cdn/show/{iid}?size=thumb",
    })


async def show(request: web.Request) -> web.StreamResponse:
    services = request.app["services"]
    iid = _image_id(request)
    size = request.query.get("size", "original")
    if size not in ("original", "thumb"):
        raise web.HTTPBadRequest(text="size must be `thumb` or `original`")
    etag = f'"{iid}"' if size == "original" else f'"{iid}-thumb"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    row = await asyncio.to_thread(services.db.stored_object, iid)
    if row is None:
        raise web.HTTPNotFound(text=f"no image {iid}")
    if size == "original":
        body = await asyncio.to_thread(services.store.get, row["object_key"])
        return web.Response(body=body, content_type=row["content_type"], headers=headers)
    key = thumbnail_key(iid)
    if await asyncio.to_thread(services.store.exists, key):
        body = await asyncio.to_thread(services.store.get, key)
    else:  # the pipeline makes it; until it has, make it here, once
        original = await asyncio.to_thread(services.store.get, row["object_key"])
        try:
            body = await asyncio.to_thread(
                lambda: jpeg_thumbnail(decode_rgb(original, THUMB_SIDE, services.settings.max_pixels), THUMB_SIDE))
        except ValueError as exc:
            raise web.HTTPUnprocessableEntity(text=f"cannot make a thumbnail: {exc}") from None
        await asyncio.to_thread(services.store.put, key, body, "image/jpeg")
    return web.Response(body=body, content_type="image/jpeg", headers=headers)


async def recommend(request: web.Request) -> web.Response:
    services = request.app["services"]
    body = await json_body(request, "a JSON object of preferences")
    user_name = body.pop("user", None)
    opinions = None
    if user_name is not None:
        user = await asyncio.to_thread(services.db.get_user, str(user_name))
        if user is None:
            raise web.HTTPNotFound(text=f"no user {user_name!r}; create one with PUT /recommend/users/<name>")
        body = {**user["preferences"], **{k: v for k, v in body.items() if v not in (None, "", [])}}
        opinions = recommender.Opinions(user["likes"], user["dislikes"])
    try:
        prefs = ranking.parse_preferences(body)
    except ranking.PreferenceError as exc:
        return json_response({"error": str(exc)}, status=400)
    resolution = ranking.tag_resolution(prefs.tags, await services.tag_resolver() if prefs.tags else None)
    resolved = {word: r["label"] for word, r in resolution.items()}
    results = await asyncio.to_thread(recommender.recommend, services.index, prefs, resolved, opinions)
    return json_response({"results": results, "resolved_tags": resolved, "tag_resolution": resolution,
                          "user": user_name, "count": len(results)})


async def similar(request: web.Request) -> web.Response:
    services = request.app["services"]
    iid = _image_id(request)
    limit = int_param(request.query, "limit", 10, 1, ranking.MAX_LIMIT)
    found = await asyncio.to_thread(recommender.similar, services.index, iid, limit)
    if found is None:
        raise web.HTTPNotFound(text=f"no enriched image {iid}")
    space, results = found
    return json_response({"like": iid, "space": space, "results": results, "count": len(results)})


async def evaluate(request: web.Request) -> web.Response:
    """GET /recommend/evaluate?k=10&queries=1000[&keyword=…]: the conversions replayed (see api.evaluation)."""
    services = request.app["services"]
    k = int_param(request.query, "k", 10, 1, ranking.MAX_LIMIT)
    max_queries = int_param(request.query, "queries", 1000, 1, 100_000)
    resolver = await services.tag_resolver()
    keywords = request.query.getall("keyword", []) or None
    report = await asyncio.to_thread(evaluation.evaluate, services.db, services.index, resolver, k, max_queries,
                                     0, keywords)
    return json_response(report)


async def search(request: web.Request) -> web.Response:
    """GET /recommend/search?q=free text&limit=10."""
    services = request.app["services"]
    text = " ".join(request.query.get("q", "").split())
    if not text or len(text) > 200:
        raise web.HTTPBadRequest(text="q must be 1-200 characters of text")
    limit = int_param(request.query, "limit", 10, 1, ranking.MAX_LIMIT)
    words = [w for w in text.lower().split() if len(w) > 2][:ranking.MAX_TAGS]
    resolution = ranking.tag_resolution([text.lower(), *words], await services.tag_resolver())
    labels = sorted({r["label"] for r in resolution.values() if r["label"]})
    embedder = await services.text_embedder()
    vector = (await asyncio.to_thread(embedder.embed_texts, [text]))[0] if embedder else None
    described = await asyncio.to_thread(metadata.described, services.db, text, 200)
    results = await asyncio.to_thread(recommender.search, services.index, text, labels, vector, described, limit)
    return json_response({"q": text, "results": results, "tag_resolution": resolution,
                          "clip": vector is not None, "count": len(results)})
