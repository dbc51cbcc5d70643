"""A recommendation on the gateway's replica searches the narrowed filter alone first and makes
the relaxed search only when what it could add might reach the page (`recommender.recommend`):
the same results as making both searches at once, as any other index does (pure)."""

import numpy as np
import pytest

from core.colors import PALETTE_DIM, palette_vector
from query.recommendation import ranking, recommender
from query.recommendation.replica import SAMPLE, PaletteReplica

from .test_page import collection, preferences

N = 3 * SAMPLE  # enough for the searches' sampled thresholds and for 200 candidates a filter


class Counting:
    """The replica, counting the searches each `search_union` call is asked."""

    def __init__(self, replica: PaletteReplica):
        self.replica, self.asked = replica, []

    def search_union(self, requests):
        self.asked.append(len(requests))
        return self.replica.search_union(requests)


class SearchesOnly:
    """The replica as an index without `search_union` (the Qdrant server's way): both searches always."""

    def __init__(self, replica: PaletteReplica):
        self.replica = replica

    def search_many(self, requests):
        return self.replica.search_many(requests)


@pytest.fixture(scope="module")
def replica():
    ids, payloads = collection(5, n=N - 40)  # its last 40 are its first 40 again: equal scores
    replica = PaletteReplica(PALETTE_DIM, capacity=N)
    replica.apply(
        [
            {"id": iid, "vector": palette_vector([(c["hex"], c["coverage"]) for c in p["colors"]]), "payload": p}
            for iid, p in zip(ids, payloads)
            if p["colors"]
        ]
    )
    return replica


def test_the_results_are_those_of_making_both_searches(replica):
    rng = np.random.default_rng(8)
    alone = relaxed_too = 0
    for _ in range(80):
        prefs = preferences(rng)
        resolved = ranking.resolve_tags(prefs.tags)
        counting = Counting(replica)
        got = recommender.recommend(counting, prefs, resolved)
        assert got == recommender.recommend(SearchesOnly(replica), prefs, resolved)
        if counting.asked == [1] and (prefs.orientation or prefs.tags):
            alone += 1  # the narrowed search was enough
        relaxed_too += counting.asked == [1, 2]
    assert alone > 10 and relaxed_too > 0
