"""The enrichment agents, one per stage of `schemas.pipeline.STAGES`, and the two side sinks
(dead letters, feedback).

Each agent reads its stage's topic and writes the next; the work itself is the pure code in
`core`, `inference` and `streams.enrich`, run in a thread so the consumer's heartbeats keep
flowing. Faust commits an offset only after the agent is done with the event, and every sink
is an upsert keyed by image id, so a replay changes nothing (at-least-once).

Failures: bad input goes to the dead-letter topic at once, with the reason; an error of the
event's own (a bug, a value PostgreSQL refuses) after a few tries. A store that cannot be
reached is no reason to give an image up: the agent keeps trying with capped backoff, the
consumer stays in its group, and nothing is acknowledged before it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from connectors.errors import unreachable
from core import exif, images, perceptual
from core.images import BadImage
from schemas.pipeline import DEAD_LETTERS, FEEDBACK, STAGES
from schemas.pipeline import passed as progress
from schemas.records import ColorsExtracted, DeadLetter, ExifExtracted, ImageEnriched, ObjectsDetected
from streams.enrich import colors, embedding, geo

from .resources import Resources

log = logging.getLogger("viewfinder.stages")

GPU_DETECT_BATCH = 16
RETRIES = 3  # tries of an event whose own processing fails, before its dead letter
FIRST_DELAY = 0.5  # seconds before the second try; doubled each time ...
MAX_DELAY = 30.0  # ... up to this, for stores that are down
PROGRESS_EVERY = 0.25  # seconds between writes of the stages' progress


def backoff(attempt: int) -> float:
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1))


async def until_stored(what: str, save: Callable[[], object]) -> None:
    """``save()`` in a thread until it succeeds: PostgreSQL is the only place the item can go."""
    attempt = 0
    while True:
        try:
            await asyncio.to_thread(save)
            return
        except Exception as exc:
            attempt += 1
            log.error("cannot store %s (attempt %d, retrying in %.1fs): %s", what, attempt, backoff(attempt), exc)
            await asyncio.sleep(backoff(attempt))


async def deliver(channel, messages: list[tuple[str, object]]) -> None:
    """Each (key, value) sent on ``channel`` and acknowledged by the broker, the failed ones sent
    again until they are: Faust's ``send`` only hands a message to the producer, and one the
    broker then refuses (a restarted broker recreating its topics) would be lost with the event
    already acknowledged."""
    attempt = 0
    while messages:
        sent = [await channel.send(key=key, value=value) for key, value in messages]
        outcomes = await asyncio.gather(*sent, return_exceptions=True)
        failed = [(m, o) for m, o in zip(messages, outcomes) if isinstance(o, Exception)]
        if not failed:
            return
        attempt += 1
        log.error(
            "%d message(s) to %s not delivered (attempt %d, again in %.1fs): %s",
            len(failed),
            channel,
            attempt,
            backoff(attempt),
            failed[0][1],
        )
        messages = [m for m, _ in failed]
        await asyncio.sleep(backoff(attempt))


class Stages:
    """Each stage's work on one event (or a batch), bound to the worker's resources and to the
    channel dead letters go to."""

    def __init__(self, resources: Resources, dead_letters):
        self.resources, self.dead_letters = resources, dead_letters
        self.settings = resources.settings
        self.detect_decode_side = round(self.settings.detr_size * 1333 / 800)  # DETR's own longest-side cap
        self._passed: dict[str, str] = {}  # image id → the last stage it passed, not yet written
        self._progress: asyncio.Future | None = None

    async def attempt(self, stage: str, event, work: Callable[[], Awaitable]):
        """``work()``'s result, or None once the event has gone to the dead-letter topic."""
        attempt = 0
        while True:
            try:
                return await work()
            except BadImage as exc:
                reason = str(exc)
                break
            except Exception as exc:
                attempt += 1
                reason = f"{type(exc).__name__}: {exc}"
                if not unreachable(exc) and attempt >= RETRIES:
                    break
                log.warning("stage %s failed on %s (attempt %d): %s", stage, event.id, attempt, reason)
                await asyncio.sleep(backoff(attempt))
        letter = DeadLetter(
            image_id=event.id, stage=stage, reason=reason, event=event.asdict(), failed_at=datetime.now(UTC).isoformat()
        )
        await deliver(self.dead_letters, [(event.id, letter)])
        return None

    def passed(self, event, stage: str) -> None:
        """Progress for the status counts, written for all images at once every PROGRESS_EVERY
        seconds: a round trip to PostgreSQL per image and stage cost the pipeline more CPU than
        its thumbnails. Lost in a crash, it is made good by the image's next stage or its sink."""
        known = self._passed.get(event.id)
        if known is None or progress(stage) > progress(known):
            self._passed[event.id] = stage
        if self._progress is None or self._progress.done():
            self._progress = asyncio.ensure_future(self._write_progress())

    async def _write_progress(self) -> None:
        await asyncio.sleep(PROGRESS_EVERY)  # a batching window: what the stages pass meanwhile joins
        batch, self._passed = self._passed, {}
        try:
            await asyncio.to_thread(self.resources.db.images.passed_stages, batch)
        except Exception as exc:  # progress reporting must never hold the pipeline up
            log.warning("cannot record the progress of %d image(s): %s", len(batch), exc)

    async def _original(self, event) -> bytes:
        return await asyncio.to_thread(self.resources.store.get, event.object_key)

    # -- the stages ------------------------------------------------------------------
    async def exif(self, event) -> ExifExtracted:
        def run():
            result = exif.extract(data, self.settings.max_pixels)
            lat, lon = result.exif.get("Latitude"), result.exif.get("Longitude")
            return result, (geo.country(lat, lon) if lat is not None and lon is not None else None)

        data = await self._original(event)
        result, country = await asyncio.to_thread(run)
        return ExifExtracted(
            **event.asdict(),
            width=result.width,
            height=result.height,
            orientation=result.orientation,
            exif=result.exif,
            country=country,
        )

    async def detect(self, batch: list) -> list:
        """ObjectsDetected per event (None where it went to the dead-letter topic)."""
        detector = await self.resources.detector()
        if detector is None:
            return [ObjectsDetected(**e.asdict(), tags=None, tags_status="unavailable") for e in batch]

        async def decode(event):
            data = await self._original(event)
            return await asyncio.to_thread(images.decode_rgb, data, self.detect_decode_side, self.settings.max_pixels)

        decoded = [await self.attempt("detect", e, partial(decode, e)) for e in batch]
        ready = [(e, d) for e, d in zip(batch, decoded) if d is not None]
        try:
            found = await asyncio.to_thread(_detect_all, detector, [d for _, d in ready])
        except Exception as exc:  # one image may spoil a batch: go one by one, each with its own retries
            log.warning("batch detection failed (%s); retrying images one at a time", exc)
            found = [
                await self.attempt("detect", e, partial(asyncio.to_thread, _detect_one, detector, d)) for e, d in ready
            ]
        results = {
            e.id: None
            if tags is None
            else ObjectsDetected(**e.asdict(), tags=_in_image_pixels(tags, e, d), tags_status="ok")
            for (e, d), tags in zip(ready, found)
        }
        return [results.get(e.id) for e in batch]

    async def colors(self, event) -> ColorsExtracted:
        data = await self._original(event)
        store, max_pixels = self.resources.store, self.settings.max_pixels

        def run():
            # One decode serves both: the CDN's thumbnail, stored once, and the colours.
            image = images.decode_rgb(data, max_side=images.THUMB_SIDE, max_pixels=max_pixels)
            store.put(images.thumbnail_key(event.id), images.jpeg_thumbnail(image, images.THUMB_SIDE), "image/jpeg")
            return [s.as_dict() for s in colors.dominant_colors(image)], perceptual.phash(image)

        found, phash = await asyncio.to_thread(run)
        return ColorsExtracted(**event.asdict(), colors=found, phash=phash)

    async def embed(self, event) -> ImageEnriched:
        vectors = await asyncio.to_thread(embedding.vectors, event.colors)
        embedder = await self.resources.embedder()
        if embedder is not None:
            vocabulary = await self.resources.clip_vocabulary()
            # CLIP looks at 224 pixels: the thumbnail the colours stage stored is plenty, and a
            # fraction of the original to fetch and decode.
            thumbnail = await asyncio.to_thread(self.resources.store.get, images.thumbnail_key(event.id))

            def run():
                vector = embedder.embed_images([images.decode_rgb(thumbnail, None, self.settings.max_pixels)])[0]
                s = self.settings
                return vector, embedder.labels_of([vector], vocabulary, s.clip_tag_threshold, s.clip_tag_limit)[0]

            vectors["clip"], clip_tags = await asyncio.to_thread(run)
            return ImageEnriched(**event.asdict(), vectors=vectors, embedding_status="ok", clip_tags=clip_tags)
        return ImageEnriched(**event.asdict(), vectors=vectors, embedding_status="unavailable")

    async def sink(self, batch: list) -> list:
        """The events, once stored: a batch's vectors in one upsert, then their rows in one
        PostgreSQL transaction (status 'enriched' means everything is stored). One event that
        spoils the batch is found by storing them one by one, each with its own tries."""
        try:
            await self._until_reachable(partial(self._store, batch))
            return batch
        except Exception as exc:
            log.warning("storing a batch of %d failed (%s); storing its images one at a time", len(batch), exc)
            return [await self.attempt("sink", e, partial(self._store_one, e)) for e in batch]

    async def _store_one(self, event) -> ImageEnriched:
        await self._store([event])
        return event

    async def _store(self, events: list) -> None:
        db, index = self.resources.db, self.resources.index
        unsplash = [e.id for e in events if e.source == "unsplash"]
        keywords = await asyncio.to_thread(db.unsplash.keywords_of_images, unsplash) if unsplash else {}
        points = [
            {"id": e.id, "vectors": e.vectors, "payload": embedding.payload(e, keywords.get(e.id, []))} for e in events
        ]
        await asyncio.to_thread(index.upsert, points)
        await asyncio.to_thread(db.images.save_enriched_many, events)

    async def _until_reachable(self, work: Callable[[], Awaitable]):
        """``work()``, tried again for as long as a store is unreachable; other errors raise."""
        attempt = 0
        while True:
            try:
                return await work()
            except Exception as exc:
                if not unreachable(exc):
                    raise
                attempt += 1
                log.warning("a store is unreachable (attempt %d): %s", attempt, exc)
                await asyncio.sleep(backoff(attempt))

    async def dead_letter(self, letter) -> None:
        log.warning("dead letter: image %s failed in %s: %s", letter.image_id, letter.stage, letter.reason)
        await until_stored(
            f"dead letter for {letter.image_id}", lambda: self.resources.db.images.save_dead_letter(letter)
        )

    async def feedback(self, event) -> None:
        """A like or dislike folded into the user's profile."""
        await until_stored(f"feedback {event.event_id}", lambda: self.resources.db.users.apply_feedback(event))


