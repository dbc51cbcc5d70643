"""Folding near-duplicates out of a ranked page (pure)."""

import pytest

from core.perceptual import NEAR
from query.recommendation.ranking import PreferenceError, parse_preferences
from query.recommendation.recommender import fold_near_duplicates

RED = [{"hex": "#c81e1e", "coverage": 90.0}, {"hex": "#0a0a0a", "coverage": 10.0}]
GREEN = [{"hex": "#1ec81e", "coverage": 90.0}, {"hex": "#0a0a0a", "coverage": 10.0}]
A = (0x0F0F_0F0F_0F0F_0F0F, RED)
A_COPY = (A[0] ^ 0b111, RED)  # 3 bits from A, the same colours
A_GREEN = (A[0], GREEN)  # A's layout in other colours
B = (~A[0], RED)  # 64 bits from A


def test_the_best_of_each_group_stays_and_counts_the_rest():
    order = [0, 1, 2, 3, 4]
    hashes = [A, A_COPY, B, A, None]
    kept, folded = fold_near_duplicates(order, hashes, limit=10)
    assert kept == [0, 2, 4] and folded == {0: 2}


def test_the_page_fills_past_folded_ones_and_stops_at_the_limit():
    other = (0x1234_5678_9ABC_DEF0, RED)
    kept, folded = fold_near_duplicates([3, 0, 1, 2, 4], [A, A_COPY, B, A, other], limit=2)
    assert kept == [3, 2] and folded == {3: 2}  # 0 and 1 fold into 3, 2 fills the page, 4 is past it


def test_images_without_a_hash_never_fold_and_the_threshold_counts():
    assert fold_near_duplicates([0, 1], [None, None], limit=5) == ([0, 1], {})
    far = (A[0] ^ ((1 << (NEAR + 1)) - 1), RED)  # NEAR + 1 bits away
    assert fold_near_duplicates([0, 1], [A, far], limit=5) == ([0, 1], {})
    assert fold_near_duplicates([0, 1], [A, far], limit=5, within=NEAR + 1) == ([0], {0: 1})


def test_the_same_layout_in_other_colours_does_not_fold():
    assert fold_near_duplicates([0, 1], [A, A_GREEN], limit=5) == ([0, 1], {})


def test_grouping_is_a_boolean_preference():
    assert parse_preferences({}).group_duplicates is True
    assert parse_preferences({"group_duplicates": False}).group_duplicates is False
    for bad in ("no", 0, [], {}):
        with pytest.raises(PreferenceError, match="group_duplicates"):
            parse_preferences({"group_duplicates": bad})
