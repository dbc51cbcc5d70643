"""The vector index behind one small interface, three ways to reach it:

- `QdrantIndex`: a Qdrant server through qdrant-client (production, docker-compose);
- `EdgeIndex`: Qdrant's engine in-process (qdrant-edge), owned by the embedded index service;
- `IndexServiceClient`: HTTP client of that service, for every other process.

Points: {"id": image id, "vectors": {name: [...]}, "payload": {...}}.
Filters: {field: value} must match; a list value matches any of its items. A search ranks by
nearness to ``vector``, or, given ``positives``/``negatives`` (example vectors), by Qdrant's
recommend (best score); ``among`` keeps only those ids, ``exclude`` drops them. `search_many`
takes a list of such searches as keyword dicts and answers them together (one round trip).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

import httpx

from core.ids import from_point_id, point_id
from core.settings import Settings
from schemas.vectors import PAYLOAD_INDEXES, collection_vectors


class VectorIndex(Protocol):
    def ensure(self) -> None: ...
    def upsert(self, points: list[dict]) -> None: ...
    def search(
        self,
        using: str,
        vector: list[float] | None = None,
        must: dict | None = None,
        limit: int = 10,
        *,
        positives: list | None = None,
        negatives: list | None = None,
        among: list[str] | None = None,
        exclude: list[str] | None = None,
    ) -> list[dict]: ...
    def search_many(self, requests: list[dict]) -> list[list[dict]]: ...
    def vectors(self, ids: list[str], using: str) -> dict[str, list[float]]: ...
    def count(self) -> int: ...
    def close(self) -> None: ...


class EdgeIndex:
    def __init__(self, path: Path, vectors: dict[str, int]):
        import qdrant_edge as qe

        self.qe = qe
        self.path = Path(path)
        self.lock = threading.Lock()
        config = qe.EdgeConfig(
            vectors={name: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine) for name, dim in vectors.items()}
        )
        if (self.path / "edge_config.json").exists() or any(self.path.glob("segments*")):
            self.shard = qe.EdgeShard.load(str(self.path), config)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self.shard = qe.EdgeShard.create(str(self.path), config)

    def ensure(self) -> None:
        kinds = {"keyword": self.qe.PayloadSchemaType.Keyword, "integer": self.qe.PayloadSchemaType.Integer}
        with self.lock:
            for field, kind in PAYLOAD_INDEXES.items():
                self.shard.update(self.qe.UpdateOperation.create_field_index(field, kinds[kind]))

    def upsert(self, points: list[dict]) -> None:
        if not points:
            return
        edge_points = [self.qe.Point(point_id(p["id"]), p["vectors"], p.get("payload") or {}) for p in points]
        with self.lock:
            self.shard.update(self.qe.UpdateOperation.upsert_points(edge_points))

    def _filter(self, must: dict | None, among=None, exclude=None):
        qe = self.qe
        conditions = []
        for key, value in (must or {}).items():
            match = qe.MatchAny(list(value)) if isinstance(value, (list, tuple)) else qe.MatchValue(value)
            conditions.append(qe.FieldCondition(key=key, match=match))
        if among is not None:
            conditions.append(qe.HasIdCondition({point_id(i) for i in among}))
        must_not = [qe.HasIdCondition({point_id(i) for i in exclude})] if exclude else None
        return qe.Filter(must=conditions or None, must_not=must_not) if conditions or must_not else None

    def _request(
        self, using, vector=None, must=None, limit=10, *, positives=None, negatives=None, among=None, exclude=None
    ):
        qe = self.qe
        if positives or negatives:
            query = qe.Query.RecommendBestScore(
                qe.RecommendQuery(list(positives or []), list(negatives or [])), using=using
            )
        else:
            query = qe.Query.Nearest(list(vector), using=using)
        return qe.QueryRequest(limit=limit, query=query, filter=self._filter(must, among, exclude), with_payload=True)

    @staticmethod
    def _hits(points) -> list[dict]:
        return [{"id": from_point_id(h.id), "score": h.score, "payload": h.payload or {}} for h in points]

    def search(self, using, vector=None, must=None, limit=10, **options) -> list[dict]:
        return self._hits(self.shard.query(self._request(using, vector, must, limit, **options)))

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        batch = self.qe.QueryBatchRequest([self._request(**r) for r in requests])
        return [self._hits(points) for points in self.shard.query_batch(batch)]

    def vectors(self, ids: list[str], using: str) -> dict[str, list[float]]:
        records = self.shard.retrieve([point_id(i) for i in ids], with_payload=False, with_vector=[using])
        return {from_point_id(r.id): v for r in records if (v := _named(r.vector, using)) is not None}

    def count(self) -> int:
        return self.shard.count(self.qe.CountRequest(exact=True))

    def ids(self, page: int = 10_000) -> list[str]:
        """Every point's image id, in the engine's order."""
        out: list[str] = []
        offset = None
        while True:
            records, offset = self.shard.scroll(
                self.qe.ScrollRequest(offset=offset, limit=page, with_payload=False, with_vector=False)
            )
            out.extend(from_point_id(r.id) for r in records)
            if offset is None:
                return out

    def points(self, ids: list[str], using: str) -> list[dict]:
        """Points with one named vector and their payload, for readers that mirror a space."""
        records = self.shard.retrieve([point_id(i) for i in ids], with_payload=True, with_vector=[using])
        return [
            {
                "id": from_point_id(r.id),
                "vector": _named(r.vector, using),
                "payload": r.payload or {},
            }
            for r in records
        ]

    def close(self) -> None:
        with self.lock:
            self.shard.flush()
            self.shard.close()


class QdrantIndex:
    def __init__(self, url: str, collection: str, vectors: dict[str, int], api_key: str | None = None):
        from qdrant_client import QdrantClient, models

        self.models = models
        # ":memory:" is qdrant-client's local mode: the same API without a server (tests).
        self.client = (
            QdrantClient(location=url) if url == ":memory:" else QdrantClient(url=url, api_key=api_key or None)
        )
        self.collection, self.vector_sizes = collection, vectors

    def ensure(self) -> None:
        m = self.models
        if not self.client.collection_exists(self.collection):
            self.client.create_collection(
                self.collection,
                vectors_config={
                    name: m.VectorParams(size=dim, distance=m.Distance.COSINE)
                    for name, dim in self.vector_sizes.items()
                },
            )
        kinds = {"keyword": m.PayloadSchemaType.KEYWORD, "integer": m.PayloadSchemaType.INTEGER}
        for field, kind in PAYLOAD_INDEXES.items():
            self.client.create_payload_index(self.collection, field, kinds[kind])

    def upsert(self, points: list[dict]) -> None:
        if points:
            self.client.upsert(
                self.collection,
                wait=True,
                points=[
                    self.models.PointStruct(id=point_id(p["id"]), vector=p["vectors"], payload=p.get("payload") or {})
                    for p in points
                ],
            )

    def search(self, using, vector=None, must=None, limit=10, **options) -> list[dict]:
        return self.search_many([dict(using=using, vector=vector, must=must, limit=limit, **options)])[0]

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        """Every search in one round trip to the server (a recommendation's palette searches and
        text searches together)."""
        answers = self.client.query_batch_points(self.collection, [self._request(**r) for r in requests])
        return [
            [{"id": from_point_id(h.id), "score": h.score, "payload": h.payload or {}} for h in answer.points]
            for answer in answers
        ]

    def _request(
        self, using, vector=None, must=None, limit=10, *, positives=None, negatives=None, among=None, exclude=None
    ):
        m = self.models
        conditions = [
            m.FieldCondition(
                key=k, match=m.MatchAny(any=list(v)) if isinstance(v, (list, tuple)) else m.MatchValue(value=v)
            )
            for k, v in (must or {}).items()
        ]
        if among is not None:
            conditions.append(m.HasIdCondition(has_id=[point_id(i) for i in among]))
        must_not = [m.HasIdCondition(has_id=[point_id(i) for i in exclude])] if exclude else None
        query_filter = m.Filter(must=conditions or None, must_not=must_not) if conditions or must_not else None
        query = (
            m.RecommendQuery(
                recommend=m.RecommendInput(
                    positive=list(positives or []) or None,
                    negative=list(negatives or []) or None,
                    strategy=m.RecommendStrategy.BEST_SCORE,
                )
            )
            if positives or negatives
            else list(vector)
        )
        return m.QueryRequest(query=query, using=using, filter=query_filter, limit=limit, with_payload=True)

    def vectors(self, ids: list[str], using: str) -> dict[str, list[float]]:
        records = self.client.retrieve(self.collection, [point_id(i) for i in ids], with_vectors=[using])
        return {from_point_id(r.id): v for r in records if (v := _named(r.vector, using)) is not None}

    def count(self) -> int:
        return self.client.count(self.collection, exact=True).count

    def close(self) -> None:
        self.client.close()


class IndexServiceClient:
    def __init__(self, url: str, timeout: float = 10):
        self.http = httpx.Client(base_url=url, timeout=timeout)

    def _post(self, path: str, body: dict) -> dict:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def ensure(self) -> None:
        self._post("/ensure", {})

    def upsert(self, points: list[dict]) -> None:
        if points:
            self._post("/upsert", {"points": points})

    def search(
        self, using, vector=None, must=None, limit=10, *, positives=None, negatives=None, among=None, exclude=None
    ) -> list[dict]:
        return self._post(
            "/search",
            {
                "using": using,
                "vector": None if vector is None else list(vector),
                "must": must or {},
                "limit": limit,
                "positives": positives,
                "negatives": negatives,
                "among": among,
                "exclude": exclude,
            },
        )["hits"]

    def search_many(self, requests: list[dict]) -> list[list[dict]]:
        return self._post("/search_many", {"requests": requests})["results"]

    def vectors(self, ids: list[str], using: str) -> dict[str, list[float]]:
        return self._post("/vectors", {"ids": ids, "using": using})["vectors"]

    def changes(self, since: int, limit: int, using: str) -> dict:
        return self._post("/changes", {"since": since, "limit": limit, "using": using})

    def count(self) -> int:
        response = self.http.get("/count")
        response.raise_for_status()
        return response.json()["count"]

    def close(self) -> None:
        self.http.close()


def _named(vector, using: str) -> list[float] | None:
    """A point's named vector ``using`` as a list, None where the point lacks it."""
    named = vector.get(using) if isinstance(vector, dict) else None
    return None if named is None else list(named)


def open_index(settings: Settings) -> VectorIndex:
    """A Qdrant server when VIEWFINDER_QDRANT_URL is set, else the embedded index service."""
    if settings.qdrant_url:
        return QdrantIndex(
            settings.qdrant_url,
            settings.qdrant_collection,
            collection_vectors(settings.clip_dim),
            settings.qdrant_api_key,
        )
    if settings.index_url:
        return IndexServiceClient(settings.index_url)
    raise RuntimeError("no vector index configured: set VIEWFINDER_QDRANT_URL (or run `viewfinder up`)")
