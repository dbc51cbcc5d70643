"""GET /visualize/graph/<name> and `viewfinder export` on the real stack.

The session stack is shared with other test files, so expected numbers come either from the
database itself (independent SQL) or from this file's own photos, which carry a camera brand
nobody else uses ("Vfgraph", in three spellings) and dates from the early 1990s.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from connectors import export
from core.colors import css3_hex
from query.analytics import graphs
from tests.support import poll
from tests.support.photos import Photo, jpeg

ROOT = Path(__file__).resolve().parents[2]
BRAND = "vfgraph"
# name → (photo, country); widths/heights/altitudes chosen to land in known bins. The tests' tiny
# random DETR tags by colour: these paints give this file's photos more than one tag.
MINE = {
    "vf-paris.jpg": (
        Photo(
            "vf-paris.jpg",
            (200, 30, 30),
            (240, 240, 240),
            (2100, 1400),
            make="Vfgraph Optical Co., Ltd.",
            taken="1991:03:04 09:00:00",
            gps=(48.8584, 2.2945, 35.0),
        ),
        "France",
    ),
    "vf-sydney.jpg": (
        Photo(
            "vf-sydney.jpg",
            (30, 60, 210),
            (10, 10, 10),
            (900, 1300),
            make="VFGRAPH",
            taken="1991:07:08 23:59:00",
            gps=(-33.8568, 151.2153, 1200.0),
        ),
        "Australia",
    ),
    "vf-rio.jpg": (
        Photo(
            "vf-rio.jpg",
            (120, 40, 150),
            (240, 240, 240),
            (1200, 800),
            make="VFGRAPH",
            taken="1993:01:02 12:00:00",
            gps=(-22.9519, -43.2105, -8.25),
        ),
        "Brazil",
    ),
    "vf-undated.jpg": (
        Photo(
            "vf-undated.jpg",
            (240, 220, 40),
            (240, 240, 240),
            (640, 480),
            make="  vfgraph ",
            taken="0000:00:00 00:00:00",
        ),
        None,
    ),
}
OTHER = Photo("vf-other.jpg", (40, 180, 60), (240, 240, 240), (700, 500), make="Vfother", taken="1992:05:05 10:00:00")
COUNT_GRAPHS = [
    "size/static/2000/4",
    "size/dynamic",
    "year",
    "brand",
    "countries",
    "altitude",
    "dominant_color",
    "tags/top",
]


@pytest.fixture(scope="module")
def mine(gateway, db):
    photos = [photo for photo, _ in MINE.values()] + [OTHER]
    response = gateway.post("/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos])
    assert response.status_code == 202, response.text
    ids = {img["filename"]: img["id"] for img in response.json()["images"]}
    assert set(ids) == {p.name for p in photos}

    def enriched():
        rows = {name: db.images.get(iid) for name, iid in ids.items()}
        return rows if all(r and r["status"] == "enriched" for r in rows.values()) else None

    return poll(enriched, timeout=300, interval=1, what="this file's photos to be enriched")


def get_graph(gateway, name, **params):
    response = gateway.get(f"/visualize/graph/{name}", params=params)
    assert response.status_code == 200, (name, params, response.text)
    return response.json()


def agree(fetch, expect, timeout: float = 15.0):
    """fetch() == expect(), asked again until a deadline while other files' images may still be settling."""
    last: dict = {}

    def same():
        last["got"], last["wanted"] = fetch(), expect()
        return last["got"] == last["wanted"]

    try:
        poll(same, timeout, what="the graph to agree with the database")
    except pytest.fail.Exception:
        assert last["got"] == last["wanted"]  # shows what differs
    return last["got"]


