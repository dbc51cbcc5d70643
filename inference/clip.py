"""CLIP embeddings: PIL images (or search texts) in, L2-normalised vectors in one space out. No Kafka, no storage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from .base import InferenceModel
from .runtime import Plan
from .sessions import TOKEN_INPUTS, Graph, Input, forward_of

_DECIMALS = 6
MATRICES_KEPT = 4  # label matrices remembered, one per vocabulary
# Prompt ensembling (CLIP paper, §3.1.4): a label reads as a caption, averaged over phrasings.
PROMPTS = ("a photo of a {}.", "a photo of the {}.", "a close-up photo of a {}.", "a picture of a {}.", "{}")


def _features(output):
    # transformers 5 returns a BaseModelOutputWithPooling whose pooler_output is the *projected* embedding;
    # 4.x (and some remote-code models) return the tensor itself.
    import torch

    if isinstance(output, torch.Tensor):
        return output
    for name in ("image_embeds", "text_embeds", "pooler_output"):
        value = getattr(output, name, None)
        if isinstance(value, torch.Tensor):
            return value
    raise TypeError(f"unexpected CLIP feature output: {type(output).__name__}")


def unit_lists(features: np.ndarray) -> list[list[float]]:
    features = features.astype(np.float64)
    norms = np.linalg.norm(features, axis=-1, keepdims=True)
    features = features / np.maximum(norms, 1e-12)
    return [[round(float(x), _DECIMALS) for x in row] for row in features]


class ImageEmbedder(InferenceModel):
    """CLIP from ``source`` (a folder or a hub id, with its ``from_pretrained`` arguments)."""

    kind = "image embedding"

    def __init__(self, source: str, pretrained: dict | None = None, plan: Plan | None = None):
        super().__init__(source, pretrained, plan)
        from transformers import AutoTokenizer, CLIPModel

        # transformers 5 exports a torchvision-only placeholder as `transformers.AutoImageProcessor` when
        # torchvision is absent (as here, on purpose); the real class, with the PIL backend, is in the submodule.
        from transformers.models.auto.image_processing_auto import AutoImageProcessor

        self.processor = AutoImageProcessor.from_pretrained(source, **self.pretrained)
        self.tokenizer = AutoTokenizer.from_pretrained(source, **self.pretrained)
        self.model = CLIPModel.from_pretrained(source, **self.pretrained).eval()
        self.max_text_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._label_matrices: dict[tuple[str, ...], np.ndarray] = {}

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def graph_builders(self) -> dict[str, Callable[[], Graph]]:
        return {"clip-image": self._image_graph, "clip-text": self._text_graph}

    def _image_graph(self) -> Graph:
        def image(model, pixel_values):
            return (_features(model.get_image_features(pixel_values=pixel_values)),)

        example = self._pixels([Image.new("RGB", (64, 48), (127, 127, 127))])
        return Graph(
            "clip-image",
            forward_of(self.model, image),
            (Input("pixel_values", (-1, *example.shape[1:]), "float32"),),
            (example,),
        )

    def _text_graph(self) -> Graph:
        def text(model, input_ids, attention_mask):
            return (_features(model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)),)

        example = self._tokens(["a photo of a dog", "red"])
        return Graph("clip-text", forward_of(self.model, text), TOKEN_INPUTS, example)

    def _pixels(self, images: list[Image.Image]) -> np.ndarray:
        return np.asarray(self.processor(images=images, return_tensors="np")["pixel_values"], dtype=np.float32)

    def _tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="np"
        )
        return np.asarray(batch["input_ids"], dtype=np.int64), np.asarray(batch["attention_mask"], dtype=np.int64)

    def embed_images(self, images: list[Image.Image]) -> list[list[float]]:
        if not images:
            return []
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        (features,) = self.session("clip-image").run(self._pixels(rgb))
        return unit_lists(features)

    @property
    def logit_scale(self) -> float:
        """CLIP's learned temperature: cosines times this are the logits it was trained on (≈ 100)."""
        return float(self.model.logit_scale.detach().exp())

    def label_matrix(self, labels: tuple[str, ...]) -> np.ndarray:
        """[labels, dim] unit rows: each label's text embedding averaged over `PROMPTS`; kept per vocabulary."""
        cached = self._label_matrices.get(labels)
        if cached is None:
            cached = self._label_matrices[labels] = self._prompted(labels)
            while len(self._label_matrices) > MATRICES_KEPT:  # a vocabulary that grows leaves old ones behind
                self._label_matrices.pop(next(iter(self._label_matrices)))
        return cached

    def _prompted(self, labels: tuple[str, ...]) -> np.ndarray:
        rows = np.array([self.embed_texts([p.format(label) for label in labels]) for p in PROMPTS]).mean(axis=0)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    def word_finder(self, words: list[str], vocabulary: tuple[str, ...], threshold: float) -> WordFinder:
        """Wanted words as CLIP sees them: each prompted like a label (not remembered: words are
        the client's), judged against ``vocabulary`` (remembered, as `label_matrix`)."""
        words = list(dict.fromkeys(words))
        rows = self._prompted(tuple(words)) if words else np.zeros((0, self.dim))
        return WordFinder(words, rows, self.label_matrix(vocabulary), vocabulary, self.logit_scale, threshold)

    def labels_of(self, vectors: list[list[float]], labels: tuple[str, ...], threshold: float, top: int) -> list[dict]:
        """Zero-shot labels from ``labels`` for images whose CLIP vectors are ``vectors`` (see `zero_shot`)."""
        matrix = self.label_matrix(labels)
        return zero_shot(np.asarray(vectors), matrix, list(labels), self.logit_scale, threshold, top)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        (features,) = self.session("clip-text").run(*self._tokens(list(texts)))
        return unit_lists(features)