def _detect_all(detector, decoded: list) -> list[dict]:
    # On a CPU, batch 1 beats larger batches per image (padding, cache); a GPU wants them all.
    step = 1 if detector.plan.device == "cpu" else len(decoded)
    return [tags for i in range(0, len(decoded), step) for tags in detector.detect(decoded[i : i + step])]


def detection_batch(plan) -> int:
    """A GPU wants batches; a CPU runs one image at a time anyway (`_detect_all`), and a batch
    taken whole would hold every image of it from the next stages until the last is detected."""
    return GPU_DETECT_BATCH if plan.device == "cuda" else 1


def _detect_one(detector, decoded) -> dict:
    return detector.detect([decoded])[0]


def _in_image_pixels(tags: dict, event, decoded) -> dict:
    """Boxes back into the displayed image's pixels: the detector saw a draft-decoded copy."""
    scale = event.width / decoded.width
    for tag in tags.values():
        tag["boxes"] = [[round(v * scale) for v in box] for box in tag["boxes"]]
    return tags


# -- agents ------------------------------------------------------------------------------


def _each(stages: Stages, name: str, compute, out):
    async def agent(stream):
        async for event in stream:
            result = await stages.attempt(name, event, partial(compute, event))
            # None: dead-lettered.
            if result is not None and out is not None:
                await deliver(out, [(event.id, result)])
                stages.passed(event, name)

    return agent


