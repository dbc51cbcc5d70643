"""What a worker process opens once and its agents share: the stores' clients and the models.

Models load on first use, in a thread, once; a model whose weights cannot be had is said once,
clearly, and stays None, so images complete without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import cached_property

from connectors.objectstore import ObjectStore, open_store
from connectors.postgres import Database, open_database
from connectors.vectors import VectorIndex, open_index
from core.labels import clip_vocabulary
from core.settings import Settings
from inference.loading import ModelUnavailable

log = logging.getLogger("viewfinder.stages")
VOCABULARY_TTL_S = 600.0


class Resources:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._models: dict[str, object] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._vocabulary: tuple[float, tuple[str, ...]] | None = None  # (when looked up, labels)

    @cached_property
    def store(self) -> ObjectStore:
        return open_store(self.settings, remember=self.settings.worker_object_cache_mb << 20)

    @cached_property
    def db(self) -> Database:
        return open_database(self.settings)

    @cached_property
    def index(self) -> VectorIndex:
        return open_index(self.settings)

    async def _model(self, what: str, load):
        async with self._locks.setdefault(what, asyncio.Lock()):
            if what not in self._models:
                try:
                    self._models[what] = await asyncio.to_thread(load)
                except ModelUnavailable as exc:
                    self._models[what] = None
                    log.error("%s unavailable, images will complete without it: %s", what, exc)
        return self._models[what]

    @cached_property
    def plan(self):
        from inference.runtime import plan_for

        plan = plan_for(self.settings)
        log.info("models run with %s", plan.describe())
        return plan

    async def detector(self):
        from inference.detection import load_detector

        s = self.settings
        return await self._model(
            "object detection",
            lambda: load_detector(
                s.detr_model, s.detr_revision, s.detr_threshold, s.detr_size, s.model_load_timeout, self.plan
            ),
        )

    async def embedder(self):
        from inference.clip import load_embedder

        s = self.settings

        def load():
            model = load_embedder(s.clip_model, s.clip_revision or None, s.model_load_timeout, self.plan)
            if model.dim != s.clip_dim:
                raise ModelUnavailable(
                    f"{s.clip_model} makes {model.dim}-dimensional embeddings but the collection "
                    f"holds {s.clip_dim} (VIEWFINDER_CLIP_DIM)"
                )
            return model

        return await self._model("image embedding", load)

    async def clip_vocabulary(self) -> tuple[str, ...]:
        """What CLIP may call an image: COCO's labels, the curated open labels, then the dataset's
        commonest keywords (VIEWFINDER_CLIP_KEYWORDS). Looked up again every VOCABULARY_TTL_S, as
        a dataset run adds keywords; a database that cannot answer leaves the last one in use."""
        now = time.monotonic()
        if self._vocabulary is None or now - self._vocabulary[0] >= VOCABULARY_TTL_S:
            keywords: list[str] = []
            try:
                if self.settings.clip_keywords:
                    keywords = await asyncio.to_thread(self.db.unsplash.common_keywords, self.settings.clip_keywords)
            except Exception as exc:
                if self._vocabulary is not None:
                    log.warning("cannot refresh CLIP's vocabulary, keeping the last: %s", exc)
                    return self._vocabulary[1]
                raise
            self._vocabulary = (now, clip_vocabulary(keywords))
        return self._vocabulary[1]

    def close(self) -> None:
        for name in ("db", "index"):
            if name in self.__dict__:
                self.__dict__.pop(name).close()
