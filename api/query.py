"""Read side: image metadata, the CDN, recommendations, search."""

from __future__ import annotations

import asyncio
from functools import partial

from aiohttp import web

from core import perceptual
from core.colors import with_families
from core.ids import is_image_id
from core.images import THUMB_SIDE, decode_rgb, jpeg_thumbnail, thumbnail_key
from query import gallery
from query.recommendation import evaluation, ranking, service

from .http import image_id_param, int_param, json_body, json_response
from .services import SERVICES

NAMESAKES_LISTED = 10  # ids listed when several images have the file name asked for


async def images(request: web.Request) -> web.Response:
    """The gallery: enriched images newest first, filtered, a page at a time."""
    try:
        return json_response(await asyncio.to_thread(gallery.page, request.app[SERVICES].db, request.query))
    except gallery.GalleryError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def image(request: web.Request) -> web.Response:
    iid = image_id_param(request)
    images = request.app[SERVICES].db.images
    row = await asyncio.to_thread(images.get, iid)
    if row is None:
        raise web.HTTPNotFound(text=f"no image {iid}")
    near = await asyncio.to_thread(images.near_duplicates, iid, perceptual.NEAR)
    unsplash = request.app[SERVICES].db.unsplash
    keywords = await asyncio.to_thread(unsplash.keywords_of_image, iid) if row["source"] == "unsplash" else []
    return json_response(
        {
            "id": row["id"],
            "status": row["status"],
            "error": row["error"],
            "source": row["source"],
            "filename": row["filename"],
            "content_type": row["content_type"],
            "size_bytes": row["size_bytes"],
            "arrived_at": row["arrived_at"],
            "enriched_at": row["enriched_at"],
            "width": row["width"],
            "height": row["height"],
            "orientation": row["orientation"],
            "exif": row["exif"] or {},
            "tags_status": row["tags_status"],
            "embedding_status": row["embedding_status"],
            "tags": row["tags"] if row["tags_status"] == "ok" else None,
            "clip_tags": row["clip_tags"],
            "keywords": keywords,
            "colors": with_families(row["colors"]),
            "country": row["country"],
            "dead_letters": row["dead_letters"],
            "near_duplicates": near or [],
            "url": f"/cdn/show/{iid}",
            "thumbnail": f"/cdn/show/{iid}?size=thumb",
        }
    )


async def duplicates(request: web.Request) -> web.Response:
    """The image's near-duplicates (same photo resized, re-encoded, lightly cropped or brightened), nearest first."""
    iid = image_id_param(request)
    within = int_param(request.query, "within", perceptual.NEAR, 0, 32)
    near = await asyncio.to_thread(request.app[SERVICES].db.images.near_duplicates, iid, within)
    if near is None:
        raise web.HTTPNotFound(text=f"no image {iid}")
    return json_response({"id": iid, "within": within, "near_duplicates": near})


async def show(request: web.Request) -> web.StreamResponse:
    """GET /cdn/show/<id>, or /cdn/show/<file name> as the original client asks: the image stored
    under that name when exactly one is (by id it is immutable, by name it may come to be another)."""
    services = request.app[SERVICES]
    segment = request.match_info["id"]
    by_name = not is_image_id(segment.lower())
    size = request.query.get("size", "original")
    if size not in ("original", "thumb"):
        raise web.HTTPBadRequest(text="size must be `thumb` or `original`")
    if by_name:
        ids = await asyncio.to_thread(services.db.images.ids_by_filename, segment, NAMESAKES_LISTED + 1)
        if len(ids) != 1:
            return _not_one_image(segment, ids)
        iid = ids[0]
    else:
        iid = segment.lower()
    etag = f'"{iid}"' if size == "original" else f'"{iid}-thumb"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=31536000, immutable"}
    if by_name:  # revalidate: a second image of that name would make it ambiguous
        headers["Cache-Control"] = "no-cache"
        headers["Content-Location"] = f"/cdn/show/{iid}" + ("?size=thumb" if size == "thumb" else "")
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    row = await asyncio.to_thread(services.db.images.stored_object, iid)
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
                lambda: jpeg_thumbnail(decode_rgb(original, THUMB_SIDE, services.settings.max_pixels), THUMB_SIDE)
            )
        except ValueError as exc:
            raise web.HTTPUnprocessableEntity(text=f"cannot make a thumbnail: {exc}") from None
        await asyncio.to_thread(services.store.put, key, body, "image/jpeg")
    return web.Response(body=body, content_type="image/jpeg", headers=headers)