def sql(db, query, params=None):
    with db.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def test_every_graph_answers_with_its_shape(mine, gateway):
    for name in COUNT_GRAPHS:
        body = get_graph(gateway, name)
        assert body["graph"] == name
        assert len(body["labels"]) == len(body["counts"]) > 0, name
        assert all(isinstance(label, str) for label in body["labels"]), name
        assert all(isinstance(n, int) and n >= 0 for n in body["counts"]), name
    sizes = get_graph(gateway, "size/static/2000/4")
    assert sizes["labels"] == ["0–2000", "2000–4000", "4000–6000", "≥6000"]
    assert sizes["edges"] == [0, 2000, 4000, 6000, None] and len(sizes["height_counts"]) == 4
    tree = get_graph(gateway, "tags/dendrogram")
    assert tree["method"] in ("text-embedding", "co-occurrence")
    assert len(tree["labels"]) >= 2 and len(tree["icoord"]) == len(tree["labels"]) - 1
    points = get_graph(gateway, "map")["points"]
    assert len(points["id"]) == len(points["latitude"]) == len(points["longitude"]) == len(points["country"])


def test_unfiltered_counts_agree_with_the_database(mine, gateway, db):
    enriched = "FROM images WHERE status = 'enriched'"
    agree(
        lambda: sum(get_graph(gateway, "size/static/2000/4")["counts"]),
        lambda: sql(db, f"SELECT count(*) AS n {enriched} AND width IS NOT NULL")[0]["n"],
    )

    def years():
        rows = sql(db, f"SELECT extract(year FROM taken_at)::int AS y, count(*) AS n {enriched} GROUP BY 1")
        counts = {r["y"]: r["n"] for r in rows if r["y"] is not None}
        span = range(min(counts), max(counts) + 1)
        return {
            "labels": [str(y) for y in span],
            "counts": [counts.get(y, 0) for y in span],
            "unknown": sum(r["n"] for r in rows if r["y"] is None),
        }

    agree(lambda: {k: get_graph(gateway, "year")[k] for k in ("labels", "counts", "unknown")}, years)

    def countries():
        rows = sql(db, f"SELECT country, count(*) AS n {enriched} AND country IS NOT NULL GROUP BY 1")
        return sorted(((r["country"], r["n"]) for r in rows), key=lambda r: (-r[1], r[0]))

    agree(lambda: list(zip(*[get_graph(gateway, "countries")[k] for k in ("labels", "counts")])), countries)

    def colours():
        per_name = collections.defaultdict(lambda: [set(), 0.0])
        for r in sql(db, f"SELECT id, colors {enriched}"):
            for swatch in r["colors"]:
                per_name[swatch["name"]][0].add(r["id"])
                per_name[swatch["name"]][1] += swatch["coverage"]
        return {name: (len(ids), round(cover, 2)) for name, (ids, cover) in per_name.items()}

    def colour_graph():
        body = get_graph(gateway, "dominant_color")
        assert body["coverage"] == sorted(body["coverage"], reverse=True)
        return {n: (c, cover) for n, c, cover in zip(body["labels"], body["counts"], body["coverage"])}

    agree(colour_graph, colours)

    def located():
        return sql(db, f"SELECT count(*) AS n {enriched} AND latitude IS NOT NULL AND longitude IS NOT NULL")[0]["n"]

    agree(lambda: get_graph(gateway, "map")["count"], located)


def test_a_make_filter_sees_exactly_this_files_photos(mine, gateway):
    q = {"make": "VFGRAPH"}
    brand = get_graph(gateway, "brand", **q)
    # Three spellings, one brand, labelled with its most frequent spelling.
    assert (brand["labels"], brand["counts"], brand["unknown"]) == (["VFGRAPH"], [4], 0)
    assert get_graph(gateway, "brand", make="vfgraph optical corporation")["counts"] == [4]
    year = get_graph(gateway, "year", **q)
    assert (year["labels"], year["counts"], year["unknown"]) == (["1991", "1992", "1993"], [2, 0, 1], 1)
    sizes = get_graph(gateway, "size/static/1000/3", **q)
    assert sizes["labels"] == ["0–1000", "1000–2000", "≥2000"]
    assert sizes["counts"] == [2, 1, 1]  # widths 900, 640 | 1200 | 2100
    assert sizes["height_counts"] == [2, 2, 0]  # heights 800, 480 | 1400, 1300
    dynamic = get_graph(gateway, "size/dynamic", **q)
    start, step, n = graphs.dynamic_bins(480, 2100)
    assert dynamic["edges"] == [start + k * step for k in range(n + 1)] and dynamic["step"] == step
    assert sum(dynamic["counts"]) == sum(dynamic["height_counts"]) == 4
    countries = get_graph(gateway, "countries", **q)
    assert (countries["labels"], countries["counts"], countries["unknown"]) == (
        ["Australia", "Brazil", "France"],
        [1, 1, 1],
        1,
    )
    altitude = get_graph(gateway, "altitude", **q)
    assert altitude["labels"][0] == "below sea level" and altitude["labels"][-1] == "≥5000 m"
    assert dict(zip(altitude["labels"], altitude["counts"])) == {
        "below sea level": 1,
        "0–500 m": 1,
        "500–1000 m": 0,
        "1000–2000 m": 1,
        "2000–3000 m": 0,
        "3000–5000 m": 0,
        "≥5000 m": 0,
    }
    assert altitude["unknown"] == 1


