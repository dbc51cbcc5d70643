"""Object detection: PIL images in, per-label counts, best scores and boxes out. No Kafka, no storage."""
from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import AutoModelForObjectDetection

# transformers 5 exports a torchvision-only placeholder as `transformers.AutoImageProcessor` when torchvision
# is absent (as here, on purpose); the real class, which falls back to the PIL backend, lives in the submodule.
from transformers.models.auto.image_processing_auto import AutoImageProcessor

from .labels import COCO_LABELS

log = logging.getLogger(__name__)


_SKIP_LABELS = {"", "N/A"}
# DETR was trained with short side 800 and long side at most 1333; keep that ratio at other sizes.
_LONG_OVER_SHORT = 1333 / 800


# Exiting while an abandoned load is inside torch aborts the process (SIGABRT, "terminate called without an
# active exception"), so exit waits this long for such loads to finish before giving up on them.
EXIT_GRACE_S = 10.0
_abandoned: list[threading.Thread] = []


@atexit.register
def _await_abandoned_loads() -> None:
    deadline = time.monotonic() + EXIT_GRACE_S
    for thread in _abandoned:
        thread.join(max(0.0, deadline - time.monotonic()))


class ModelUnavailable(RuntimeError):
    """The detection model cannot be loaded; the message is a one-line reason for the operator."""


def _looks_local(model: str) -> bool:
    # A hub id is "name" or "org/name"; anything path-like must never be sent to the hub.
    return (
        os.path.exists(model)
        or os.path.isabs(model)
        or model.startswith((".", "~"))
        or model.count("/") > 1
        or (os.sep != "/" and os.sep in model)
    )


class Detector:
    def __init__(
        self,
        model: str,
        revision: str | None = None,
        threshold: float = 0.8,
        size: int = 800,
        device: str | None = None,
    ):
        self.model_name = model
        self.threshold = float(threshold)
        self.size = int(size)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if Path(model).is_dir():
            kwargs: dict = {"local_files_only": True}
        else:
            kwargs = {"revision": revision} if revision else {}
        longest = max(self.size, round(self.size * _LONG_OVER_SHORT))
        self.processor = AutoImageProcessor.from_pretrained(
            model, size={"shortest_edge": self.size, "longest_edge": longest}, **kwargs
        )
        self.model = AutoModelForObjectDetection.from_pretrained(model, **kwargs).to(self.device).eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def detect(self, images: list[Image.Image]) -> list[dict]:
        if not images:
            return []
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        sizes = [(im.height, im.width) for im in rgb]
        with torch.inference_mode():
            inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
            with self._autocast():
                outputs = self.model(**inputs)
            # Post-process in float32: bf16 logits would make the scores and the threshold comparison coarse.
            outputs.logits = outputs.logits.float()
            outputs.pred_boxes = outputs.pred_boxes.float()
            results = self.processor.post_process_object_detection(
                outputs, threshold=self.threshold, target_sizes=sizes
            )
        return [self._tags(result, h, w) for result, (h, w) in zip(results, sizes)]

    def _tags(self, result: dict, height: int, width: int) -> dict:
        scores = result["scores"].tolist()
        labels = result["labels"].tolist()
        boxes = result["boxes"].tolist()
        tags: dict = {}
        for i in sorted(range(len(scores)), key=lambda j: -scores[j]):
            label = self.id2label.get(int(labels[i]), "")
            if label.strip() in _SKIP_LABELS:
                continue
            x0, y0, x1, y1 = boxes[i]
            # DETR's centre/size boxes can spill past the edges; clamp so consumers can crop without checks.
            box = [
                min(max(round(x0), 0), width),
                min(max(round(y0), 0), height),
                min(max(round(x1), 0), width),
                min(max(round(y1), 0), height),
            ]
            tag = tags.setdefault(label, {"count": 0, "score": round(float(scores[i]), 4), "boxes": []})
            tag["count"] += 1
            tag["boxes"].append(box)
        return tags


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


def load_detector(
    model: str, revision: str | None, threshold: float, size: int, timeout: float
) -> Detector:
    if not model or not model.strip():
        raise ModelUnavailable("no detection model configured")
    model = os.path.expanduser(model.strip())
    where = model if not revision or Path(model).is_dir() else f"{model}@{revision}"
    if _looks_local(model) and not Path(model).is_dir():
        raise ModelUnavailable(f"detection model folder does not exist: {model}")

    box: dict = {}

    def load() -> None:
        try:
            box["detector"] = Detector(model, revision, threshold, size)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes ModelUnavailable below
            box["error"] = exc

    started = time.monotonic()
    # A thread, not a signal: works off the main thread, and a load stuck on the network cannot hold the worker.
    thread = threading.Thread(target=load, name="detector-load", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _abandoned.append(thread)
        raise ModelUnavailable(f"loading detection model {where} timed out after {timeout:g}s")
    if "error" in box:
        raise ModelUnavailable(f"cannot load detection model {where}: {_one_line(box['error'])}")
    log.info("loaded detection model %s in %.1fs", where, time.monotonic() - started)
    return box["detector"]
