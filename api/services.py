"""The gateway's clients and models, opened once at start-up and shared by every handler
under typed application keys."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property

import httpx
import numpy as np
from aiohttp import web

from connectors import kafka
from connectors.ingest import Ingestor
from connectors.objectstore import ObjectStore, open_store
from connectors.postgres import Database, open_database
from connectors.unsplash.job import DatasetRun
from connectors.vectors import VectorIndex
from core import colors, labels
from core.settings import Settings
from inference.loading import ModelUnavailable
from query.analytics.graphs import cached_embedder
from query.recommendation import replica
from query.recommendation.replica import open_query_index

log = logging.getLogger("viewfinder.api")
KEYWORD_VOCABULARY = 5000
_LOADING = threading.Lock()


def _warm_kernels() -> None:
    colors.warm()
    replica.warm()


@dataclass
class Services:
    settings: Settings
    db: Database
    store: ObjectStore
    index: VectorIndex
    publisher: kafka.EventPublisher
    _resolver: asyncio.Future | None = field(default=None, init=False)
    _embedder: asyncio.Future | None = field(default=None, init=False)
    _word_embeddings: dict = field(default_factory=dict, init=False)
    clip_vocabulary: tuple[str, ...] = field(default_factory=labels.union_labels, init=False)
    publishing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        return cls(
            settings,
            open_database(settings, maxconn=16),
            open_store(settings),
            open_query_index(settings),
            kafka.open_publisher(settings),
        )

    def start_loading_models(self) -> None:
        """Models load in the background, imports included (torch takes seconds the gateway
        would otherwise not answer in); the first query that needs one waits for it."""
        s = self.settings

        def plan():
            from inference.runtime import plan_for, usable_cpus

            # One thread per model: a gateway's texts are a few words, and its processes share the cores.
            return plan_for(s, processes=usable_cpus())

        def resolver():
            from inference.semantics import load_resolver

            # Words resolve to what images can carry: DETR's labels, CLIP's open labels, then (once
            # the database answers) the dataset's keywords.
            vocabulary = list(labels.union_labels())
            return load_resolver(
                s.text_model or None, s.tag_threshold, s.model_load_timeout, plan=plan(), vocabulary=vocabulary
            )

        def embedder():
            from inference.clip import load_embedder

            return load_embedder(s.clip_model, s.clip_revision or None, s.model_load_timeout, plan())

        # First: seconds before any model, and every recommendation needs it.
        self._load("the compiled kernels", "the first recommendation compiles them", _warm_kernels)
        self._resolver = self._load("tag semantics", "tags match only exactly", resolver)
        self._resolver.add_done_callback(lambda _: asyncio.ensure_future(self.refresh_vocabulary()))
        self._embedder = self._load("text search by CLIP", "search uses tags and descriptions only", embedder)

    @staticmethod
    def _load(what: str, consequence: str, load) -> asyncio.Future:
        def guarded():
            # One load at a time: transformers' lazy modules break when two threads import them at once.
            with _LOADING:
                try:
                    return load()
                except ModelUnavailable as exc:
                    log.error("%s unavailable, %s: %s", what, consequence, exc)
                except Exception as exc:  # an import that fails must not leave every later query a 500
                    log.exception("%s unavailable, %s: %s", what, consequence, exc)
                return None

        return asyncio.ensure_future(asyncio.to_thread(guarded))

    async def tag_resolver(self):
        return await asyncio.shield(self._resolver) if self._resolver else None

    async def text_embedder(self):
        return await asyncio.shield(self._embedder) if self._embedder else None

    def word_embedding_if_loaded(self):
        """A callable list[str] → unit row vectors if a text model has loaded by now, else None;
        never waits. all-MiniLM (the tag resolver's model, made for word meaning) before CLIP's
        text tower. Remembers each word's vector, so refreshing graphs embed only new words."""
        for which, future, embed in (
            ("resolver", self._resolver, lambda m: m.embed),
            ("clip", self._embedder, lambda m: lambda t: np.asarray(m.embed_texts(t))),
        ):
            if (
                future is not None
                and future.done()
                and not future.cancelled()
                and future.exception() is None
                and future.result() is not None
            ):
                if which not in self._word_embeddings:
                    self._word_embeddings[which] = cached_embedder(embed(future.result()))
                return self._word_embeddings[which]
        return None

    def reset_caches(self) -> list[str]:
        """Drop what the gateway keeps of graph data (the dendrogram's word vectors, per text
        model), so the next graph computes it afresh; the names of the caches dropped."""
        dropped = sorted(self._word_embeddings)
        self._word_embeddings.clear()
        return dropped

    async def refresh_vocabulary(self) -> None:
        """Let free-text tags resolve to the dataset's own keywords as well as the detector's
        labels, and judge wanted words by CLIP against the vocabulary the pipeline's CLIP tags
        come from (the labels and the commonest VIEWFINDER_CLIP_KEYWORDS keywords)."""
        resolver = await self.tag_resolver()
        if resolver is not None:
            words = await asyncio.to_thread(self.db.unsplash.common_keywords, KEYWORD_VOCABULARY)
            await asyncio.to_thread(resolver.add_vocabulary, words)
            self.clip_vocabulary = labels.clip_vocabulary(words[: self.settings.clip_keywords])

    @cached_property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.store, self.db, self.publisher, self.settings.max_upload_bytes, self.settings.max_pixels)

    def close(self) -> None:
        self.publisher.close()
        self.index.close()
        self.db.close()

    def _dashboard(self) -> None:
        if not self.settings.dashboard_port:
            raise RuntimeError("no dashboard configured (VIEWFINDER_DASHBOARD_PORT)")
        # Bokeh's index of its pages: a page itself would open a session and query the database.
        index = httpx.get(f"{self.settings.dashboard_url}/", timeout=5)
        index.raise_for_status()
        if "/collection" not in index.text:
            raise RuntimeError("the dashboard server does not list its /collection page")

    async def check(self, names: list[str], timeout: float = 5) -> dict[str, dict]:
        probes = {
            "database": self.db.ping,
            "object_store": self.store.ping,
            "broker": lambda: kafka.ping(self.settings.broker, timeout),
            "vector_index": self.index.count,
            "dashboard": self._dashboard,
        }

        async def one(name):
            try:
                await asyncio.wait_for(asyncio.to_thread(probes[name]), timeout)
                return name, {"ok": True}
            except Exception as exc:
                return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}

        return dict(await asyncio.gather(*(one(n) for n in names)))


SERVICES = web.AppKey("services", Services)
DATASET_RUN = web.AppKey("dataset_run", DatasetRun)