def test_map_points_and_their_cap(mine, gateway):
    located = sorted(mine[name]["id"] for name, (_, country) in MINE.items() if country)
    full = get_graph(gateway, "map", make=BRAND)
    assert (full["count"], full["truncated"]) == (3, False)
    assert sorted(full["points"]["id"]) == located
    by_id = dict(zip(full["points"]["id"], full["points"]["country"]))
    assert by_id[mine["vf-paris.jpg"]["id"]] == "France"
    capped = get_graph(gateway, "map", make=BRAND, limit=2)
    assert (capped["count"], capped["truncated"]) == (3, True)
    assert capped["points"]["id"] == located[:2]


def test_colours_and_tags_of_this_files_photos(mine, gateway):
    rows = [mine[name] for name in MINE]
    coverage, holders = collections.Counter(), collections.defaultdict(set)
    for r in rows:
        for swatch in r["colors"]:
            coverage[swatch["name"]] += swatch["coverage"]
            holders[swatch["name"]].add(r["id"])
    colours = get_graph(gateway, "dominant_color", make=BRAND)
    assert colours["labels"] == sorted(coverage, key=lambda n: (-round(coverage[n], 2), n))
    assert colours["counts"] == [len(holders[n]) for n in colours["labels"]]
    assert colours["coverage"] == [round(coverage[n], 2) for n in colours["labels"]]
    assert all(h == css3_hex(n) and h.startswith("#") for n, h in zip(colours["labels"], colours["hex"]))

    tagged = collections.Counter(label for r in rows for label in r["tags"])
    top = get_graph(gateway, "tags/top", make=BRAND, limit=50)
    assert dict(zip(top["labels"], top["counts"])) == dict(tagged)
    assert top["counts"] == sorted(top["counts"], reverse=True)
    best = collections.defaultdict(list)
    for r in rows:
        for label, tag in r["tags"].items():
            best[label].append(tag["score"])
    for label, score in zip(top["labels"], top["scores"]):
        assert score == pytest.approx(sum(best[label]) / len(best[label]), abs=1e-3)

    assert len(tagged) >= 2, f"the photos' paints no longer give different tags: {tagged}"
    tree = get_graph(gateway, "tags/dendrogram", make=BRAND)
    assert sorted(tree["labels"]) == sorted(top["labels"][: graphs.DENDROGRAM_MAX])
    assert dict(zip(tree["labels"], tree["counts"])) == {t: tagged[t] for t in tree["labels"]}
    assert len(tree["icoord"]) == len(tree["dcoord"]) == len(tree["labels"]) - 1