class WordFinder:
    """Which images show the wanted words, by CLIP zero-shot: a word is found in an image when,
    offered beside every label of the vocabulary, it takes at least ``threshold`` of the
    probability (how the pipeline's CLIP tags are chosen, with the word as one more label)."""

    def __init__(self, words, rows: np.ndarray, vocabulary_matrix: np.ndarray, vocabulary, scale: float, threshold):
        self.queries = {w: [float(x) for x in row] for w, row in zip(words, rows)}  # text → image searches
        self._rows, self._vocabulary, self._scale, self._threshold = rows, vocabulary_matrix, scale, threshold
        self._own_column = [vocabulary.index(w) if w in vocabulary else -1 for w in words]

    def found(self, vectors: dict[str, list[float]]) -> dict[str, dict[str, float]]:
        """Image id → {word: probability} for the words found in it (images in ``vectors`` only)."""
        if not vectors or not len(self._rows):
            return {}
        ids = list(vectors)
        images = np.asarray([vectors[i] for i in ids], dtype=np.float64)
        labels = self._scale * (images @ self._vocabulary.T.astype(np.float64))  # [images, vocabulary]
        words = self._scale * (images @ self._rows.T.astype(np.float64))  # [images, words]
        out: dict[str, dict[str, float]] = {}
        for j, word in enumerate(self.queries):
            rivals = labels if self._own_column[j] < 0 else np.delete(labels, self._own_column[j], axis=1)
            top = np.maximum(rivals.max(axis=1), words[:, j])
            own = np.exp(words[:, j] - top)
            probability = own / (own + np.exp(rivals - top[:, None]).sum(axis=1))
            for i in np.flatnonzero(probability >= self._threshold):
                out.setdefault(ids[i], {})[word] = round(float(probability[i]), 4)
        return out


def zero_shot(
    vectors: np.ndarray, label_matrix: np.ndarray, labels: list[str], scale: float, threshold: float, top: int
) -> list[dict[str, float]]:
    """Each image's labels by CLIP zero-shot: softmax over the labels of ``scale`` × cosine (CLIP's
    logit scale), the ``top`` most probable kept where their probability reaches ``threshold``."""
    if not len(vectors) or not labels:
        return [{} for _ in range(len(vectors))]
    logits = scale * (np.asarray(vectors, dtype=np.float64) @ label_matrix.T.astype(np.float64))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:top]
        out.append({labels[i]: round(float(row[i]), 4) for i in best if row[i] >= threshold})
    return out


def load_embedder(model: str, revision: str | None, timeout: float, plan: Plan | None = None) -> ImageEmbedder:
    return ImageEmbedder.load(model, revision, timeout, plan)
