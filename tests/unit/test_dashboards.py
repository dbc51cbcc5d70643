"""The pure parts of the collection page: treemap layout, offline map background, graph data →
data source columns. No Bokeh server, no database."""

from __future__ import annotations

import itertools
import random
from datetime import date, datetime

import numpy as np
import pytest

from core import worldmap
from dashboards import columns, treemap
from query.analytics import graphs

# -- treemap ---------------------------------------------------------------------

BOXES = [(0, 0, 100, 100), (10, -5, 300, 40), (0, 0, 7, 90), (2.5, 3.5, 1, 1)]


def overlap(a: treemap.Rect, b: treemap.Rect) -> float:
    dx = min(a.x + a.dx, b.x + b.dx) - max(a.x, b.x)
    dy = min(a.y + a.dy, b.y + b.dy) - max(a.y, b.y)
    return max(0.0, dx) * max(0.0, dy)


def check_layout(values, box):
    x, y, dx, dy = box
    rects = treemap.squarify(values, *box)
    assert len(rects) == len(values)
    total, box_area = sum(values), dx * dy
    tol = 1e-9 * max(1.0, box_area)
    for v, r in zip(values, rects):
        assert r.dx >= 0 and r.dy >= 0
        assert r.area == pytest.approx(v / total * box_area, rel=1e-9, abs=tol)
        assert x - tol <= r.x and r.x + r.dx <= x + dx + tol
        assert y - tol <= r.y and r.y + r.dy <= y + dy + tol
    for a, b in itertools.combinations(rects, 2):
        assert overlap(a, b) <= tol
    assert sum(r.area for r in rects) == pytest.approx(box_area, rel=1e-9)  # tiles the whole box
    return rects


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("seed", range(8))
def test_treemap_areas_are_proportional_inside_the_box_without_overlap(box, seed):
    rng = random.Random(seed)
    values = [
        rng.choice([rng.uniform(0.01, 1), rng.uniform(1, 100), rng.uniform(100, 5000)])
        for _ in range(rng.randint(1, 40))
    ]
    check_layout(values, box)


def test_treemap_keeps_the_input_order_and_equal_values_make_squares():
    rects = check_layout([1, 1, 1, 1], (0, 0, 2, 2))
    assert sorted((r.x, r.y) for r in rects) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(r.dx == pytest.approx(1) and r.dy == pytest.approx(1) for r in rects)
    small_first = treemap.squarify([1, 9], 0, 0, 10, 1)
    assert small_first[0].area == pytest.approx(1) and small_first[1].area == pytest.approx(9)


def test_treemap_is_squarified_not_sliced():
    # Slice-and-dice would give 10 strips of aspect 10; squarify keeps every one near square.
    rects = check_layout([1] * 9 + [27], (0, 0, 60, 60))
    assert max(max(r.dx / r.dy, r.dy / r.dx) for r in rects) < 3


def test_treemap_zero_values_empty_input_and_bad_input():
    rects = check_layout([5, 0, 3], (0, 0, 10, 10))
    assert rects[1].area == 0 and rects[0].area == pytest.approx(62.5) and rects[2].area == pytest.approx(37.5)
    assert treemap.squarify([], 0, 0, 10, 10) == []
    assert all(r.area == 0 for r in treemap.squarify([0, 0], 0, 0, 10, 10))
    with pytest.raises(ValueError):
        treemap.squarify([1, -1], 0, 0, 10, 10)
    with pytest.raises(ValueError):
        treemap.squarify([1], 0, 0, -10, 10)


# -- offline map -----------------------------------------------------------------


def test_subsample_is_a_deterministic_stride():
    points = list(range(1000))
    assert worldmap.subsample(points, 100) == list(range(0, 1000, 10))
    assert worldmap.subsample(points, 300) == list(range(0, 1000, 4))  # never more than asked
    assert worldmap.subsample(points, 5000) == points
    assert worldmap.subsample(points, 0) == []
    assert worldmap.subsample([], 10) == []


def test_read_cities_skips_bad_rows(tmp_path):
    f = tmp_path / "cities.csv"
    f.write_text(
        "lat,lon,name,admin1,admin2,cc\n"
        '48.85341,2.3488,Paris,"Ile-de-France, region",Paris,FR\n'
        "abc,2.0,Broken,,,XX\n"
        "95.0,10.0,Off the globe,,,XX\n"
        "-33.86785,151.20732,Sydney,New South Wales,,AU\n",
        encoding="utf-8",
    )
    assert worldmap.read_cities(f) == [(48.85341, 2.3488), (-33.86785, 151.20732)]


