"""Each stage's agent in Faust's test context: what it sends on, what it dead-letters, what it
stores; real S3, PostgreSQL and a vector index of their own."""

from __future__ import annotations

import asyncio
import uuid

from connectors.vectors import open_index
from core import images
from core.labels import union_labels
from schemas.pipeline import COLORS, DEAD_LETTERS, DETECTED, ENRICHED, EXIF
from schemas.records import ColorsExtracted, ExifExtracted, ImageArrived, ImageEnriched, ObjectsDetected
from tests import support
from tests.agents.conftest import Worker, run
from tests.support import poll
from tests.support.photos import Photo, jpeg


def arrival(worker, data: bytes, name: str) -> ImageArrived:
    """An image stored and recorded as the ingestor would, never published: only the test feeds it."""
    event = support.arrival(data, name, iid=uuid.uuid4().hex)  # fresh: tests share the stores
    worker.resources.store.put(event.object_key, data, "image/jpeg")
    worker.resources.db.images.record_arrival(event)
    return event


def test_exif_stage_sends_the_fields_on_and_records_progress(worker):
    photo = Photo("agent-exif.jpg", (200, 30, 30), (0, 0, 0), (240, 160), make="Nikon", gps=(48.8566, 2.3522, 35.0))
    event = arrival(worker, jpeg(photo), photo.name)

    async def go():
        async with worker.agents["exif"].test_context() as agent:
            await agent.put(key=event.id, value=event)
            sent = await worker.take(EXIF.name)
            # Progress is recorded after the send, by the agent: wait for it before stopping the agent.
            stage = lambda: worker.resources.db.images.get(event.id)["stage"] == 1
            await asyncio.to_thread(poll, stage, 30, 0.1, "progress past the first stage, exif")
            return sent

    key, out = run(go())
    assert key == event.id
    assert (out.width, out.height, out.orientation) == (240, 160, "landscape")
    assert out.exif["Make"] == "Nikon" and out.country == "France"


def test_progress_is_written_for_many_images_at_once_and_never_goes_back(worker):
    data = [jpeg(Photo(f"agent-progress-{i}.jpg", (30 * i, 90, 40), (0, 0, 0), (64, 48))) for i in range(3)]
    a, b, c = (arrival(worker, d, f"agent-progress-{i}.jpg") for i, d in enumerate(data))
    images_ = worker.resources.db.images
    images_.passed_stages({a.id: "colors", b.id: "exif"})
    images_.passed_stages({a.id: "exif", b.id: "detect"})  # a stays where it got to
    assert [images_.get(e.id)["stage"] for e in (a, b, c)] == [3, 2, 0]


def test_colors_stage_dead_letters_a_truncated_image_and_sends_nothing(worker):
    data = jpeg(Photo("agent-truncated.jpg", (10, 200, 10), (0, 0, 0), (500, 400)))[:1500]
    event = arrival(worker, data, "agent-truncated.jpg")
    detected = ObjectsDetected(
        **event.asdict(),
        width=500,
        height=400,
        orientation="landscape",
        exif={},
        country=None,
        tags=None,
        tags_status="unavailable",
    )

    async def go():
        async with worker.agents["colors"].test_context() as agent:
            await agent.put(key=event.id, value=detected)
            letter = await worker.take(DEAD_LETTERS.name)
            return letter, worker.nothing_sent(COLORS.name)

    (key, letter), nothing_sent = run(go())
    assert key == event.id and letter.stage == "colors" and "truncated" in letter.reason
    assert letter.event["id"] == event.id
    assert nothing_sent


def test_detect_stage_without_weights_marks_tags_unavailable(stores, tmp_path):
    worker = Worker(stores.replace(detr_model=str(tmp_path / "no-such-model")))
    try:
        data = jpeg(Photo("agent-nodetr.jpg", (20, 20, 200), (0, 0, 0), (120, 80)))
        event = arrival(worker, data, "agent-nodetr.jpg")
        exif = dict(event.asdict(), width=120, height=80, orientation="landscape", exif={}, country=None)

        async def go():
            async with worker.agents["detect"].test_context() as agent:
                await agent.put(key=event.id, value=ExifExtracted(**exif))
                return await worker.take(DETECTED.name)

        _, out = run(go())
        assert out.tags is None and out.tags_status == "unavailable"
    finally:
        worker.close()


