"""The replica's searches rule rows out by a bound on their score before scoring them exactly:
never one that a full scoring would have kept."""

import numpy as np
import pytest

from core.colors import PALETTE_DIM, palette_vector, rgb_to_hex
from query.recommendation.replica import SAMPLE, PaletteReplica

N = 20 * SAMPLE


@pytest.fixture(scope="module")
def replica():
    rng = np.random.default_rng(3)
    # Palette-like rows (bumps of a few colours) and, for ties, some rows twice over.
    colours = rng.integers(0, 256, (500, 3))
    base = np.array([palette_vector([(rgb_to_hex(c), 100.0)]) for c in colours])
    vectors = base[rng.integers(0, 500, N)] + 0.3 * base[rng.integers(0, 500, N)] * rng.random((N, 1))
    vectors[N // 2 : N // 2 + 3000] = vectors[:3000]
    vectors[-1000:] = rng.random((1000, PALETTE_DIM))  # far from any palette: a loose bound
    replica = PaletteReplica(PALETTE_DIM)
    tags = ["dog", "cat", "car"]
    replica.apply(
        [
            {
                "id": f"p{i}",
                "vector": vectors[i].tolist(),
                "payload": {
                    "orientation": ("landscape", "portrait")[i % 2],
                    "tags": [tags[i % 3]] if i % 7 else [],
                    "make": "leica" if i % 50 == 0 else "canon",  # a filter letting 2 % through
                },
            }
            for i in range(N)
        ]
    )
    return replica, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors, query, rows, limit):
    scores = vectors[rows] @ (np.asarray(query) / np.linalg.norm(query))
    return sorted(scores.tolist(), reverse=True)[:limit]


@pytest.mark.parametrize(
    "must",
    [
        None,
        {"orientation": "portrait"},
        {"tags": ["dog"]},
        {"orientation": ["portrait"], "tags": ["dog", "car"]},
        {"make": "leica"},
        {"tags": ["nothing"]},
    ],
)
@pytest.mark.parametrize("limit", [1, 10, 200, 3000])
def test_the_best_are_the_best_of_a_full_scoring(replica, must, limit):
    replica, vectors = replica
    rng = np.random.default_rng(limit)
    allowed = np.ones(N, bool)
    if must and "orientation" in must:
        allowed[::2] = False
    if must and "make" in must:
        allowed[np.arange(N) % 50 != 0] = False
    if must and "tags" in must:
        wanted = {("dog", "cat", "car").index(t) for t in must["tags"] if t != "nothing"}
        allowed &= [bool(i % 7) and i % 3 in wanted for i in range(N)]
    exclude = [f"p{i}" for i in range(5, 40)]  # the query below is p5's own vector
    allowed[5:40] = False
    for query in [palette_vector([("#3366aa", 100.0)]), vectors[5].tolist(), rng.random(PALETTE_DIM).tolist()]:
        hits = replica.search(query, must, limit, exclude)
        want = brute_force(vectors, query, np.flatnonzero(allowed), limit)
        assert [h["score"] for h in hits] == pytest.approx(want, abs=1e-5)
        assert all(allowed[int(h["id"][1:])] for h in hits)


def test_a_search_scores_few_rows_exactly(replica):
    replica, _ = replica
    query = replica._query(palette_vector([("#3366aa", 100.0)]))
    rows, _ = replica._best_rows(query, None, None, 200)
    assert 200 <= len(rows) < N / 20


def test_the_bound_on_int8_rows_is_never_below_a_score(replica):
    """The reduced rows are rounded to int8; the bound adds the most the rounding can hide."""
    replica, vectors = replica
    rng = np.random.default_rng(11)
    for _ in range(20):
        query = replica._query(palette_vector([(rgb_to_hex(rng.integers(0, 256, 3)), 100.0)]))
        scores = vectors.astype(np.float32) @ query.vector
        assert (query.bound >= scores - 1e-5).all()
        assert np.median(query.bound - scores) < 0.1  # and still a bound that rules rows out


def test_a_narrower_search_holds_every_hit_of_a_wider_one_that_it_lets_through(replica):
    """Equal scores are ranked by row, also where a limit cuts them, and a row scores the same
    in every search: what `recommender._narrowed` counts on. Rows i and N/2 + i (i < 3000) are
    the same vector, so asking for one of them ties the two at the top."""
    replica, vectors = replica
    rows = np.arange(N)
    narrower = {  # the fixture's payloads, by row
        "portrait": ({"orientation": "portrait"}, rows % 2 == 1),
        "dog or car": ({"tags": ["dog", "car"]}, (rows % 7 != 0) & (rows % 3 != 1)),
        "canon": ({"make": "canon"}, rows % 50 != 0),
    }
    for i in range(0, 60, 3):
        for limit in (1, 3, 200):
            wide = replica.search(vectors[i].tolist(), None, limit)
            scores = {h["id"]: h["score"] for h in wide}
            for must, lets in narrower.values():
                hits = replica.search(vectors[i].tolist(), must, limit)
                through = {h["id"] for h in wide if lets[int(h["id"][1:])]}
                assert through <= {h["id"] for h in hits}
                assert all(scores.get(h["id"], h["score"]) == h["score"] for h in hits)
