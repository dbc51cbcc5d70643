"""A stack of the embedded servers with tiny random DETR and CLIP, for the benches that time the
pipeline's own cost rather than the models' (`bench.scale`, `bench.latency`, `bench.web`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.settings import Settings
from tests.support import TINY_CLIP_DIM
from tests.support.models import build_tiny_clip, build_tiny_detr
from viewfinder.embedded.process import free_port
from viewfinder.stack import Stack


def tiny_models(folder: Path) -> dict:
    """The settings that name a tiny DETR and CLIP built under ``folder``."""
    return {
        "detr_model": str(build_tiny_detr(folder / "detr")),
        "clip_model": str(build_tiny_clip(folder / "clip")),
    }


@contextmanager
def tiny_stack(data_dir: Path, models: dict, **changes) -> Iterator[tuple[Settings, httpx.Client]]:
    """A running stack on free ports (threshold 0: the tiny detector finds something) and a
    client carrying its admin key; stopped on the way out."""
    settings = Settings.from_env({}).replace(
        data_dir=data_dir,
        port=free_port(),
        clip_dim=TINY_CLIP_DIM,
        detr_threshold=0.0,
        detr_size=128,
        **models,
        **changes,
    )
    stack = Stack(settings)
    s = stack.start()
    try:
        headers = {"Authorization": f"Bearer {stack.admin_key}"}
        with httpx.Client(base_url=s.gateway_url, headers=headers, timeout=120) as client:
            yield s, client
    finally:
        stack.stop()
