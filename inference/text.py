"""Sentence embeddings for words and short phrases (all-MiniLM-L6-v2 by default): mean pooling over
the attention mask, L2-normalised. Texts in, unit rows out. No Kafka, no storage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import InferenceModel
from .runtime import Plan
from .sessions import TOKEN_INPUTS, Graph, forward_of

BATCH = 256
MAX_TOKENS = 32  # query words and labels are short; caps the cost of a pathological input


class TextEncoder(InferenceModel):
    kind = "text"

    def __init__(self, source: str, pretrained: dict | None = None, plan: Plan | None = None):
        super().__init__(source, pretrained, plan)
        from transformers import AutoModel, AutoTokenizer

        self.model = AutoModel.from_pretrained(source, **self.pretrained).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(source, **self.pretrained)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def graph_builders(self) -> dict[str, Callable[[], Graph]]:
        return {"text": self._graph}

    def _graph(self) -> Graph:
        def hidden(model, input_ids, attention_mask):
            return (model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state,)

        return Graph("text", forward_of(self.model, hidden), TOKEN_INPUTS, self._tokens(["a photo of a dog", "red"]))

    def _tokens(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        return np.asarray(batch["input_ids"], dtype=np.int64), np.asarray(batch["attention_mask"], dtype=np.int64)

    def encode(self, texts: list[str]) -> np.ndarray:
        """[len(texts), dim] float32 unit rows."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        session = self.session("text")
        chunks = []
        for start in range(0, len(texts), BATCH):
            ids, mask = self._tokens(list(texts[start : start + BATCH]))
            (hidden,) = session.run(ids, mask)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
            chunks.append(pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12))
        return np.concatenate(chunks).astype(np.float32)
