"""The gateway's replica of the colour space answers like the index service itself, sees every
acknowledged write at once, and starts over when the service restarts."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest

from connectors.vectors import EdgeIndex, IndexServiceClient
from query.recommendation import ranking, recommender
from query.recommendation.replica import PaletteReplica, ReplicatedIndex
from tests.integration.test_vector_index import DIM, VECTORS, points
from tests.support import poll
from viewfinder.embedded import index as index_service

FILTERS = [
    {},
    {"orientation": "landscape"},
    {"make": "canon"},
    {"make": ["canon", "sony"]},
    {"tags": ["dog", "cat"]},
    {"orientation": "portrait", "tags": ["car"]},
    {"make": "leica"},
]


def as_replica_points(data):
    return [{"id": p["id"], "vector": p["vectors"]["palette"], "payload": p["payload"]} for p in data]


def same_hits(ours, theirs):
    assert [h["id"] for h in ours] == [h["id"] for h in theirs]
    assert [h["score"] for h in ours] == pytest.approx([h["score"] for h in theirs], abs=1e-5)
    assert [h["payload"] for h in ours] == [h["payload"] for h in theirs]


def test_replica_searches_like_the_engine(tmp_path):
    data = points(400)
    engine = EdgeIndex(tmp_path / "shard", VECTORS)
    engine.ensure()
    engine.upsert(data)
    replica = PaletteReplica(DIM, capacity=16)  # grows while applying
    replica.apply(as_replica_points(data))
    rng = random.Random(11)
    for must in FILTERS:
        query = [rng.random() for _ in range(DIM)]
        exclude = [p["id"] for p in rng.sample(data, 20)]
        same_hits(replica.search(query, must, 25, exclude), engine.search("palette", query, must, 25, exclude=exclude))
    engine.close()


class AsHits:
    """The replica as any other index answers: hits with their payloads, no columns."""

    def __init__(self, replica):
        self.replica = replica

    def search_many(self, requests):
        return self.replica.search_many([{k: v for k, v in r.items() if k != "using"} for r in requests])


def test_recommendations_from_the_replicas_columns_are_those_from_its_hits():
    rng = random.Random(5)
    data = points(600)
    for i, p in enumerate(data):
        p["payload"]["colors"] = [
            {"hex": f"#{rng.randrange(1 << 24):06x}", "coverage": c}
            for c in (55.0, 25.0, 12.0, 8.0)[: rng.randint(0, 4)]
        ]
        p["payload"]["height"] = rng.choice([None, rng.randint(100, 4000)])
        if i % 3 == 0:  # near-duplicate groups to fold: pairs of one hash and one palette
            p["payload"]["phash"] = i // 6
            p["payload"]["colors"] = data[i - i % 6]["payload"]["colors"]
    replica = PaletteReplica(DIM)
    replica.apply(as_replica_points(data))
    for i in range(60):
        body = {"limit": rng.choice([1, 10, 20]), "group_duplicates": i % 4 != 0}
        if i % 5:  # without a colour, scores tie: the order is by id
            body["color"] = f"#{rng.randrange(1 << 24):06x}"
        if i % 2:
            body.update(orientation=rng.choice(["landscape", "portrait"]), tags=rng.sample(["dog", "cat", "bus"], 2))
        if i % 3 == 1:
            body["make"] = rng.choice(["canon", "sony"])
        if i % 7 == 2:
            body.update(width=rng.randint(100, 5000), height=rng.choice([None, rng.randint(100, 5000)]))
        prefs = ranking.parse_preferences(body)
        resolved = ranking.resolve_tags(prefs.tags)
        columns = recommender.recommend(replica, prefs, resolved)
        hits = recommender.recommend(AsHits(replica), prefs, resolved)
        assert columns == hits and len(columns) == prefs.limit, body


def test_a_replaced_point_leaves_its_old_tags_and_values():
    data = points(50)
    replica = PaletteReplica(DIM)
    replica.apply(as_replica_points(data))
    target = data[0]
    changed = {**target["payload"], "tags": ["zebra"], "make": "leica"}
    replica.apply([{"id": target["id"], "vector": target["vectors"]["palette"], "payload": changed}])
    assert len(replica) == len(data)
    query = target["vectors"]["palette"]
    assert [h["id"] for h in replica.search(query, {"tags": ["zebra"]}, 5)] == [target["id"]]
    assert [h["id"] for h in replica.search(query, {"make": "leica"}, 5)] == [target["id"]]
    for tag in target["payload"]["tags"]:
        assert target["id"] not in {h["id"] for h in replica.search(query, {"tags": [tag]}, 50)}


def test_filters_it_cannot_answer_are_left_to_the_service():
    assert PaletteReplica.serves({"make": "canon", "tags": ["dog"], "orientation": "square"})
    assert not PaletteReplica.serves({"width": 640})
    assert not PaletteReplica.serves({"year": [2020]})


@pytest.fixture
def service_dir():
    path = Path(tempfile.mkdtemp(prefix="viewfinder-index-"))
    (path / "logs").mkdir()
    return path


def test_gateway_replica_follows_the_index_service(service_dir):
    proc, url = index_service.start(service_dir, VECTORS)
    writer, reader = IndexServiceClient(url), IndexServiceClient(url)
    replicated = None
    try:
        data = points(300)
        writer.upsert(data[:200])
        replicated = ReplicatedIndex(reader, DIM, page=64)  # several pages for the first copy
        poll(lambda: replicated.replica is not None, 30, what="the first full copy")
        rng = random.Random(5)
        for must in FILTERS:
            query = [rng.random() for _ in range(DIM)]
            request = {"using": "palette", "vector": query, "must": must, "limit": 20}
            same_hits(replicated.search_many([request])[0], reader.search_many([request])[0])

        assert replicated.answers_now()  # caught up: a search reads no network

        # Read-your-writes: once the service acknowledged an upsert, the next search has it.
        writer.upsert(data[200:])
        assert not replicated.answers_now()  # behind: the next search fetches the changes first
        query = data[250]["vectors"]["palette"]
        assert replicated.search("palette", query, {}, 1)[0]["id"] == data[250]["id"]
        assert len(replicated.replica) == 300
        assert replicated.answers_now()

        # Anything beyond colours and keyword filters is the service's own answer.
        liked = reader.vectors([data[0]["id"]], "palette")[data[0]["id"]]
        same_hits(
            replicated.search("palette", None, {}, 5, positives=[liked]),
            reader.search("palette", None, {}, 5, positives=[liked]),
        )
        # A recommendation with likes and dislikes: candidates from the replica's columns, the
        # feedback from the service, the same as from the service alone.
        opinions = recommender.Opinions([data[0]["id"], data[7]["id"]], [data[3]["id"]])
        for body in ({"color": "#dd2222", "limit": 30}, {"orientation": "portrait", "tags": ["dog"]}):
            prefs = ranking.parse_preferences(body)
            resolved = ranking.resolve_tags(prefs.tags)
            ours = recommender.recommend(replicated, prefs, resolved, opinions)
            theirs = recommender.recommend(reader, prefs, resolved, opinions)
            assert ours == theirs and any("feedback" in r["why"] for r in ours)
    finally:
        proc.stop()
    # A restarted service numbers its changes anew: the replica notices and copies again.
    proc, url = index_service.start(service_dir, VECTORS, port=int(url.rsplit(":", 1)[1]))
    try:
        first = replicated.replica
        writer.upsert(points(301)[300:])
        assert not replicated.answers_now()  # another epoch: a fresh copy is needed
        assert replicated.search("palette", [1.0] * DIM, {}, 3)  # answered by the service meanwhile
        poll(
            lambda: (
                replicated.replica is not None and replicated.replica is not first and len(replicated.replica) == 301
            ),
            30,
            what="a fresh copy after the restart",
        )
    finally:
        replicated.close()
        writer.close()
        proc.stop()
