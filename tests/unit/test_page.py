"""The page of a recommendation, valued most promising first (`recommender.page`): the same
results, totals and folds as valuing every candidate, with the colours of fewer compared (pure)."""

import numpy as np
import pytest

from query.recommendation import ranking
from query.recommendation.recommender import _Marks, best_first, fold_near_duplicates, page

ORIENTATIONS = ("landscape", "portrait", "square")
MAKES = ("canon", "nikon", "leica")
TAGS = ("dog", "cat", "car", "person")


def collection(seed: int, n: int = 300) -> tuple[list[str], list[dict]]:
    rng = np.random.default_rng(seed)
    payloads = []
    for _ in range(n):
        hexes = ["#{:02x}{:02x}{:02x}".format(*rng.integers(0, 256, 3).tolist()) for _ in range(rng.integers(0, 5))]
        cover = rng.dirichlet(np.ones(len(hexes))) * 100 if hexes else []
        payloads.append(
            {
                "colors": [{"hex": h, "coverage": round(float(c), 2)} for h, c in zip(hexes, cover)],
                "orientation": ORIENTATIONS[rng.integers(3)],
                "make": MAKES[rng.integers(3)] if rng.random() < 0.8 else None,
                "tags": sorted({TAGS[t] for t in rng.integers(0, 4, rng.integers(0, 3))}),
                "width": int(rng.integers(200, 5000)),
                "height": int(rng.integers(200, 5000)),
                # Few distinct hashes: near-duplicates to fold.
                "phash": int(rng.choice([0x0F0F0F0F0F0F0F0F, 0x123456789ABCDEF0, 0x7EDCBA9876543210]))
                if rng.random() < 0.3
                else None,
            }
        )
    payloads += payloads[:40]  # the same images again under other ids: equal totals, ordered by id
    return [f"img-{i:04d}" for i in range(len(payloads))], payloads


def preferences(rng) -> ranking.Preferences:
    body: dict = {"limit": int(rng.choice([1, 5, 10, 60])), "group_duplicates": bool(rng.random() < 0.7)}
    if rng.random() < 0.85:
        body["color"] = "#{:02x}{:02x}{:02x}".format(*rng.integers(0, 256, 3).tolist())
    if rng.random() < 0.7:
        body["orientation"] = ORIENTATIONS[rng.integers(3)]
    if rng.random() < 0.4:
        body["make"] = MAKES[rng.integers(3)]
    if rng.random() < 0.4:
        body["tags"] = [TAGS[rng.integers(4)]]
    if rng.random() < 0.2:
        body["width"] = int(rng.integers(100, 6000))
    return ranking.parse_preferences(body)


class Counting(ranking.Valuing):
    valued = 0

    def values(self, rows):
        self.valued += len(rows)
        return super().values(rows)


@pytest.mark.parametrize("seed", range(12))
def test_the_page_is_the_one_valuing_every_candidate_makes(seed):
    ids, payloads = collection(seed)
    found = ranking.Candidates.of(payloads, ids)
    rng = np.random.default_rng(100 + seed)
    spared = 0
    for _ in range(25):
        prefs = preferences(rng)
        wanted = ranking.as_wanted(ranking.resolve_tags(prefs.tags))
        # Every candidate valued, as recommend did before it valued the promising first.
        totals = ranking.values(prefs, found, wanted)
        order = best_first(totals, ids)
        if prefs.group_duplicates:
            top, folded = fold_near_duplicates(order, _Marks(payloads), prefs.limit)
        else:
            top, folded = order[: prefs.limit], {}

        valuing = Counting(prefs, found, wanted)
        got_top, got_folded, got_totals = page(prefs, valuing, ids, payloads, {})
        assert (got_top, got_folded) == (top, folded)
        assert [got_totals[i] for i in top] == [totals[i] for i in top]  # to the bit
        spared += len(found) - valuing.valued
    assert spared > 0  # some candidates' colours were never compared


def test_a_candidate_whose_bound_ties_the_last_shown_is_valued_and_ordered_by_id():
    red = [{"hex": "#aa3311", "coverage": 100.0}]
    payloads = [
        {"colors": [{"hex": "#aa3512", "coverage": 100.0}], "orientation": "portrait"},
        {"colors": [{"hex": "#ab3311", "coverage": 100.0}], "orientation": "portrait"},
        {"colors": [], "orientation": "portrait"},  # no colour fit: a total of 1/2
        {"colors": red, "orientation": "landscape"},  # a full colour fit, the wrong way round: 1/2 as well
    ]
    ids = ["b", "c", "e", "a"]
    found = ranking.Candidates.of(payloads, ids)
    prefs = ranking.parse_preferences({"color": "#aa3311", "orientation": "portrait", "limit": 3})
    top, _, totals = page(prefs, ranking.Valuing(prefs, found, {}), ids, payloads, {})
    assert totals[2] == totals[3] == 0.5
    assert top == [1, 0, 3]  # "a" before "e"


def test_a_judging_users_feedback_values_every_candidate():
    ids, payloads = collection(99, n=60)
    found = ranking.Candidates.of(payloads, ids)
    prefs = ranking.parse_preferences({"color": "#aa3311", "orientation": "portrait", "limit": 5})
    wanted = ranking.as_wanted({})
    fits = {ids[7]: 1.0, ids[8]: 0.0}
    valuing = Counting(prefs, found, wanted)
    top, _, totals = page(prefs, valuing, ids, payloads, fits)
    assert valuing.valued == len(found)
    plain = ranking.values(prefs, found, wanted)
    assert totals[7] == (plain[7] * 2 + 1.0) / 3 and totals[8] == plain[8] * 2 / 3