def test_background_outlines_every_inhabited_continent():
    lats, lons = worldmap.background()
    assert 10_000 <= len(lats) == len(lons) <= worldmap.BACKGROUND_POINTS
    assert worldmap.background() is worldmap.background()  # read once per process
    assert all(-90 <= a <= 90 for a in lats) and all(-180 <= o <= 180 for o in lons)
    path = worldmap.cities_file()
    assert worldmap.subsample(worldmap.read_cities(path), worldmap.BACKGROUND_POINTS) == list(zip(lats, lons))
    regions = {
        "Europe": (35, 70, -10, 40),
        "North America": (15, 60, -130, -60),
        "South America": (-55, 10, -80, -35),
        "Africa": (-35, 35, -18, 50),
        "Asia": (5, 55, 60, 145),
        "Australia": (-45, -10, 112, 155),
    }
    for name, (lat0, lat1, lon0, lon1) in regions.items():
        inside = sum(1 for a, o in zip(lats, lons) if lat0 <= a <= lat1 and lon0 <= o <= lon1)
        assert inside >= 50, name


def test_web_mercator():
    assert worldmap.mercator(0, 0) == pytest.approx((0, 0), abs=1e-6)
    x, y = worldmap.mercator(45, 180)
    assert x == pytest.approx(20_037_508.34, abs=0.01)
    assert y == pytest.approx(5_621_521.49, abs=0.01)
    assert worldmap.mercator(90, 0) == worldmap.mercator(worldmap.MERCATOR_MAX_LAT, 0)
    (x0, y0), (x1, y1) = worldmap.WORLD_MERCATOR
    assert x1 == -x0 == pytest.approx(y1) == pytest.approx(-y0)  # the square world of the tiles


# -- graph data → columns ---------------------------------------------------------


def test_count_and_size_columns():
    assert columns.counts({"labels": [2019, "2020"], "counts": [3, 4], "unknown": 2}) == {
        "label": ["2019", "2020"],
        "count": [3, 4],
    }
    assert columns.counts({"labels": ["dog"], "counts": [5], "scores": [0.91]}) == {
        "label": ["dog"],
        "count": [5],
        "score": [0.91],
    }
    g = {"labels": ["0–2000", "≥2000"], "counts": [1, 2], "height_counts": [3, 0], "edges": [0, 2000, None]}
    assert columns.sizes(g) == {"label": ["0–2000", "≥2000"], "width": [1, 2], "height": [3, 0]}


def test_colour_columns_and_treemap_in_the_colours():
    g = {
        "labels": ["black", "white", "teal"],
        "counts": [5, 3, 1],
        "coverage": [300.0, 120.0, 4.0],
        "hex": ["#000000", "#ffffff", "#008080"],
    }
    assert columns.colours(g) == {
        "label": ["black", "white", "teal"],
        "hex": ["#000000", "#ffffff", "#008080"],
        "count": [5, 3, 1],
        "coverage": [300.0, 120.0, 4.0],
    }
    t = columns.treemap(g)
    assert t["label"] == g["labels"] and t["hex"] == g["hex"]
    areas = [(r - left) * (u - b) for left, r, b, u in zip(t["left"], t["right"], t["bottom"], t["top"])]
    assert [a / sum(areas) for a in areas] == pytest.approx([300 / 424, 120 / 424, 4 / 424])
    assert t["share"] == [70.8, 28.3, 0.9]
    assert t["text"] == ["black", "white", ""]  # 0.9 % is too small to hold a label
    assert t["text_colour"] == ["#ffffff", "#000000", "#ffffff"]
    assert all(
        left <= x <= r and b <= y <= u
        for left, r, b, u, x, y in zip(t["left"], t["right"], t["bottom"], t["top"], t["x"], t["y"])
    )
    empty = columns.treemap({"labels": ["black"], "counts": [0], "coverage": [0.0], "hex": ["#000000"]})
    assert empty["label"] == []


@pytest.mark.parametrize(
    "hex_colour, expected",
    [
        ("#000000", "#ffffff"),
        ("#ffffff", "#000000"),
        ("#ffff00", "#000000"),
        ("#000080", "#ffffff"),
        ("#808080", "#000000"),
        ("not a colour", "#000000"),
    ],
)
def test_text_colour_reads_on_its_background(hex_colour, expected):
    assert columns.text_colour(hex_colour) == expected


