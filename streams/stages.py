"""The enrichment agents: arrival → EXIF → detection → colours → embedding → sinks.

Each agent reads one topic and writes the next; the work itself is the pure code in
`streams.enrich`, run in a thread so the consumer's heartbeats keep flowing. Offsets are
committed only after the next event is flushed (Faust's at-least-once), and every sink is
an upsert keyed by image id, so a replay changes nothing.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from functools import cached_property

from connectors.objectstore import ObjectStore
from connectors.postgres import Database
from connectors.unsplash import metadata
from connectors.vectors import open_index
from schemas.records import ColorsExtracted, DeadLetter, ExifExtracted, ImageEnriched, ObjectsDetected
from streams.enrich import BadImage, colors, embedding, exif, geo, images
from streams.enrich.clip import load_embedder
from streams.enrich.detect import load_detector
from streams.enrich.models import ModelUnavailable

from .app import (app, arrived, colors_extracted, dead_letters, enriched, exif_extracted, feedback,
                  objects_detected, settings)

log = logging.getLogger("viewfinder.stages")

RETRIES = 3
DETECT_DECODE_SIDE = round(settings.detr_size * 1333 / 800)  # DETR's own longest-side cap


class Resources:
    """Clients and models opened once per worker process, on first use."""

    def __init__(self, settings):
        self.settings = settings
        self._models: dict[str, object] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore.from_settings(self.settings)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def index(self):
        return open_index(self.settings)

    async def _model(self, what: str, load):
        """The loaded model, or None when its weights cannot be had (said once, clearly)."""
        async with self._locks.setdefault(what, asyncio.Lock()):
            if what not in self._models:
                try:
                    self._models[what] = await asyncio.to_thread(load)
                except ModelUnavailable as exc:
                    self._models[what] = None
                    log.error("%s unavailable, images will complete without it: %s", what, exc)
        return self._models[what]

    async def detector(self):
        s = self.settings
        return await self._model("object detection", lambda: load_detector(
            s.detr_model, s.detr_revision, s.detr_threshold, s.detr_size, s.model_load_timeout))

    async def embedder(self):
        s = self.settings

        def load():
            model = load_embedder(s.clip_model, s.clip_revision or None, s.model_load_timeout)
            if model.dim != s.clip_dim:
                raise ModelUnavailable(f"{s.clip_model} makes {model.dim}-dimensional embeddings but the collection "
                                       f"holds {s.clip_dim} (VIEWFINDER_CLIP_DIM)")
            return model
        return await self._model("image embedding", load)


resources = Resources(settings)


async def _with_retries(stage: str, event, work):
    """Run ``work``; bad input goes to the dead-letter topic at once, other errors after retries."""
    delay = 0.5
    for attempt in range(1, RETRIES + 1):
        try:
            return await work()
        except BadImage as exc:
            reason = str(exc)
            break
        except Exception as exc:  # storage hiccups and the like: try again before giving up
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("stage %s failed on %s (attempt %d/%d): %s", stage, event.id, attempt, RETRIES, reason)
            if attempt < RETRIES:
                await asyncio.sleep(delay)
                delay *= 4
    await dead_letters.send(key=event.id, value=DeadLetter(
        image_id=event.id, stage=stage, reason=reason, event=event.asdict(),
        failed_at=datetime.now(timezone.utc).isoformat()))
    return None


async def _original(event) -> bytes:
    return await asyncio.to_thread(resources.store.get, event.object_key)


async def _passed(event, stage: str) -> None:
    try:
        await asyncio.to_thread(resources.db.passed_stage, event.id, stage)
    except Exception as exc:  # progress reporting must never hold the pipeline up
        log.warning("cannot record progress of %s: %s", event.id, exc)


async def _run(stream, stage: str, compute, out_topic) -> None:
    async for event in stream:
        out = await _with_retries(stage, event, lambda: compute(event))
        if out is not None:
            await out_topic.send(key=event.id, value=out)
            await _passed(event, stage)


async def _exif(event) -> ExifExtracted:
    def run():
        result = exif.extract(data, settings.max_pixels)
        lat, lon = result.exif.get("Latitude"), result.exif.get("Longitude")
        return result, (geo.country(lat, lon) if lat is not None and lon is not None else None)
    data = await _original(event)
    result, country = await asyncio.to_thread(run)
    return ExifExtracted(**event.asdict(), width=result.width, height=result.height,
                         orientation=result.orientation, exif=result.exif, country=country)


async def _decode_for_detection(event):
    data = await _original(event)
    return await asyncio.to_thread(images.decode_rgb, data, DETECT_DECODE_SIDE, settings.max_pixels)


def _detect_all(detector, decoded: list) -> list[dict]:
    # On a CPU, batch 1 beats larger batches per image (padding, cache); a GPU wants them all.
    step = 1 if detector.device.type == "cpu" else len(decoded)
    return [tags for i in range(0, len(decoded), step) for tags in detector.detect(decoded[i:i + step])]


def _in_image_pixels(tags: dict, event, decoded) -> dict:
    """Boxes back into the displayed image's pixels: the detector saw a draft-decoded copy."""
    scale = event.width / decoded.width
    for tag in tags.values():
        tag["boxes"] = [[round(v * scale) for v in box] for box in tag["boxes"]]
    return tags


