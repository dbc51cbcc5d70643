"""CLIP embeddings: PIL images (or search texts) in, L2-normalised vectors in one space out. No Kafka, no storage."""

from __future__ import annotations

import torch
from PIL import Image
from transformers import AutoTokenizer, CLIPModel

# transformers 5 exports a torchvision-only placeholder as `transformers.AutoImageProcessor` when torchvision
# is absent (as here, on purpose); the real class, which falls back to the PIL backend, lives in the submodule.
from transformers.models.auto.image_processing_auto import AutoImageProcessor

from . import runtime
from .loading import load_with_deadline

_DECIMALS = 6


def _features(output) -> torch.Tensor:
    # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the *projected* embedding;
    # 4.x (and some remote-code models) return the tensor itself.
    if isinstance(output, torch.Tensor):
        return output
    for name in ("image_embeds", "text_embeds", "pooler_output"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"unexpected CLIP feature output: {type(output).__name__}")


def _unit_lists(features: torch.Tensor) -> list[list[float]]:
    # Normalise in float32: bf16 features would make the vectors visibly non-unit.
    features = torch.nn.functional.normalize(features.float(), dim=-1)
    return [[round(float(x), _DECIMALS) for x in row] for row in features.cpu().tolist()]


class ImageEmbedder:
    """CLIP from ``source`` (a folder or a hub id, with its ``from_pretrained`` arguments)."""

    def __init__(self, source: str, pretrained: dict | None = None, device: str | None = None):
        self.model_name = source
        self.device = runtime.device(device)
        pretrained = pretrained or {}
        self.processor = AutoImageProcessor.from_pretrained(source, **pretrained)
        self.tokenizer = AutoTokenizer.from_pretrained(source, **pretrained)
        self.model = CLIPModel.from_pretrained(source, **pretrained).to(self.device).eval()
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def embed_images(self, images: list[Image.Image]) -> list[list[float]]:
        if not images:
            return []
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        with torch.inference_mode():
            inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
            with runtime.autocast(self.device):
                output = self.model.get_image_features(pixel_values=inputs["pixel_values"])
            return _unit_lists(_features(output))

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with torch.inference_mode():
            inputs = self.tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=self.max_text_tokens,
                return_tensors="pt",
            ).to(self.device)
            with runtime.autocast(self.device):
                output = self.model.get_text_features(
                    input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask")
                )
            return _unit_lists(_features(output))


def load_embedder(model: str, revision: str | None, timeout: float) -> ImageEmbedder:
    return load_with_deadline("image embedding", model, revision, ImageEmbedder, timeout)
