"""The replica picks a search's best rows from those above a sampled threshold: never one fewer
than a full selection would."""

import numpy as np
import pytest

from query.recommendation.replica import SAMPLE, _above_threshold


def best(scores: np.ndarray, rows: np.ndarray, limit: int) -> list[float]:
    return sorted(scores[rows].tolist(), reverse=True)[:limit]


@pytest.mark.parametrize("share", [1.0, 0.33, 0.05, 0.002, 0.0])
@pytest.mark.parametrize("limit", [1, 10, 200, 1000])
def test_the_best_rows_are_all_above_the_threshold(share, limit):
    rng = np.random.default_rng(int(share * 1000) + limit)
    n = 30 * SAMPLE
    # Coarse scores: many ties, the threshold often falls on one.
    scores = (rng.random(n) * 50).round().astype(np.float32) / 50
    mask = rng.random(n) < share
    rows = _above_threshold(scores, mask, limit)
    everything = np.flatnonzero(mask)
    assert set(rows.tolist()) <= set(everything.tolist())
    assert best(scores, rows, limit) == best(scores, everything, limit)
    assert len(rows) >= min(limit, len(everything))
    if share >= 0.33 and limit <= 200:  # the point of it: far fewer rows than the mask's
        assert len(rows) < len(everything) / 10


def test_small_sets_are_taken_whole():
    scores = np.arange(100, dtype=np.float32)
    mask = np.ones(100, bool)
    assert _above_threshold(scores, mask, 5).tolist() == list(range(100))