async def _detect_batch(batch: list) -> list:
    """ObjectsDetected per event (None where it went to the dead-letter topic)."""
    detector = await resources.detector()
    if detector is None:
        return [ObjectsDetected(**e.asdict(), tags=None, tags_status="unavailable") for e in batch]
    decoded = [await _with_retries("detect", e, lambda e=e: _decode_for_detection(e)) for e in batch]
    ready = [(e, d) for e, d in zip(batch, decoded) if d is not None]
    try:
        found = await asyncio.to_thread(_detect_all, detector, [d for _, d in ready])
    except Exception as exc:  # one image may spoil a batch: go one by one, each with its own retries
        log.warning("batch detection failed (%s); retrying images one at a time", exc)
        found = [await _with_retries("detect", e, lambda d=d: asyncio.to_thread(lambda: detector.detect([d])[0]))
                 for e, d in ready]
    results = {e.id: None if tags is None else ObjectsDetected(
        **e.asdict(), tags=_in_image_pixels(tags, e, d), tags_status="ok") for (e, d), tags in zip(ready, found)}
    return [results.get(e.id) for e in batch]


async def _colors(event) -> ColorsExtracted:
    data = await _original(event)

    def run():
        # One decode serves both: the CDN's thumbnail, stored once, and the colours.
        image = images.decode_rgb(data, max_side=images.THUMB_SIDE, max_pixels=settings.max_pixels)
        resources.store.put(images.thumbnail_key(event.id), images.jpeg_thumbnail(image, images.THUMB_SIDE),
                            "image/jpeg")
        return [s.as_dict() for s in colors.dominant_colors(image)]
    return ColorsExtracted(**event.asdict(), colors=await asyncio.to_thread(run))


async def _embed(event) -> ImageEnriched:
    vectors = await asyncio.to_thread(embedding.vectors, event.colors)
    embedder = await resources.embedder()
    if embedder is not None:
        # CLIP looks at 224 pixels: the thumbnail the colours stage stored is plenty, and a
        # fraction of the original to fetch and decode.
        thumbnail = await asyncio.to_thread(resources.store.get, images.thumbnail_key(event.id))

        def run():
            return embedder.embed_images([images.decode_rgb(thumbnail, None, settings.max_pixels)])[0]
        vectors["clip"] = await asyncio.to_thread(run)
    return ImageEnriched(**event.asdict(), vectors=vectors,
                         embedding_status="ok" if embedder is not None else "unavailable")


@app.agent(arrived, name="viewfinder.stage.exif")
async def extract_exif(stream):
    await _run(stream, "exif", _exif, exif_extracted)


@app.agent(exif_extracted, name="viewfinder.stage.detect")
async def detect_objects(stream):
    # Faust acks a batch's events only after the loop body is done with them.
    async for batch in stream.take(settings.detect_batch, within=settings.detect_batch_wait):
        for event, out in zip(batch, await _detect_batch(batch)):
            if out is not None:
                await objects_detected.send(key=event.id, value=out)
                await _passed(event, "detect")


@app.agent(objects_detected, name="viewfinder.stage.colors")
async def extract_colors(stream):
    await _run(stream, "colors", _colors, colors_extracted)


@app.agent(colors_extracted, name="viewfinder.stage.embed")
async def embed(stream):
    await _run(stream, "embed", _embed, enriched)


@app.agent(enriched, name="viewfinder.sink.images")
async def sink_images(stream):
    async for event in stream:
        async def work():
            # Vectors first, PostgreSQL last: status 'enriched' means everything is stored.
            keywords = (await asyncio.to_thread(metadata.keywords_of_image, resources.db, event.id)
                        if event.source == "unsplash" else [])
            point = {"id": event.id, "vectors": event.vectors, "payload": embedding.payload(event, keywords)}
            await asyncio.to_thread(resources.index.upsert, [point])
            await asyncio.to_thread(resources.db.save_enriched, event)
        await _with_retries("sink", event, work)


async def _persist(what: str, save, item) -> None:
    """PostgreSQL is the only place ``item`` can go: keep trying a while, then say so loudly."""
    for attempt in range(RETRIES):
        try:
            await asyncio.to_thread(save, item)
            return
        except Exception as exc:
            log.error("cannot store %s (attempt %d/%d): %s", what, attempt + 1, RETRIES, exc)
            await asyncio.sleep(2 ** attempt)


@app.agent(dead_letters, name="viewfinder.sink.deadletters")
async def sink_dead_letters(stream):
    async for letter in stream:
        log.warning("dead letter: image %s failed in %s: %s", letter.image_id, letter.stage, letter.reason)
        await _persist(f"dead letter for {letter.image_id}", resources.db.save_dead_letter, letter)


@app.agent(feedback, name="viewfinder.sink.feedback")
async def fold_feedback(stream):
    """Likes and dislikes into each user's profile in PostgreSQL."""
    async for event in stream:
        await _persist(f"feedback {event.event_id}", resources.db.apply_feedback, event)
