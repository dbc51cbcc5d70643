"""Object detection: PIL images in, per-label counts, best scores and boxes out. No Kafka, no storage."""

from __future__ import annotations

import torch
from PIL import Image
from transformers import AutoModelForObjectDetection

# transformers 5 exports a torchvision-only placeholder as `transformers.AutoImageProcessor` when torchvision
# is absent (as here, on purpose); the real class, which falls back to the PIL backend, lives in the submodule.
from transformers.models.auto.image_processing_auto import AutoImageProcessor

from . import runtime
from .loading import load_with_deadline

_SKIP_LABELS = {"", "N/A"}
# DETR was trained with short side 800 and long side at most 1333; keep that ratio at other sizes.
_LONG_OVER_SHORT = 1333 / 800


class Detector:
    """DETR from ``source`` (a folder or a hub id, with its ``from_pretrained`` arguments)."""

    def __init__(
        self,
        source: str,
        pretrained: dict | None = None,
        threshold: float = 0.8,
        size: int = 800,
        device: str | None = None,
    ):
        self.model_name = source
        self.threshold = float(threshold)
        self.size = int(size)
        self.device = runtime.device(device)
        pretrained = pretrained or {}
        longest = max(self.size, round(self.size * _LONG_OVER_SHORT))
        self.processor = AutoImageProcessor.from_pretrained(
            source, size={"shortest_edge": self.size, "longest_edge": longest}, **pretrained
        )
        self.model = AutoModelForObjectDetection.from_pretrained(source, **pretrained).to(self.device).eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}

    def detect(self, images: list[Image.Image]) -> list[dict]:
        if not images:
            return []
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        sizes = [(im.height, im.width) for im in rgb]
        with torch.inference_mode():
            inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
            with runtime.autocast(self.device):
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


def load_detector(model: str, revision: str | None, threshold: float, size: int, timeout: float) -> Detector:
    return load_with_deadline(
        "detection", model, revision, lambda source, pretrained: Detector(source, pretrained, threshold, size), timeout
    )