def _not_one_image(name: str, ids: list[str]) -> web.Response:
    """404 for a file name no image has, or several have (listing them, to be asked for by id)."""
    if not ids:
        return json_response({"error": f"no image with the id or file name {name!r}"}, status=404)
    count = f"more than {NAMESAKES_LISTED}" if len(ids) > NAMESAKES_LISTED else str(len(ids))
    listed = ids[:NAMESAKES_LISTED]
    return json_response(
        {
            "error": f"ambiguous file name: {count} images are named {name!r}; ask for one by id, /cdn/show/<id>",
            "ids": listed,
        },
        status=404,
    )


async def recommend(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await json_body(request, "a JSON object of preferences")
    try:
        # Only a named user's preferences are read from the database; the rest is parsed in place.
        named = isinstance(body, dict) and body.get("user") is not None
        prepare = partial(service.prepare, services.db, body)
        asked = await asyncio.to_thread(prepare) if named else prepare()
    except ranking.PreferenceError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    except service.NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    # Wait for the text models only when there are words to resolve.
    resolver = await services.tag_resolver() if asked.prefs.tags else None
    embedder = await services.text_embedder() if asked.prefs.tags else None
    clip = (services.settings.clip_tag_threshold, services.clip_vocabulary)
    work = partial(service.recommend, services.index, asked, resolver, embedder, *clip)
    # What the gateway's replica answers alone (no user, no words for a model to resolve, the
    # replica caught up) is 1-3 ms of CPU: done here, without the hop to a thread and back that
    # costs an eighth of that (measured, docs/benchmarks.md). Anything that may wait on I/O or a
    # model goes to a thread.
    words_known = not asked.prefs.tags or (
        embedder is None and (resolver is None or resolver.remembers(asked.prefs.tags))
    )
    answers_now = getattr(services.index, "answers_now", None)
    if not named and words_known and answers_now is not None and answers_now():
        return json_response(work())
    return json_response(await asyncio.to_thread(work))


async def similar(request: web.Request) -> web.Response:
    iid = image_id_param(request)
    limit = int_param(request.query, "limit", 10, 1, ranking.MAX_LIMIT)
    try:
        return json_response(await asyncio.to_thread(service.similar, request.app[SERVICES].index, iid, limit))
    except service.NotFound as exc:
        raise web.HTTPNotFound(text=str(exc)) from None


async def evaluate(request: web.Request) -> web.Response:
    """GET /recommend/evaluate?k=10&queries=1000[&keyword=…]: the conversions replayed (see evaluation)."""
    services = request.app[SERVICES]
    k = int_param(request.query, "k", 10, 1, ranking.MAX_LIMIT)
    max_queries = int_param(request.query, "queries", 1000, 1, 100_000)
    keywords = request.query.getall("keyword", []) or None
    resolver = await services.tag_resolver()
    return json_response(
        await asyncio.to_thread(evaluation.evaluate, services.db, services.index, resolver, k, max_queries, 0, keywords)
    )


async def search(request: web.Request) -> web.Response:
    """GET /recommend/search?q=free text&limit=10."""
    services = request.app[SERVICES]
    text = " ".join(request.query.get("q", "").split())
    if not text or len(text) > 200:
        raise web.HTTPBadRequest(text="q must be 1-200 characters of text")
    limit = int_param(request.query, "limit", 10, 1, ranking.MAX_LIMIT)
    resolver, embedder = await services.tag_resolver(), await services.text_embedder()
    return json_response(
        await asyncio.to_thread(service.search, services.db, services.index, text, limit, resolver, embedder)
    )