def test_sink_stores_vectors_then_metadata_and_a_replay_changes_nothing(worker, stores):
    def enriched_event(name: str, rgb: tuple[int, int, int]) -> ImageEnriched:
        event = arrival(worker, jpeg(Photo(name, rgb, (0, 0, 0), (64, 48))), name)
        return ImageEnriched(
            **ColorsExtracted(
                **event.asdict(),
                width=64,
                height=48,
                orientation="landscape",
                exif={"Make": "Canon"},
                country=None,
                tags={"dog": {"count": 1, "score": 0.9, "boxes": [[0, 0, 10, 10]]}},
                tags_status="ok",
                colors=[{"hex": "#1ec81e", "coverage": 90.0, "name": "limegreen"}],
            ).asdict(),
            vectors={"palette": [1.0] + [0.0] * 124},
            embedding_status="unavailable",
        )

    first, sentinel = enriched_event("agent-sink.jpg", (30, 200, 30)), enriched_event("agent-sink-2.jpg", (9, 9, 9))
    index = open_index(stores)

    def stored(iid):
        return poll(
            lambda: (lambda r: r if r["status"] == "enriched" else None)(worker.resources.db.images.get(iid)),
            30,
            what=f"the sink to store {iid}",
        )

    async def go():
        async with worker.agents["sink"].test_context() as agent:
            await agent.put(key=first.id, value=first)
            before = await asyncio.to_thread(stored, first.id)
            await agent.put(key=first.id, value=first)  # the replay
            await agent.put(key=sentinel.id, value=sentinel)  # one agent, in order: the replay is done by then
            await asyncio.to_thread(stored, sentinel.id)
            return before, worker.nothing_sent(DEAD_LETTERS.name)

    try:
        before, nothing_sent = run(go())
        assert before["tags"]["dog"]["count"] == 1 and before["make"] == "Canon"
        assert worker.resources.db.images.get(first.id) == before  # enriched_at, tags, colours: all as they were
        assert index.vectors([first.id], "palette")[first.id][0] > 0.99
        assert nothing_sent  # no dead letter: both stored
    finally:
        index.close()


def test_embed_stage_labels_by_clip_zero_shot_and_the_sink_keeps_them(stores):
    # The tiny random CLIP spreads its probability thin: threshold 0 shows the mechanics.
    worker = Worker(stores.replace(clip_tag_threshold=0.0, clip_tag_limit=2))
    data = jpeg(Photo("agent-embed.jpg", (30, 90, 200), (0, 0, 0), (96, 64)))
    event = arrival(worker, data, "agent-embed.jpg")
    worker.resources.store.put(images.thumbnail_key(event.id), data, "image/jpeg")
    colored = ColorsExtracted(
        **event.asdict(),
        width=96,
        height=64,
        orientation="landscape",
        exif={},
        country=None,
        tags={"dog": {"count": 1, "score": 0.9, "boxes": [[0, 0, 10, 10]]}},
        tags_status="ok",
        colors=[{"hex": "#1e5ac8", "coverage": 90.0, "name": "royalblue"}],
        phash=12345,
    )

    async def go():
        async with worker.agents["embed"].test_context() as agent:
            await agent.put(key=colored.id, value=colored)
            _, enriched = await worker.take(ENRICHED.name)
        async with worker.agents["sink"].test_context() as agent:
            await agent.put(key=enriched.id, value=enriched)
            stored = lambda: (lambda r: r if r["status"] == "enriched" else None)(
                worker.resources.db.images.get(event.id)
            )
            return enriched, await asyncio.to_thread(poll, stored, 30, 0.1, "the sink to store it")

    index = open_index(stores)
    try:
        enriched, row = run(go())
        assert enriched.embedding_status == "ok" and len(enriched.vectors["clip"]) == support.TINY_CLIP_DIM
        vocabulary = run(worker.resources.clip_vocabulary())
        assert len(enriched.clip_tags) == 2 and set(enriched.clip_tags) <= set(vocabulary)
        assert all(0 < p <= 1 for p in enriched.clip_tags.values()) and sum(enriched.clip_tags.values()) <= 1
        assert row["clip_tags"] == enriched.clip_tags and row["phash"] == 12345
        payload = index.search("palette", enriched.vectors["palette"], {"tags": list(enriched.clip_tags)}, 5)
        mine = next(h["payload"] for h in payload if h["id"] == event.id)
        assert set(mine["tags"]) == {"dog", *enriched.clip_tags}
        assert mine["tag_sources"]["dog"] == ["detr"] and all(
            "clip" in mine["tag_sources"][label] for label in enriched.clip_tags
        )
    finally:
        index.close()
        worker.close()


def test_clip_may_also_call_an_image_by_the_datasets_commonest_keywords(stores):
    photo = f"agent-vocabulary-{uuid.uuid4().hex[:8]}"
    keywords = {"zzfjord-light": 3, "zzmoss-carpet": 2}  # keyword → how many photos have it
    worker = Worker(stores)
    with worker.resources.db.cursor() as cur:
        for keyword, photos in keywords.items():
            for n in range(photos):
                cur.execute(
                    "INSERT INTO unsplash_keywords (photo_id, keyword) VALUES (%s, %s)", (f"{photo}-{n}", keyword)
                )
    try:
        vocabulary = run(worker.resources.clip_vocabulary())
        assert vocabulary[: len(union_labels())] == union_labels()  # the curated labels first, as they were
        assert {"zzfjord-light", "zzmoss-carpet"} <= set(vocabulary) and len(vocabulary) == len(set(vocabulary))
        assert run(worker.resources.clip_vocabulary()) is vocabulary  # looked up once per VOCABULARY_TTL_S
        assert run(Worker(stores.replace(clip_keywords=0)).resources.clip_vocabulary()) == union_labels()
    finally:
        with worker.resources.db.cursor() as cur:
            cur.execute("DELETE FROM unsplash_keywords WHERE photo_id LIKE %s", (f"{photo}-%",))
