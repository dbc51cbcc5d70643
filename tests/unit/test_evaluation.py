"""The ranking metrics on cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from query.recommendation.evaluation import ndcg_at, recall_at, reciprocal_rank, scores


def test_recall_counts_relevant_items_in_the_top_k():
    ranked = ["a", "b", "c", "d"]
    assert recall_at(ranked, {"b", "d"}, 2) == 0.5
    assert recall_at(ranked, {"b", "d"}, 4) == 1.0
    assert recall_at(ranked, {"z"}, 4) == 0.0
    assert recall_at(ranked, set(), 4) == 0.0


def test_ndcg_discounts_by_position_and_normalises_by_the_ideal():
    # Hit at rank 2 only, two relevant items: DCG = 1/log2(3); ideal = 1 + 1/log2(3).
    assert ndcg_at(["a", "b", "c"], {"b", "z"}, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["b", "z"], {"b", "z"}, 2) == pytest.approx(1.0)
    assert ndcg_at(["a", "c"], {"b"}, 2) == 0.0
    # One relevant item found first: perfect, however many places k allows.
    assert ndcg_at(["b", "a", "c"], {"b"}, 10) == pytest.approx(1.0)


def test_reciprocal_rank_is_one_over_the_first_hit():
    assert reciprocal_rank(["a", "b", "c"], {"c", "b"}) == 0.5
    assert reciprocal_rank(["a"], {"b"}) == 0.0


def test_scores_average_over_queries():
    out = scores([(["a", "b"], {"a"}), (["x", "y"], {"y"})], k=2)
    assert out["recall@2"] == 1.0
    assert out["mrr"] == pytest.approx((1 + 0.5) / 2)
    assert out["ndcg@2"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
