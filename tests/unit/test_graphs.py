"""The pure parts of the graphs: bins, labels, filters, names, distances, the dendrogram."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import numpy as np
import pytest

from query.analytics import graphs
from query.analytics.graphs import Filters


@pytest.mark.parametrize(
    "raw, step",
    [
        (0, 1),
        (0.3, 1),
        (1, 1),
        (1.5, 2),
        (3, 5),
        (7, 10),
        (12, 20),
        (100, 100),
        (101, 200),
        (250, 500),
        (860, 1000),
        (2001, 5000),
    ],
)
def test_nice_step_is_the_smallest_1_2_5_multiple_not_below_raw(raw, step):
    assert graphs.nice_step(raw) == step


def test_dynamic_bins_cover_the_data_with_about_ten_round_bins():
    rng = random.Random(7)
    for _ in range(2000):
        low = rng.randint(1, 20_000)
        high = low + rng.choice([0, 1, rng.randint(0, 50), rng.randint(0, 30_000)])
        start, step, n = graphs.dynamic_bins(low, high)
        assert start % step == 0 and start <= low < start + step
        assert start + (n - 1) * step <= high < start + n * step  # the last bin holds the largest
        assert str(step).strip("0") in ("1", "2", "5")
        if high - low >= 100:
            assert 4 <= n <= 12, (low, high, step, n)


def test_dynamic_bins_for_one_size_is_one_bin():
    assert graphs.dynamic_bins(640, 640) == (640, 1, 1)
    with pytest.raises(ValueError):
        graphs.dynamic_bins(10, 5)


def test_static_edges_and_labels_end_open_like_the_original():
    edges = graphs.bin_edges(0, 2000, 4, open_ended=True)
    assert edges == [0, 2000, 4000, 6000, None]
    assert graphs.bin_labels(edges) == ["0–2000", "2000–4000", "4000–6000", "≥6000"]
    closed = graphs.bin_edges(300, 100, 2, open_ended=False)
    assert closed == [300, 400, 500]
    assert graphs.bin_labels(closed) == ["300–400", "400–500"]


def test_labels_for_open_ended_first_bins_carry_the_unit():
    assert graphs.bin_labels([None, 0, 500, None], " m") == ["<0 m", "0–500 m", "≥500 m"]


def test_years_are_contiguous_with_zero_for_missing_ones():
    assert graphs.fill_years({2021: 1, 2019: 2}) == (["2019", "2020", "2021"], [2, 0, 1])
    assert graphs.fill_years({}) == ([], [])


def test_top_with_other_orders_by_count_then_label_and_sums_the_rest():
    rows = [("b", 5), ("a", 5), ("c", 9), ("d", 1), ("e", 2)]
    assert graphs.top_with_other(rows, 3) == (["c", "a", "b", "other"], [9, 5, 5, 3])
    assert graphs.top_with_other(rows, 5) == (["c", "a", "b", "e", "d"], [9, 5, 5, 2, 1])


def test_jaccard_distance_from_counts_and_co_occurrences():
    # a: 4 images, b: 2 (both also in a), c: 3 (none shared)
    d = graphs.jaccard_distances([4, 2, 3], {(1, 0): 2})
    assert d[0, 1] == d[1, 0] == pytest.approx(0.5)
    assert d[0, 2] == d[1, 2] == 1.0
    assert np.all(np.diag(d) == 0)


def test_cosine_distance_of_embeddings():
    vectors = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])  # not unit: normalised first
    d = graphs.cosine_distances(vectors)
    assert d[0, 1] == pytest.approx(0.0)
    assert d[0, 2] == pytest.approx(1.0)
    assert d[0, 3] == pytest.approx(2.0)
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)


def test_dendrogram_puts_close_tags_side_by_side():
    labels = ["dog", "car", "cat", "truck"]
    counts = [10, 20, 30, 40]
    d = np.array([[0.0, 0.9, 0.1, 0.95], [0.9, 0.0, 0.92, 0.2], [0.1, 0.92, 0.0, 0.9], [0.95, 0.2, 0.9, 0.0]])
    tree = graphs.dendrogram(labels, counts, d, "co-occurrence")
    order = tree["labels"]
    assert sorted(order) == sorted(labels)
    assert abs(order.index("dog") - order.index("cat")) == 1
    assert abs(order.index("car") - order.index("truck")) == 1
    assert tree["counts"] == [dict(zip(labels, counts))[label] for label in order]
    assert len(tree["icoord"]) == len(tree["dcoord"]) == len(labels) - 1  # one ∩ per merge
    assert max(max(row) for row in tree["dcoord"]) == pytest.approx((0.9 + 0.95 + 0.92 + 0.9) / 4)
    assert tree["method"] == "co-occurrence"
    json.dumps(tree)


@pytest.mark.parametrize("labels", [[], ["dog"]])
def test_dendrogram_of_fewer_than_two_tags_is_empty(labels):
    tree = graphs.dendrogram(labels, [1] * len(labels), np.zeros((len(labels), len(labels))), "text-embedding")
    assert tree == {"labels": [], "counts": [], "icoord": [], "dcoord": [], "method": "text-embedding"}


def test_cached_embedder_embeds_each_text_once():
    seen = []

    def embed(texts):
        seen.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts])

    cached = graphs.cached_embedder(embed)
    first = cached(["dog", "horse"])
    second = cached(["horse", "cat", "dog"])
    assert seen == [["dog", "horse"], ["cat"]]
    assert np.array_equal(second, np.array([[5, 1.0], [3, 1.0], [3, 1.0]]))
    assert np.array_equal(first[0], second[2])


def test_filters_from_a_query():
    f = Filters.from_query({"since": "2020-01-01", "until": " 2021-06-30 ", "make": " Canon ", "tag": "dog"})
    assert f == Filters(date(2020, 1, 1), date(2021, 6, 30), "Canon", "dog")
    assert Filters.from_query(f.to_query()) == f
    assert Filters.from_query({"since": "", "make": "  "}) == Filters()
    assert Filters.from_query({"until": "2021-06-30"}).since is None


@pytest.mark.parametrize(
    "query, message",
    [
        ({"since": "yesterday"}, "since must be a date as YYYY-MM-DD"),
        ({"until": "2021-13-01"}, "until must be a date"),
        ({"since": "2022-01-02", "until": "2022-01-01"}, "since (2022-01-02) is after until (2022-01-01)"),
        ({"make": "x" * 201}, "make is longer than 200"),
    ],
)
def test_bad_filters_say_what_is_wrong(query, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Filters.from_query(query)


def test_where_clause_carries_user_input_only_as_parameters():
    hostile = "x'; DROP TABLE images; --"
    clause, params = graphs.where(Filters(date(2020, 1, 1), date(2020, 12, 31), hostile, "  Teddy   Bear "))
    assert hostile not in clause and "2020" not in clause
    assert params == {
        "since": date(2020, 1, 1),
        "until_next_day": date(2020, 12, 31) + timedelta(days=1),
        "make": hostile,
        "tag": "teddy bear",
    }
    assert clause.startswith("i.status = 'enriched'")
    assert graphs.where(Filters()) == ("i.status = 'enriched'", {})


def test_graph_names_parse():
    assert graphs.parse_name("size/static/2000/4") == ("size/static", (2000, 4))
    assert graphs.parse_name("size/static") == ("size/static", graphs.STATIC_DEFAULT)
    assert graphs.parse_name("size/static/500") == ("size/static", (500, graphs.STATIC_DEFAULT[1]))
    for name in graphs.NAMES[1:]:
        assert graphs.parse_name(name) == (name, ())


@pytest.mark.parametrize(
    "name",
    [
        "size/static/0/4",
        "size/static/2000/0",
        "size/static/2000/51",
        "size/static/abc/4",
        "size/static/2000/4.5",
        "size/static/-1/4",
    ],
)
def test_bad_size_parameters_are_value_errors(name):
    with pytest.raises(ValueError):
        graphs.graph(None, name)  # refused before any database access


@pytest.mark.parametrize("name", ["nope", "size", "size/static/1/2/3", "tags", "year/2020", ""])
def test_unknown_graphs_are_key_errors(name):
    with pytest.raises(KeyError, match="no graph"):
        graphs.graph(None, name)