def test_dendrogram_by_co_occurrence_without_a_text_model(mine, db):
    rows = [mine[name] for name in MINE]
    images_of = collections.defaultdict(set)
    for r in rows:
        for label in r["tags"]:
            images_of[label].add(r["id"])
    tree = graphs.graph(db, "tags/dendrogram", graphs.Filters(make=BRAND))
    assert tree["method"] == "co-occurrence"
    assert sorted(tree["labels"]) == sorted(images_of)
    # The first merge joins the pair with the smallest Jaccard distance, at that height.
    closest = min(
        1 - len(images_of[a] & images_of[b]) / len(images_of[a] | images_of[b])
        for a in images_of
        for b in images_of
        if a < b
    )
    assert min(row[1] for row in tree["dcoord"]) == pytest.approx(closest, abs=1e-6)
    by_meaning = graphs.graph(
        db, "tags/dendrogram", graphs.Filters(make=BRAND), embed=lambda words: np.eye(len(words))
    )  # every tag equally far from the others
    assert by_meaning["method"] == "text-embedding"
    assert {round(row[1], 6) for row in by_meaning["dcoord"]} == {1.0}


def test_filters_narrow_the_results(mine, gateway, db):
    day = get_graph(gateway, "year", make=BRAND, since="1991-07-08", until="1991-07-08")
    assert (day["labels"], day["counts"]) == (["1991"], [1])  # 23:59 on the last day still counts
    assert get_graph(gateway, "year", make=BRAND, since="1991-07-09", until="1992-12-31")["labels"] == []
    since = get_graph(gateway, "brand", since="1991-01-01", until="1993-12-31")
    assert dict(zip(since["labels"], since["counts"]))["VFGRAPH"] == 3  # not the undated one
    assert dict(zip(since["labels"], since["counts"]))["Vfother"] == 1

    # The rarest tag among this file's photos: with the make, exactly the photos carrying it.
    carrying = collections.Counter(label for name in MINE for label in mine[name]["tags"])
    label = min(carrying, key=lambda t: (carrying[t], t))
    assert carrying[label] < len(MINE), f"every photo has the same tags: {carrying}"
    both = get_graph(gateway, "brand", make=BRAND, tag=label.upper())
    assert both["counts"] == [carrying[label]]

    def in_db():
        return sql(
            db,
            """SELECT count(*) AS n FROM images i JOIN image_tags t ON t.image_id = i.id
                          WHERE i.status = 'enriched' AND t.label = %s""",
            (label,),
        )[0]["n"]

    def in_graph():
        body = get_graph(gateway, "tags/top", tag=label, limit=500)
        return dict(zip(body["labels"], body["counts"]))[label]  # every filtered image has it

    carried = agree(in_graph, in_db)
    unfiltered = get_graph(gateway, "size/static/2000/4")
    narrowed = get_graph(gateway, "size/static/2000/4", tag=label)
    assert sum(narrowed["counts"]) == carried < sum(unfiltered["counts"])


