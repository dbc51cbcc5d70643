"""At-least-once delivery and idempotent sinks, on the real stack: replays, re-drives after
a broker restart, a worker killed mid-stream, a model that cannot be loaded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition

from connectors import kafka
from connectors.objectstore import open_store
from connectors.postgres import open_database
from connectors.vectors import open_index
from schemas.pipeline import TOPICS
from schemas.records import DeadLetter, ImageEnriched
from tests.support import arrival, poll, stack_settings
from tests.support.photos import Photo, jpeg
from viewfinder.embedded.process import free_port
from viewfinder.stack import Stack, redrive


def status(gateway, iid):
    response = gateway.get(f"/images/{iid}")
    return response.json()["status"] if response.status_code == 200 else None


def upload_photos(gateway, photos):
    response = gateway.post("/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos])
    assert response.status_code == 202, response.text
    return response.json()["ids"]


def test_replaying_an_enriched_event_changes_nothing(stack, gateway, db):
    [iid] = upload_photos(gateway, [Photo("replay.jpg", (10, 120, 200), (0, 0, 0), (200, 150), gps=(1.5, -2.5, 3))])
    poll(lambda: status(gateway, iid) == "enriched", 120, what="enrichment")
    before = gateway.get(f"/images/{iid}").json()
    index = open_index(stack)
    points = index.count()
    row = db.images.get(iid)
    event = ImageEnriched(
        id=iid,
        object_key=row["object_key"],
        source=row["source"],
        filename=row["filename"],
        content_type=row["content_type"],
        size=row["size_bytes"],
        arrived_at=row["arrived_at"].isoformat(),
        width=row["width"],
        height=row["height"],
        orientation=row["orientation"],
        exif=row["exif"],
        country=row["country"],
        tags={k: {"count": v["count"], "score": v["score"], "boxes": v["boxes"]} for k, v in row["tags"].items()},
        tags_status=row["tags_status"],
        colors=row["colors"],
        vectors={"palette": [1.0] + [0.0] * 124},
        embedding_status=row["embedding_status"],
    )
    for _ in range(2):
        db.images.save_enriched(event)
        index.upsert([{"id": iid, "vectors": event.vectors, "payload": {"orientation": row["orientation"]}}])
    after = gateway.get(f"/images/{iid}").json()
    assert after == before
    assert index.count() == points
    index.close()


def test_a_dead_letter_replayed_is_stored_once(db):
    letter = DeadLetter(
        image_id="f" * 32,
        stage="colors",
        reason="truncated image file",
        event={"id": "f" * 32},
        failed_at=datetime.now(UTC).isoformat(),
    )
    db.images.save_dead_letter(letter)
    db.images.save_dead_letter(letter)
    rows = [r for r in db.images.dead_letters(1000) if r["image_id"] == "f" * 32]
    assert len(rows) == 1 and rows[0]["attempts"] == 1 and rows[0]["stage"] == "colors"


def test_images_the_broker_forgot_are_redriven_from_postgres(stack, gateway, db):
    """What `viewfinder up` does after a restart of the in-memory broker."""
    data = jpeg(Photo("forgotten.jpg", (200, 200, 20), (0, 0, 0), (180, 120)))
    iid = "ab" * 16
    open_store(stack).put(f"originals/{iid}", data, "image/jpeg")
    forgotten = arrival(data, "forgotten.jpg", iid=iid, arrived_at=datetime.now(UTC) - timedelta(minutes=5))
    assert db.images.record_arrival(forgotten) is None  # new to the database, never published
    # Stuck for five minutes: the status page's lag says so.
    assert gateway.get("/gather/status").json()["pipeline"]["lag_seconds"] >= 299
    assert redrive(stack) >= 1
    poll(lambda: status(gateway, iid) == "enriched", 120, what="the re-driven image")


def test_a_worker_killed_mid_stream_loses_nothing(running_stack, gateway):
    photos = [Photo(f"kill-{i}.jpg", (40 * i, 200 - 20 * i, 90), (250, 250, 250), (220 + i, 160)) for i in range(8)]
    [worker] = [p for p in running_stack.processes if p.name.startswith("enrichment worker")]
    ids = upload_photos(gateway, photos)
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    running_stack.processes.remove(worker)
    running_stack.start_worker()
    poll(lambda: all(status(gateway, i) == "enriched" for i in ids), 180, interval=1, what="all images after the kill")


def test_cli_upload_prints_the_new_ids(stack):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cli.jpg"
        path.write_bytes(jpeg(Photo("cli.jpg", (90, 30, 200), (0, 0, 0), (150, 100))))
        out = subprocess.run(
            [sys.executable, "-m", "viewfinder.cli", "upload", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, **stack.to_env()},
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert len(body["ids"]) == 1 and body["images"][0]["filename"] == "cli.jpg"


def test_without_detector_weights_images_still_complete_and_data_outlives_restarts():
    """A second stack beside the first, with a model folder that does not exist; then the
    same data dir started again."""
    data_dir = Path(tempfile.mkdtemp(prefix="viewfinder-nomodel-"))
    data_dir.chmod(0o755)
    settings = stack_settings(
        data_dir, detr_model=str(data_dir / "no-such-model"), clip_model=str(data_dir / "no-such-clip")
    )
    stack = Stack(settings)
    try:
        started = stack.start()
        admin = {"Authorization": f"Bearer {stack.admin_key}"}
        with httpx.Client(base_url=started.gateway_url, headers=admin, timeout=60) as gateway:
            photos = [Photo(f"nm-{i}.jpg", (200, 30 * i, 30), (0, 0, 0), (160, 120)) for i in range(3)]
            ids = upload_photos(gateway, photos)
            poll(lambda: all(status(gateway, i) == "enriched" for i in ids), 120, what="images without a detector")
            for iid in ids:
                image = gateway.get(f"/images/{iid}").json()
                assert image["tags_status"] == "unavailable" and image["tags"] is None
                assert image["embedding_status"] == "unavailable"
                assert image["colors"] and image["exif"]
        log = (data_dir / "logs" / "worker-1.log").read_text()
        assert log.count("object detection unavailable") == 1 and "no-such-model" in log
        assert log.count("image embedding unavailable") == 1 and "no-such-clip" in log
        stack.stop()

        # The stores alone, on the same data dir: what they kept is what the gateway would serve.
        stack = Stack(settings.replace(port=free_port()))
        again = stack.start(with_app=False)
        db, store, index = open_database(again, maxconn=1), open_store(again), open_index(again)
        try:
            for photo, iid in zip(photos, ids):
                assert db.images.get(iid)["status"] == "enriched"
                assert store.get(db.images.stored_object(iid)["object_key"]) == jpeg(photo)
            assert index.count() == len(ids)
        finally:
            index.close()
            db.close()
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_offsets_a_stopped_worker_committed_to_a_restarted_broker_are_forgotten(stack):
    """Workers stopping after the in-memory broker restarted commit their old log's offsets
    to the new one, past its end, where their successors would wait for ever."""
    group, topic = f"forget-{uuid.uuid4().hex[:8]}", TOPICS[0].name
    parts = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    consumer = Consumer({"bootstrap.servers": stack.broker, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, 0, 163), TopicPartition(topic, 1, 171)], asynchronous=False)
        assert [p.offset for p in consumer.committed(parts, timeout=10)] == [163, 171]
        kafka.forget_group(stack.broker, group)
        assert [p.offset for p in consumer.committed(parts, timeout=10)] == [OFFSET_INVALID] * 2
    finally:
        consumer.close()
    kafka.forget_group(stack.broker, group)  # a group the broker does not know: nothing to do