def test_map_points_in_degrees_or_web_mercator():
    g = {
        "points": {
            "id": ["a", "b"],
            "latitude": [48.85, -33.86],
            "longitude": [2.35, 151.2],
            "country": ["France", None],
            "make": [None, "Canon"],
        },
        "count": 2,
        "truncated": False,
    }
    p = columns.points(g)
    assert p == {
        "x": [2.35, 151.2],
        "y": [48.85, -33.86],
        "id": ["a", "b"],
        "latitude": [48.85, -33.86],
        "longitude": [2.35, 151.2],
        "country": ["France", ""],
        "make": ["", "Canon"],
    }
    m = columns.points(g, web_mercator=True)
    assert (m["x"][0], m["y"][0]) == worldmap.mercator(48.85, 2.35)
    records = {
        "points": [
            {"id": "a", "latitude": 48.85, "longitude": 2.35, "country": "France", "make": None},
            {"id": "b", "latitude": -33.86, "longitude": 151.2, "country": None, "make": "Canon"},
        ]
    }
    assert columns.points(records) == p
    assert columns.background((10.0, -20.0), (30.0, 40.0)) == {"x": [30.0, 40.0], "y": [10.0, -20.0]}


def test_dendrogram_leaves_sit_where_their_labels_are():
    labels = ["dog", "cat", "car", "truck", "bicycle"]
    vectors = np.array([[1, 0.9, 0], [1, 1, 0], [0, 0.1, 1], [0, 0.2, 1], [0.3, 0, 1]], dtype=float)
    g = graphs.dendrogram(labels, [5, 4, 3, 2, 1], graphs.cosine_distances(vectors), "text-embedding")
    d = columns.dendrogram(g)
    assert len(d["xs"]) == len(d["ys"]) == len(labels) - 1
    ticks, names = columns.leaf_ticks(g)
    assert ticks == [5.0, 15.0, 25.0, 35.0, 45.0]
    # Every leaf is the end of a link at distance 0, at the tick that carries its label.
    leaf_ends = sorted(y for xs, ys in zip(d["xs"], d["ys"]) for x, y in zip(xs, ys) if x == 0)
    assert leaf_ends == ticks
    assert [names[t].split(" (")[0] for t in ticks] == g["labels"]
    assert set(g["labels"]) == set(labels)
    # Similar tags hang together: dog and cat are neighbours, so are car and truck.
    order = g["labels"]
    assert abs(order.index("dog") - order.index("cat")) == 1
    assert abs(order.index("car") - order.index("truck")) == 1
    assert names[ticks[order.index("dog")]] == "dog (5)"
    assert columns.dendrogram({"labels": [], "counts": [], "icoord": [], "dcoord": []}) == {"xs": [], "ys": []}


def test_filter_options_and_choices():
    g = {"labels": ["Canon", "SONY", "other"], "counts": [3, 2, 9]}
    assert columns.filter_options(g, None) == ["all", "Canon", "SONY"]
    assert columns.filter_options(g, "Leica") == ["all", "Canon", "SONY", "Leica"]
    assert columns.filter_options(g, "Canon") == ["all", "Canon", "SONY"]
    assert columns.choice("all") is None and columns.choice("") is None and columns.choice("Canon") == "Canon"


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        (date(2020, 5, 1), date(2020, 5, 1)),
        (datetime(2020, 5, 1, 23, 0), date(2020, 5, 1)),
        ("2020-05-01", date(2020, 5, 1)),
        ("2020-05-01T00:00:00", date(2020, 5, 1)),
        (1588291200000, date(2020, 5, 1)),
        (1588291200000.0, date(2020, 5, 1)),
    ],
)
def test_dates_from_widgets(value, expected):
    assert columns.as_date(value) == expected


def test_describe_names_every_active_filter():
    assert columns.describe(graphs.Filters()) == "no filters: the whole collection"
    text = columns.describe(graphs.Filters(since=date(2019, 1, 1), until=date(2019, 12, 31), make="Canon", tag="dog"))
    assert text == "filters: taken 2019-01-01 to 2019-12-31; camera make Canon; tagged dog"
    assert columns.describe(graphs.Filters(since=date(2019, 1, 1))) == "filters: taken on or after 2019-01-01"
    assert columns.describe(graphs.Filters(until=date(2019, 1, 1))) == "filters: taken on or before 2019-01-01"
