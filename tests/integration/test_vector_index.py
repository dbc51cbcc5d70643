"""The two engines behind `VectorIndex` answer alike: Qdrant's in-process engine (embedded
default) and qdrant-client (the Qdrant server in production; its local mode here)."""

from __future__ import annotations

import random
import uuid

import pytest

from connectors.vectors import EdgeIndex, QdrantIndex
from schemas.vectors import collection_vectors

VECTORS = collection_vectors(clip_dim=8)
DIM = VECTORS["palette"]


def points(n: int = 300) -> list[dict]:
    rng = random.Random(7)
    return [
        {
            "id": uuid.UUID(int=rng.getrandbits(128)).hex,
            # Every other point has no CLIP vector, as when the model was unavailable.
            "vectors": {
                "palette": [rng.random() for _ in range(DIM)],
                **({"clip": [rng.random() for _ in range(8)]} if rng.random() < 0.5 else {}),
            },
            "payload": {
                "orientation": rng.choice(["landscape", "portrait", "square"]),
                "make": rng.choice(["canon", "sony", None]),
                "tags": rng.sample(["dog", "cat", "car", "tree"], rng.randint(0, 2)),
                "width": rng.randint(100, 4000),
            },
        }
        for _ in range(n)
    ]


@pytest.fixture(params=["edge", "qdrant-client"])
def index(request, tmp_path):
    engine = (
        EdgeIndex(tmp_path / "shard", VECTORS)
        if request.param == "edge"
        else QdrantIndex(":memory:", "images", VECTORS)
    )
    engine.ensure()
    yield engine
    engine.close()


def brute_force(data, query, must, limit):
    def matches(p):
        for key, value in must.items():
            actual = p["payload"].get(key)
            wanted = value if isinstance(value, list) else [value]
            have = actual if isinstance(actual, list) else [actual]
            if not set(wanted) & set(have):
                return False
        return True

    def cosine(a, b):
        dot = sum(x * y for x, y in zip(a, b))
        return dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)

    ranked = sorted((p for p in data if matches(p)), key=lambda p: -cosine(p["vectors"]["palette"], query))
    return [p["id"] for p in ranked[:limit]]


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_filtered_search_matches_brute_force(index):
    data = points()
    index.upsert(data)
    index.upsert(data[:50])  # upserting again keeps one point per id
    assert index.count() == len(data)
    rng = random.Random(3)
    for must in [{}, {"orientation": "landscape"}, {"make": "canon", "tags": ["dog", "cat"]}]:
        query = [rng.random() for _ in range(DIM)]
        hits = index.search("palette", query, must, 10)
        assert [h["id"] for h in hits] == brute_force(data, query, must, 10)
        assert all(h["payload"]["orientation"] == must.get("orientation", h["payload"]["orientation"]) for h in hits)


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_points_without_a_named_vector_are_skipped_by_searches_on_it(index):
    data = points(120)
    index.upsert(data)
    with_clip = {p["id"] for p in data if "clip" in p["vectors"]}
    assert 0 < len(with_clip) < len(data)
    hits = index.search("clip", [1.0] * VECTORS["clip"], {}, len(data))
    assert {h["id"] for h in hits} == with_clip


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_recommend_by_examples_among_and_excluding_ids(index):
    data = points(200)
    index.upsert(data)
    liked, disliked = data[0], data[1]
    vectors = index.vectors([liked["id"], disliked["id"], "0" * 32], "palette")
    assert set(vectors) == {liked["id"], disliked["id"]}
    stored = liked["vectors"]["palette"]
    norm = sum(v * v for v in stored) ** 0.5  # cosine collections keep unit vectors
    assert vectors[liked["id"]] == pytest.approx([v / norm for v in stored], abs=1e-5)
    nearest = index.search("palette", vectors[liked["id"]], limit=2)
    assert nearest[0]["id"] == liked["id"]
    liked_only = index.search("palette", positives=[vectors[liked["id"]]], limit=10, exclude=[liked["id"]])
    assert liked["id"] not in {h["id"] for h in liked_only} and len(liked_only) == 10
    assert liked_only[0]["id"] == nearest[1]["id"]  # the closest other point leads
    both = index.search("palette", positives=[vectors[liked["id"]]], negatives=[vectors[disliked["id"]]], limit=200)
    assert both[-1]["id"] == disliked["id"]  # the disliked example itself ranks last
    some = [p["id"] for p in data[10:20]]
    assert {h["id"] for h in index.search("palette", vectors[liked["id"]], limit=50, among=some)} == set(some)


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_searches_together_answer_as_searches_alone(index):
    data = points(150)
    index.upsert(data)
    query = data[3]["vectors"]["palette"]
    requests = [
        {"using": "palette", "vector": query, "must": {"orientation": "portrait"}, "limit": 7},
        {"using": "palette", "vector": query, "must": None, "limit": 5, "exclude": [data[3]["id"]]},
    ]
    together = index.search_many(requests)
    alone = [index.search(**r) for r in requests]
    assert [[h["id"] for h in hits] for hits in together] == [[h["id"] for h in hits] for hits in alone]
    assert len(together[0]) == 7 and data[3]["id"] not in {h["id"] for h in together[1]}


def test_a_recommendation_asks_the_qdrant_server_once():
    """Round trips per recommendation on the production path (each call of the client is one
    HTTP request to a Qdrant server): the candidate searches go in one batch; feedback adds, per
    vector space, the examples' vectors and one more batch."""
    from query.recommendation import ranking, recommender

    index = QdrantIndex(":memory:", "images", VECTORS)
    index.ensure()
    data = points()
    index.upsert(data)
    calls: dict[str, int] = {}
    for name in ("query_points", "query_batch_points", "retrieve", "scroll", "count"):
        method = getattr(index.client, name)

        def counted(*args, _method=method, _name=name, **kwargs):
            calls[_name] = calls.get(_name, 0) + 1
            return _method(*args, **kwargs)

        setattr(index.client, name, counted)
    prefs = ranking.parse_preferences({"color": "#336699", "orientation": "landscape", "tags": ["dog"], "limit": 20})
    resolved = ranking.resolve_tags(prefs.tags)
    plain = recommender.recommend(index, prefs, resolved)
    assert len(plain) == 20 and calls == {"query_batch_points": 1}

    calls.clear()
    liked, disliked = data[0]["id"], data[1]["id"]
    judged = recommender.recommend(index, prefs, resolved, recommender.Opinions([liked], [disliked]))
    assert calls == {"query_batch_points": 3, "retrieve": 2}
    assert all("feedback" in r["why"] for r in judged) and {liked, disliked}.isdisjoint(r["id"] for r in judged)
    index.close()
