"""Object detection: PIL images in, per-label counts, best scores and boxes out. No Kafka, no storage.

Each image is resized as DETR was trained (short side `size`, long side at most size·1333/800)
and padded, with a pixel mask, into one of a few aspect-ratio buckets, so a handful of compiled
shapes serve every photo; the padding is masked, and boxes are relative to the unpadded image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import numpy as np
from PIL import Image

from .base import InferenceModel
from .runtime import Plan
from .sessions import Graph, Input, forward_of

_SKIP_LABELS = {"", "N/A"}
# DETR was trained with short side 800 and long side at most 1333; keep that ratio at other sizes.
_LONG_OVER_SHORT = 1333 / 800
# Long sides of the buckets, as multiples of the short side: square, 4:3, 3:2 (most photos), DETR's widest.
_BUCKET_RATIOS = (1.0, 4 / 3, 3 / 2, _LONG_OVER_SHORT)
_ALIGN = 32  # ResNet's stride: padding to it loses nothing


def _aligned(n: float) -> int:
    return int(math.ceil(n / _ALIGN - 1e-9) * _ALIGN)


def longest_side(size: int) -> int:
    return max(size, round(size * _LONG_OVER_SHORT))


@cache
def buckets(size: int) -> tuple[tuple[int, int], ...]:
    """The padded (height, width) shapes for short side ``size``: landscape then portrait."""
    longs = sorted({max(_aligned(size * r), _aligned(size)) for r in _BUCKET_RATIOS} | {_aligned(longest_side(size))})
    landscape = [(_aligned(size), long) for long in longs]
    return (*landscape, *[(w, h) for h, w in landscape if h != w])


def bucket_for(height: int, width: int, size: int) -> tuple[int, int]:
    """The smallest bucket that holds a resized image of ``height`` × ``width``."""
    fits = [(h, w) for h, w in buckets(size) if h >= height and w >= width]
    if not fits:
        raise ValueError(f"a {height}x{width} input exceeds every bucket of short side {size}")
    return min(fits, key=lambda hw: hw[0] * hw[1])


def tags_from_outputs(
    logits: np.ndarray, boxes: np.ndarray, threshold: float, height: int, width: int, id2label: dict[int, str]
) -> dict:
    """One image's DETR outputs ([queries, classes + 1] logits, [queries, 4] centre/size boxes relative
    to the unpadded image) → {label: {count, score, boxes}}, best score first, boxes in pixels of
    ``height`` × ``width``: what transformers' `post_process_object_detection` gives, in numpy."""
    logits = logits.astype(np.float64)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    probs = probs[:, :-1]  # the last class is "no object"
    scores, labels = probs.max(-1), probs.argmax(-1)
    cx, cy, w, h = (boxes[:, i].astype(np.float64) for i in range(4))
    corners = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], -1)
    tags: dict = {}
    for i in sorted(np.flatnonzero(scores > threshold), key=lambda j: -scores[j]):
        label = id2label.get(int(labels[i]), "")
        if label.strip() in _SKIP_LABELS:
            continue
        x0, y0, x1, y1 = corners[i]
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


class Detector(InferenceModel):
    """DETR from ``source`` (a folder or a hub id, with its ``from_pretrained`` arguments)."""

    kind = "detection"

    def __init__(
        self,
        source: str,
        pretrained: dict | None = None,
        plan: Plan | None = None,
        *,
        threshold: float = 0.8,
        size: int = 800,
    ):
        super().__init__(source, pretrained, plan)
        from transformers import AutoModelForObjectDetection

        # transformers 5 exports a torchvision-only placeholder as `transformers.AutoImageProcessor` when
        # torchvision is absent (as here, on purpose); the real class, with the PIL backend, is in the submodule.
        from transformers.models.auto.image_processing_auto import AutoImageProcessor

        self.threshold = float(threshold)
        self.size = int(size)
        self.processor = AutoImageProcessor.from_pretrained(
            source, size={"shortest_edge": self.size, "longest_edge": longest_side(self.size)}, **self.pretrained
        )
        self.model = AutoModelForObjectDetection.from_pretrained(source, **self.pretrained).eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}

    def graph_builders(self) -> dict[str, Callable[[], Graph]]:
        return {"detr": self._graph}

    def _graph(self) -> Graph:
        def detr(model, pixel_values, pixel_mask):
            out = model(pixel_values=pixel_values, pixel_mask=pixel_mask)
            return out.logits, out.pred_boxes

        height, width = bucket_for(self.size, round(self.size * 1.5), self.size)
        pixels, mask = self.inputs(Image.new("RGB", (round(self.size * 1.5), self.size), (127, 127, 127)))
        example = self._padded([(pixels, mask)], (height, width))
        return Graph(
            "detr",
            forward_of(self.model, detr),
            (Input("pixel_values", (-1, 3, -1, -1), "float32"), Input("pixel_mask", (-1, -1, -1), "int64")),
            example,
            {"size": self.size},
            static=True,
        )

    def inputs(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """One image as DETR sees it: normalised [3, h, w] pixels at the configured size, and its [h, w] mask."""
        batch = self.processor(images=[image], return_tensors="np")
        pixels = np.asarray(batch["pixel_values"][0], dtype=np.float32)
        return pixels, np.ones(pixels.shape[1:], dtype=np.int64)

    @staticmethod
    def _padded(items: list[tuple[np.ndarray, np.ndarray]], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        height, width = shape
        pixels = np.zeros((len(items), 3, height, width), dtype=np.float32)
        masks = np.zeros((len(items), height, width), dtype=np.int64)
        for i, (p, m) in enumerate(items):
            pixels[i, :, : p.shape[1], : p.shape[2]] = p
            masks[i, : m.shape[0], : m.shape[1]] = m
        return pixels, masks

    def detect(self, images: list[Image.Image]) -> list[dict]:
        if not images:
            return []
        session = self.session("detr")
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        prepared = [self.inputs(im) for im in rgb]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (pixels, _) in enumerate(prepared):
            groups.setdefault(bucket_for(pixels.shape[1], pixels.shape[2], self.size), []).append(i)
        results: list[dict] = [{} for _ in rgb]
        for shape, members in groups.items():
            logits, boxes = session.run(*self._padded([prepared[i] for i in members], shape))
            for row, i in enumerate(members):
                results[i] = tags_from_outputs(
                    logits[row], boxes[row], self.threshold, rgb[i].height, rgb[i].width, self.id2label
                )
        return results


def load_detector(
    model: str, revision: str | None, threshold: float, size: int, timeout: float, plan: Plan | None = None
) -> Detector:
    return Detector.load(model, revision, timeout, plan, threshold=threshold, size=size)