@pytest.mark.parametrize(
    "path, params, fragment",
    [
        ("year", {"since": "last week"}, "since must be a date"),
        ("year", {"since": "2021-02-01", "until": "2021-01-01"}, "is after until"),
        ("size/static/0/4", {}, "step must be between"),
        ("size/static/2000/51", {}, "n must be between"),
        ("size/static/wide/4", {}, "whole numbers"),
        ("map", {"limit": "many"}, "limit must be a whole number"),
        ("map", {"limit": "0"}, "limit must be between"),
        ("tags/dendrogram", {"limit": "41"}, "limit must be between 1 and 40"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(gateway, path, params, fragment):
    response = gateway.get(f"/visualize/graph/{path}", params=params)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


@pytest.mark.parametrize("path", ["nope", "tags", "size/static/1/2/3", "year/2020"])
def test_unknown_graphs_are_404(gateway, path):
    response = gateway.get(f"/visualize/graph/{path}")
    assert response.status_code == 404
    body = response.json()
    assert "no graph" in body["error"] and "tags/dendrogram" in body["graphs"]


def run_export(stack, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIEWFINDER_DATABASE_URL": stack.database_url}
    return subprocess.run(
        [sys.executable, "-m", "viewfinder.cli", "export", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def exported(mine, stack, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    files = {}
    for fmt in export.FORMATS:
        path = folder / f"all.{fmt}"
        done = run_export(stack, "--format", fmt, "--output", str(path), "--status", "all")
        assert done.returncode == 0, done.stderr
        files[fmt] = (path, done.stdout)
    enriched = folder / "enriched.parquet"
    done = run_export(stack, "--output", str(enriched))
    assert done.returncode == 0, done.stderr
    files["enriched"] = (enriched, done.stdout)
    return files


def test_export_round_trips_rows_and_columns(exported, mine, db):
    images = sql(db, "SELECT id, status FROM images")
    for fmt in export.FORMATS:
        path, stdout = exported[fmt]
        table = export.read_file(path)
        assert table.schema == export.SCHEMA
        assert f"wrote {table.num_rows} image(s) to {path.resolve()}" in stdout
        assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in images)  # --status all
        assert not list(path.parent.glob(".*.partial"))
    parquet, csv = (export.read_file(exported[fmt][0]) for fmt in export.FORMATS)
    rows = {r["id"]: r for r in parquet.to_pylist()}
    from_csv = {r["id"]: r for r in csv.to_pylist()}
    for name in MINE:
        want = mine[name]
        got = rows[want["id"]]
        assert from_csv[want["id"]] == got  # CSV carries the same values, tags included
        assert (got["make"], got["brand"], got["width"], got["height"]) == (
            want["make"],
            BRAND,
            want["width"],
            want["height"],
        )
        assert got["taken_at"] == want["taken_at"] and got["country"] == want["country"]
        assert sorted(got["tags"]) == sorted(want["tags"])
        for k, swatch in enumerate(want["colors"], start=1):
            assert (got[f"color{k}_hex"], got[f"color{k}_coverage"], got[f"color{k}_name"]) == (
                swatch["hex"],
                swatch["coverage"],
                swatch["name"],
            )
        for k in range(len(want["colors"]) + 1, export.COLORS + 1):
            assert got[f"color{k}_hex"] is None

    enriched = export.read_file(exported["enriched"][0])
    assert set(enriched.column("status").to_pylist()) == {"enriched"}
    assert {mine[name]["id"] for name in MINE} <= set(enriched.column("id").to_pylist())


def test_export_refuses_an_unknown_format(stack):
    done = run_export(stack, "--format", "xlsx")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def run_notebook(env: dict) -> dict:
    cells = json.loads((ROOT / "notebooks" / "explore.ipynb").read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)  # saved without outputs
    namespace: dict = {"__name__": "__main__"}
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env)
    os.chdir(ROOT / "notebooks")
    try:
        for cell in code:
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            exec(compile(source, "explore.ipynb", "exec"), namespace)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return namespace


@pytest.mark.parametrize("fmt", ["enriched", "csv"])
def test_the_notebook_runs_on_an_export(exported, mine, fmt):
    path = exported[fmt][0]
    ns = run_notebook({"VIEWFINDER_EXPORT": str(path)})
    table = export.read_file(path)
    df = ns["df"]
    assert len(df) == table.num_rows and list(df.columns) == export.SCHEMA.names
    assert ns["per_brand"][BRAND] == 4
    assert ns["per_make"]["VFGRAPH"] == 2
    years = table.column("taken_at").to_pylist()
    assert ns["per_year"].to_dict() == dict(collections.Counter(t.year for t in years if t is not None))
    assert ns["undated"] == sum(t is None for t in years)
    mine_ids = {mine[name]["id"] for name in MINE}
    swatches = ns["swatches"][ns["swatches"]["id"].isin(mine_ids)]
    assert len(swatches) == sum(len(mine[name]["colors"]) for name in MINE)
    tag_counts = collections.Counter(t for tags in table.column("tags").to_pylist() for t in tags)
    assert ns["tags"].to_dict() == dict(tag_counts)


def test_the_notebook_reads_postgresql_without_a_file(mine, stack, db):
    ns = run_notebook({"VIEWFINDER_DATABASE_URL": stack.database_url, "VIEWFINDER_EXPORT": ""})
    assert {mine[name]["id"] for name in MINE} <= set(ns["df"]["id"])
    assert set(ns["df"]["status"]) == {"enriched"}
    assert ns["per_brand"][BRAND] == 4
    assert date(1991, 3, 4) in set(ns["df"]["taken_at"].dt.date.dropna())
