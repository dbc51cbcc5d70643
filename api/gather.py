"""Uploads: original bytes to the object store unchanged (EXIF and all), a row in
PostgreSQL, an arrival event on Kafka."""
from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone

from aiohttp import web

from schemas.records import ImageArrived
from streams.enrich import BadImage
from streams.enrich.images import identify

CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif",
                 "TIFF": "image/tiff", "BMP": "image/bmp", "MPO": "image/jpeg"}
MAX_FILES = 100


def image_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def accept(services, data: bytes, filename: str | None, source: str = "upload") -> tuple[str, bool]:
    """Store one image and announce it. Returns (id, is_new). Raises BadImage."""
    s = services.settings
    if len(data) > s.max_upload_bytes:
        raise BadImage(f"file larger than {s.max_upload_bytes} bytes")
    fmt, _, _ = identify(data, s.max_pixels)
    content_type = CONTENT_TYPES.get(fmt)
    if content_type is None:
        raise BadImage(f"unsupported image format {fmt}")
    iid = image_id(data)
    key = f"originals/{iid}"
    if not services.store.exists(key):
        services.store.put(key, data, content_type)
    event = ImageArrived(id=iid, object_key=key, source=source, filename=filename, content_type=content_type,
                         size=len(data), arrived_at=datetime.now(timezone.utc).isoformat())
    is_new = services.db.record_arrival(event)
    if is_new:
        services.publisher.publish("viewfinder.images.arrived", iid, event)
    return iid, is_new


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
            iid, is_new = await asyncio.to_thread(accept, services, bytes(data), part.filename)
        except BadImage as exc:
            rejected.append({"filename": part.filename, "reason": str(exc)})
            continue
        accepted.append({"id": iid, "filename": part.filename, "duplicate": not is_new})
    if accepted:
        await asyncio.to_thread(services.publisher.flush)
    if not accepted and not rejected:
        raise web.HTTPBadRequest(text="no `files` field in the upload")
    body = {"ids": [a["id"] for a in accepted], "images": accepted, "rejected": rejected}
    return web.json_response(body, status=202 if accepted else 422)
