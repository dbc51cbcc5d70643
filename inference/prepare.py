"""Ahead-of-time work on the configured models: convert and compile them for the runtime
(`viewfinder models prepare`, also run by the Dockerfile), and compare the labels that different
runtimes give on a person's own photos (`viewfinder models compare`)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

from core.settings import Settings

from .runtime import Plan, plan_for


def prepare(settings: Settings, plan: Plan | None = None) -> Iterator[tuple[str, dict[str, str], float]]:
    """Load, convert and compile each configured model; yields (model, what runs where, seconds)."""
    from .clip import load_embedder
    from .detection import load_detector
    from .semantics import default_model_path
    from .text import TextEncoder

    plan = plan or plan_for(settings)
    s = settings
    loaders = (
        (
            "detection",
            lambda: load_detector(
                s.detr_model, s.detr_revision, s.detr_threshold, s.detr_size, s.model_load_timeout, plan
            ),
        ),
        ("image embedding", lambda: load_embedder(s.clip_model, s.clip_revision or None, s.model_load_timeout, plan)),
        ("text", lambda: TextEncoder.load(s.text_model or default_model_path(), None, s.model_load_timeout, plan)),
    )
    for name, load in loaders:
        started = time.monotonic()
        model = load()
        yield name, model.warm_up(), time.monotonic() - started


RUNTIMES = {
    "torch-f32": ("torch", "f32"),
    "torch-bf16": ("torch", "bf16"),
    "openvino-f32": ("openvino", "f32"),
    "openvino-bf16": ("openvino", "bf16"),
}


def compare_labels(settings: Settings, photos: list[Path], runtimes: list[str]) -> tuple[dict, dict]:
    """The detector's tags for each photo under each runtime: ({runtime: [tags per photo]}, {runtime: what ran})."""
    from core import images

    from .detection import Detector, longest_side

    base = plan_for(settings)
    decoded = [images.decode_rgb(path.read_bytes(), longest_side(settings.detr_size)) for path in photos]
    results, ran = {}, {}
    for name in runtimes:
        runtime, precision = RUNTIMES[name]
        plan = dataclasses.replace(base, runtime=runtime, precision=precision, verify_bf16=False, why="compare")
        detector = Detector.load(
            settings.detr_model,
            settings.detr_revision,
            settings.model_load_timeout,
            plan,
            threshold=settings.detr_threshold,
            size=settings.detr_size,
        )
        ran[name] = detector.warm_up()["detr"]
        results[name] = detector.detect(decoded)
    return results, ran
