"""What tests and benches share: polling with a deadline, settings for a test stack, and the
helpers in this package's modules (`photos`: test images with known EXIF; `models`: tiny
random DETR and CLIP; `dataset`: Unsplash Lite files and an image server). Benches import
them as `tests.support…` when run as modules (`python -m bench.recommend`)."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from core.ids import content_id
from core.images import original_key
from core.settings import Settings
from schemas.records import ImageArrived
from viewfinder.embedded.process import free_port

from .photos import jpeg

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TINY_CLIP_DIM = 16
# Converted models, shared by every stack and test of a session (conftest empties it before and after):
# each tiny model converts for OpenVINO once, not once per worker process.
MODEL_CACHE = Path(tempfile.gettempdir()) / f"viewfinder-test-models-{os.getuid()}"


class Timeout(AssertionError):
    pass


def poll(check, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Return check()'s first truthy value, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stack_settings(data_dir: Path, **changes) -> Settings:
    """Settings for a stack of the tests' own: free ports, quick group joins, tiny CLIP vectors."""
    return Settings.from_env({}).replace(
        data_dir=data_dir,
        port=free_port(),
        broker_session_timeout=6.0,
        log_level="INFO",
        model_load_timeout=60.0,
        # Every test talks from 127.0.0.1: the session's gateway must not lock it out for the
        # failures the security tests make on purpose (tests/handlers/test_auth.py checks the limit).
        auth_failures_per_minute=10_000,
        clip_dim=TINY_CLIP_DIM,
        model_cache=str(MODEL_CACHE),
        **changes,
    )


def arrival(data: bytes, filename: str, iid: str | None = None, arrived_at: datetime | None = None) -> ImageArrived:
    """The arrival event the ingestor would make for ``data`` (its content id unless ``iid``);
    tests store, record or publish it themselves, to stage what the ingestor would not."""
    iid = iid or content_id(data)
    return ImageArrived(
        id=iid,
        object_key=original_key(iid),
        source="upload",
        filename=filename,
        content_type="image/jpeg",
        size=len(data),
        arrived_at=(arrived_at or datetime.now(UTC)).isoformat(),
    )


def upload_and_wait(gateway, photos) -> list[dict]:
    """``photos`` uploaded through ``gateway`` and waited for: each image's record, all enriched."""
    response = gateway.post("/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos])
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    assert len(ids) == len(photos)

    def enriched():
        images = [gateway.get(f"/images/{i}").json() for i in ids]
        return images if all(img["status"] != "arrived" for img in images) else None

    images = poll(enriched, 180, interval=0.5, what="the uploads to finish the pipeline")
    assert all(img["status"] == "enriched" for img in images), [img.get("error") for img in images]
    return images
