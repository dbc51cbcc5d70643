"""A corpus of awkward files through the real stack: each is refused at the door with its
reason, or finishes, or ends as a dead letter with its reason; the worker keeps going."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from connectors import kafka
from connectors.objectstore import open_store
from core.ids import content_id
from core.images import thumbnail_key
from schemas.pipeline import ARRIVED
from tests.support import arrival, poll
from tests.support.photos import Photo, bilevel_png, jpeg


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def alpha_png() -> bytes:
    im = Image.new("RGBA", (120, 80), (200, 30, 30, 255))
    im.paste((0, 0, 0, 0), (0, 0, 60, 80))
    return encode(im, "PNG")


def png16() -> bytes:
    ramp = (np.tile(np.linspace(0, 65535, 90), (60, 1))).astype(np.uint16)
    return encode(Image.fromarray(ramp), "PNG")


def huge_exif() -> bytes:
    im = Image.new("RGB", (100, 70), (20, 140, 60))
    exif = Image.Exif()
    exif[0x010F] = "BigMaker"
    exif[0x010E] = "x" * 60_000  # ImageDescription: most of a JPEG APP1 segment
    return encode(im, "JPEG", exif=exif)


GOOD = {
    "alpha.png": alpha_png,
    "sixteen-bit.png": png16,
    "image.webp": lambda: encode(Image.new("RGB", (90, 60), (30, 30, 200)), "WEBP"),
    "huge-exif.jpg": huge_exif,
}
REFUSED = {
    "zero.jpg": (lambda: b"", "empty file"),
    "notes.jpg": (lambda: b"Dear diary, this is not a picture.", "not an image"),
    "bomb.png": (lambda: bilevel_png(30_000, 30_000), "decompression bomb"),
}


def wait_finished(gateway, ids):
    def finished():
        rows = {i: gateway.get(f"/images/{i}").json() for i in ids}
        return rows if all(r["status"] != "arrived" for r in rows.values()) else None

    return poll(finished, 120, interval=0.5, what="the corpus to finish")


def test_awkward_but_valid_images_finish(gateway, stack):
    response = gateway.post(
        "/gather/uploads", files=[("files", (name, make(), "application/octet-stream")) for name, make in GOOD.items()]
    )
    assert response.status_code == 202 and not response.json()["rejected"], response.text
    rows = wait_finished(gateway, response.json()["ids"])
    store = open_store(stack)
    for iid, row in rows.items():
        assert row["status"] == "enriched", (row["filename"], row["error"])
        assert row["colors"] and row["width"] > 0
        assert store.exists(thumbnail_key(iid))  # made once by the pipeline, not on first request
    by_name = {r["filename"]: r for r in rows.values()}
    assert by_name["alpha.png"]["colors"][0]["name"] in ("white", "whitesmoke", "snow")  # transparent → white
    assert by_name["huge-exif.jpg"]["exif"]["Make"] == "BigMaker"


def test_non_images_are_refused_at_the_door_with_the_reason(gateway):
    response = gateway.post(
        "/gather/uploads", files=[("files", (name, make(), "image/jpeg")) for name, (make, _) in REFUSED.items()]
    )
    assert response.status_code == 422
    reasons = {r["filename"]: r["reason"] for r in response.json()["rejected"]}
    for name, (_, needle) in REFUSED.items():
        assert needle in reasons[name], reasons


def test_the_worker_dead_letters_what_slips_past_the_door(gateway, stack, db):
    """Published straight to the arrival topic, as a buggy or hostile producer might."""
    store, publisher = open_store(stack), kafka.EventPublisher(stack.broker)
    corpus = {name: make() for name, (make, _) in REFUSED.items()}
    corpus["truncated.jpg"] = jpeg(Photo("t", (10, 200, 10), (0, 0, 0), (500, 400)))[:1500]
    ids = {}
    for name, data in corpus.items():
        # The empty file would otherwise share its hash with nothing else.
        event = arrival(data, name, iid=content_id(data + name.encode()))
        iid = event.id
        store.put(event.object_key, data, "image/jpeg")
        db.images.record_arrival(event)
        publisher.publish(ARRIVED.name, iid, event)
        ids[name] = iid
    publisher.close()
    after = gateway.post(
        "/gather/uploads",
        files=[("files", ("after.jpg", jpeg(Photo("a", (5, 5, 250), (0, 0, 0), (140, 100))), "image/jpeg"))],
    )
    rows = wait_finished(gateway, list(ids.values()) + after.json()["ids"])
    expected = {
        "zero.jpg": "empty file",
        "notes.jpg": "not an image",
        "bomb.png": "decompression bomb",
        "truncated.jpg": "truncated",
    }
    for name, needle in expected.items():
        row = rows[ids[name]]
        assert row["status"] == "failed" and needle in row["error"], (name, row["error"])
        assert row["dead_letters"] and needle in row["dead_letters"][0]["reason"]
    assert rows[after.json()["ids"][0]]["status"] == "enriched"  # the worker went on


def test_dead_letters_are_listed_and_retried_from_the_command_line(gateway, stack, db):
    """An image whose original went missing fails; once it is back, a retry finishes it."""
    data = jpeg(Photo("lost.jpg", (240, 120, 0), (0, 0, 0), (160, 120)))
    event = arrival(data, "lost.jpg")
    iid = event.id
    db.images.record_arrival(event)
    publisher = kafka.EventPublisher(stack.broker)
    publisher.publish(ARRIVED.name, iid, event)
    publisher.close()
    poll(lambda: gateway.get(f"/images/{iid}").json()["status"] == "failed", 60, what="the lost image to fail")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "viewfinder.cli", "deadletters", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **stack.to_env()},
        )

    listed = cli("--stage", "exif")
    assert listed.returncode == 0 and iid in listed.stdout and "lost.jpg" in listed.stdout, listed.stderr
    assert "NoSuchKey" in listed.stdout or "does not exist" in listed.stdout
    open_store(stack).put(f"originals/{iid}", data, "image/jpeg")
    retried = cli("retry", iid)
    assert retried.returncode == 0 and "sent 1 image" in retried.stdout
    poll(lambda: gateway.get(f"/images/{iid}").json()["status"] == "enriched", 60, what="the retried image")
    assert gateway.get(f"/images/{iid}").json()["dead_letters"] == []
