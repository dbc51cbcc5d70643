"""The gather service: uploads (original bytes to the object store unchanged, EXIF and all,
a row in PostgreSQL, an arrival event on Kafka), Unsplash dataset runs, and their progress."""
from __future__ import annotations

import asyncio

from aiohttp import web

from connectors.unsplash import metadata
from connectors.unsplash.job import GatherJob
from streams.enrich import BadImage

from .http import int_param, json_body, json_response

MAX_FILES = 100


async def uploads(request: web.Request) -> web.Response:
    services = request.app["services"]
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPBadRequest(text="send multipart/form-data with one or more `files` fields")
    reader = await request.multipart()
    accepted, rejected = [], []
    limit = services.settings.max_upload_bytes
    while (part := await reader.next()) is not None:
        if part.name != "files":
            await part.release()
            continue
        if len(accepted) + len(rejected) >= MAX_FILES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FILES, actual_size=MAX_FILES + 1,
                                                text=f"at most {MAX_FILES} files per request")
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
            iid, duplicate = await asyncio.to_thread(services.ingestor.accept, bytes(data), part.filename, "upload")
        except BadImage as exc:
            rejected.append({"filename": part.filename, "reason": str(exc)})
            continue
        accepted.append({"id": iid, "filename": part.filename, "duplicate": duplicate})
    if accepted:
        await asyncio.to_thread(services.publisher.flush)
    if not accepted and not rejected:
        raise web.HTTPBadRequest(text="no `files` field in the upload")
    body = {"ids": [a["id"] for a in accepted], "images": accepted, "rejected": rejected}
    return web.json_response(body, status=202 if accepted else 422)


async def download(request: web.Request) -> web.Response:
    """Start gathering the Unsplash Lite dataset (a folder on the gateway's machine or a zip URL)."""
    services, state = request.app["services"], request.app["gather"]
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/json":
        body = await json_body(request, optional=True)
        params.update({k: v for k, v in body.items() if v is not None})
    location = params.get("dataset")
    if not location:
        raise web.HTTPBadRequest(text="say which dataset: ?dataset=FOLDER or the URL of its zip")
    running = state.get("task")
    if running is not None and not running.done():
        return json_response({"error": "a gathering run is in progress", "gather": state["job"].progress.snapshot()},
                             status=409)
    job = GatherJob(services.db, services.ingestor, services.settings.data_dir / "datasets", str(location),
                    limit=int_param(params, "limit", None, 1, 10_000_000),
                    width=int_param(params, "width", 1080, 16, 8000),
                    concurrency=int_param(params, "concurrency", 16, 1, 256),
                    on_metadata=services.refresh_vocabulary)
    state["job"], state["task"] = job, asyncio.create_task(job.run())
    return json_response({"gather": job.progress.snapshot()}, status=202)


async def status(request: web.Request) -> web.Response:
    services, state = request.app["services"], request.app["gather"]
    job = state.get("job")
    db = services.db
    pipeline, downloads, failures, dead = await asyncio.gather(
        asyncio.to_thread(db.pipeline_status), asyncio.to_thread(metadata.download_counts, db),
        asyncio.to_thread(metadata.failures, db), asyncio.to_thread(db.dead_letters, 20))
    return json_response({"gather": job.progress.snapshot() if job else None, "pipeline": pipeline,
                          "downloads": {**downloads, "recent_failures": failures}, "dead_letters": dead})


async def dead_letters(request: web.Request) -> web.Response:
    services = request.app["services"]
    limit = int_param(request.query, "limit", 100, 1, 10_000)
    rows = await asyncio.to_thread(services.db.dead_letters, limit, request.query.get("stage") or None)
    return json_response({"dead_letters": rows, "count": len(rows)})


async def retry_dead_letters(request: web.Request) -> web.Response:
    """Body (optional): {"stage": "detect"} or {"ids": [...]}."""
    services = request.app["services"]
    body = await json_body(request, optional=True)
    if not (body.get("ids") is None or isinstance(body["ids"], list)):
        raise web.HTTPBadRequest(text='expected {"stage": NAME} or {"ids": [IMAGE IDS]}')
    retried = await asyncio.to_thread(services.ingestor.retry_failed, body.get("stage") or None, body.get("ids"))
    return json_response({"retried": retried})
