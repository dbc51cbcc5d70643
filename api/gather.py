"""The gather service: uploads (original bytes to the object store unchanged, EXIF and all,
a row in PostgreSQL, an arrival event on Kafka), Unsplash dataset runs, and their progress."""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, web

from connectors.errors import Unavailable
from connectors.ingest import Arrival
from connectors.unsplash.job import RunInProgress
from connectors.unsplash.sources import SourceRefused
from core.ids import is_image_id
from core.images import BadImage
from schemas.pipeline import STAGE_NAMES

from .http import int_param, json_body, json_response
from .services import DATASET_RUN, SERVICES

MAX_FILES = 100
UPLOAD_FLUSH_S = 10  # how long an upload waits for the broker before answering 503


async def uploads(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPBadRequest(text="send multipart/form-data with one or more `files` fields")
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:  # no boundary, or one aiohttp cannot use
        raise web.HTTPBadRequest(text=f"malformed multipart body: {exc}") from None
    accepted: list[dict] = []
    rejected: list[dict] = []
    arrivals: list[Arrival] = []
    limit = services.settings.max_upload_bytes
    while (part := await _next_part(reader)) is not None:
        if not isinstance(part, BodyPartReader):  # a nested multipart is no file
            await part.release()
            continue
        if part.name != "files":
            await part.release()
            continue
        if len(accepted) + len(rejected) >= MAX_FILES:
            raise web.HTTPRequestEntityTooLarge(
                max_size=MAX_FILES, actual_size=MAX_FILES + 1, text=f"at most {MAX_FILES} files per request"
            )
        if "\x00" in (part.filename or ""):  # PostgreSQL text cannot hold NUL
            await part.release()
            rejected.append({"filename": part.filename, "reason": "a file name may not contain NUL characters"})
            continue
        data = bytearray()
        while chunk := await part.read_chunk(1 << 20):
            data.extend(chunk)
            if len(data) > limit:
                break
        if len(data) > limit:
            await part.release()
            rejected.append({"filename": part.filename, "reason": f"file larger than {limit} bytes"})
            continue
        try:
            arrival = await asyncio.to_thread(services.ingestor.store_arrival, bytes(data), part.filename, "upload")
        except BadImage as exc:
            rejected.append({"filename": part.filename, "reason": str(exc)})
            continue
        except BaseException:
            await asyncio.to_thread(services.ingestor.withdraw, arrivals)  # an upload lands whole or not at all
            raise
        arrivals.append(arrival)
        accepted.append({"id": arrival.id, "filename": part.filename, "duplicate": arrival.prior is not None})
    if arrivals:
        await _announce(services, arrivals)
    if not accepted and not rejected:
        raise web.HTTPBadRequest(text="no `files` field in the upload")
    body: dict[str, object] = {"ids": [a["id"] for a in accepted], "images": accepted, "rejected": rejected}
    if not accepted:  # an error like every other: {"error"}, with the reasons per file beside it
        body["error"] = f"every file was refused ({len(rejected)}); `rejected` says why"
    return json_response(body, status=202 if accepted else 422)


async def _announce(services, arrivals: list[Arrival]) -> None:
    """Publish the arrivals and see them delivered, or withdraw them and answer 503: the client
    is told the upload was accepted only once its events are on the broker."""
    async with services.publishing:  # one request's events at a time: a purge must not drop another's

        def publish() -> None:
            services.ingestor.announce(arrivals)
            services.publisher.flush(UPLOAD_FLUSH_S)

        try:
            await asyncio.to_thread(publish)
        except BaseException as exc:
            await asyncio.to_thread(services.publisher.purge)
            await asyncio.to_thread(services.ingestor.withdraw, arrivals)
            raise Unavailable(f"the broker did not take the upload: {exc}") from None


async def _next_part(reader):
    try:
        return await reader.next()
    except (ValueError, AssertionError) as exc:  # a part that breaks the multipart format
        raise web.HTTPBadRequest(text=f"malformed multipart body: {exc}") from None


async def download(request: web.Request) -> web.Response:
    """Start gathering the Unsplash Lite dataset (a folder on the gateway's machine or a zip URL)."""
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/json":
        body = await json_body(request, optional=True)
        params.update({k: v for k, v in body.items() if v is not None})
    location = params.get("dataset")
    if not location:
        raise web.HTTPBadRequest(text="say which dataset: ?dataset=FOLDER or the URL of its zip")
    try:
        started = await request.app[DATASET_RUN].start(
            str(location),
            limit=int_param(params, "limit", None, 1, 10_000_000),
            width=int_param(params, "width", 1080, 16, 8000),
            concurrency=int_param(params, "concurrency", 16, 1, 256),
        )
    except SourceRefused as exc:  # a folder outside the allowed dirs, a URL off the allow-list
        raise web.HTTPBadRequest(text=str(exc)) from None
    except RunInProgress as exc:
        return json_response({"error": str(exc), "gather": exc.progress}, status=409)
    return json_response({"gather": started}, status=202)


async def status(request: web.Request) -> web.Response:
    db = request.app[SERVICES].db
    pipeline, downloads, failures, dead = await asyncio.gather(
        asyncio.to_thread(db.images.pipeline_status),
        asyncio.to_thread(db.unsplash.download_counts),
        asyncio.to_thread(db.unsplash.failures),
        asyncio.to_thread(db.images.dead_letters, 20),
    )
    return json_response(
        {
            "gather": await asyncio.to_thread(request.app[DATASET_RUN].status),
            "pipeline": pipeline,
            "downloads": {**downloads, "recent_failures": failures},
            "dead_letters": dead,
        }
    )


async def dead_letters(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    limit = int_param(request.query, "limit", 100, 1, 10_000)
    rows = await asyncio.to_thread(services.db.images.dead_letters, limit, _stage(request.query.get("stage")))
    return json_response({"dead_letters": rows, "count": len(rows)})


async def retry_dead_letters(request: web.Request) -> web.Response:
    """Body (optional): {"stage": "detect"} or {"ids": [...]}."""
    services = request.app[SERVICES]
    body = await json_body(request, optional=True)
    ids = body.get("ids")
    if not (ids is None or (isinstance(ids, list) and all(map(is_image_id, ids)))):
        raise web.HTTPBadRequest(text='expected {"stage": NAME} or {"ids": [IMAGE IDS]}')
    retried = await asyncio.to_thread(services.ingestor.retry_failed, _stage(body.get("stage")), ids)
    return json_response({"retried": retried})


def _stage(name) -> str | None:
    if name in (None, ""):
        return None
    if name not in STAGE_NAMES:
        raise web.HTTPBadRequest(text=f"stage must be one of {', '.join(STAGE_NAMES)}, got {name!r}")
    return name