def _batches(stages: Stages, name: str, compute, out, size: int, within: float):
    async def agent(stream):
        # Faust acks a batch's events only after the loop body is done with them.
        async for batch in stream.take(size, within=within):
            done = [(event, result) for event, result in zip(batch, await compute(batch)) if result is not None]
            if out is not None:  # None: dead-lettered; the sink sends nothing on
                await deliver(out, [(event.id, result) for event, result in done])
                for event, _ in done:
                    stages.passed(event, name)

    return agent


def _side(handle):
    async def agent(stream):
        async for item in stream:
            await handle(item)

    return agent


def register(app, channels: dict, resources: Resources) -> dict:
    """Every agent of the worker on ``app``, reading and writing ``channels`` (topic name →
    channel: the app's topics, or in-memory channels in tests). Returns name → agent."""
    stages = Stages(resources, channels[DEAD_LETTERS.name])
    settings = resources.settings
    # Detection batches for the GPU, the sink for fewer, larger writes; the CPU stages overlap.
    detect_batch = settings.detect_batch or detection_batch(resources.plan)
    batched = {
        "detect": (detect_batch, settings.detect_batch_wait),
        "sink": (settings.sink_batch, settings.detect_batch_wait),
    }
    concurrent = {"exif": settings.stage_concurrency, "colors": settings.stage_concurrency}
    if detect_batch == 1:
        # One image in the model (which runs one forward pass at a time), the next being fetched,
        # decoded and preprocessed on the other core meanwhile.
        concurrent["detect"] = 2
    agents = {}
    for stage in STAGES:
        out = channels[stage.produces.name] if stage.produces else None
        compute = getattr(stages, stage.name)
        if stage.name in batched:
            fun = _batches(stages, stage.name, compute, out, *batched[stage.name])
        else:
            fun = _each(stages, stage.name, compute, out)
        agents[stage.name] = app.agent(
            channels[stage.consumes.name],
            name=f"viewfinder.stage.{stage.name}",
            concurrency=concurrent.get(stage.name, 1),
        )(fun)
    agents["deadletters"] = app.agent(channels[DEAD_LETTERS.name], name="viewfinder.sink.deadletters")(
        _side(stages.dead_letter)
    )
    agents["feedback"] = app.agent(channels[FEEDBACK.name], name="viewfinder.sink.feedback")(_side(stages.feedback))
    return agents
