"""The /collection Bokeh page on the real stack: its named data sources hold what
`query.analytics.graphs` computes in PostgreSQL, an open page follows newly enriched images without
being pulled again, and its filters re-query every graph."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
import pytest
from bokeh.client import pull_session

from dashboards import collection, columns
from query.analytics import graphs
from tests.support import poll, upload_and_wait
from tests.support.photos import Photo

TAG = uuid.uuid4().hex[:6]
MAKES = (f"Colmake{TAG}", f"Otherbrand{TAG}")
PHOTOS = [
    Photo(
        f"col-{TAG}-0.jpg",
        (200, 30, 30),
        (250, 250, 250),
        (420, 280),
        make=MAKES[0],
        model="A",
        taken="2016:03:04 10:00:00",
        gps=(64.1466, -21.9426, 40.0),
    ),
    Photo(
        f"col-{TAG}-1.jpg",
        (30, 60, 200),
        (10, 10, 10),
        (280, 420),
        make=MAKES[0],
        model="A",
        taken="2017:07:08 11:00:00",
        gps=(-1.2921, 36.8219, 1795.0),
    ),
    Photo(
        f"col-{TAG}-2.jpg",
        (40, 160, 60),
        (250, 250, 0),
        (300, 300),
        make=MAKES[1],
        model="B",
        taken="2021:11:12 12:00:00",
    ),
]


@pytest.fixture(scope="module")
def uploaded(gateway):
    return upload_and_wait(gateway, PHOTOS)


@pytest.fixture()
def page(stack, uploaded):
    """One open page: a client connected to one server session for the whole test."""
    with pull_session(url=f"{stack.dashboard_url}/collection") as session:
        yield session


def now(stack, page):
    """The open page's document as its server session holds it now. bokeh.client applies
    the updates the server pushes only while its loop idles in `loop_until_closed`, and drops
    them while it waits for a reply, so the state is read by joining the same session again
    (by its id) instead. Same session: the same models, updated in place, not a new document."""
    page.force_roundtrip()  # so that changes made on `page` have reached the server
    with pull_session(session_id=page.id, url=f"{stack.dashboard_url}/collection") as view:
        doc = view.document
    assert doc.get_model_by_name("graph:brand").id == page.document.get_model_by_name("graph:brand").id
    return doc


def data(doc, name: str) -> dict:
    return {k: list(v) for k, v in doc.get_model_by_name(name).data.items()}


def graph_now(stack, db, name: str, filters: graphs.Filters) -> dict:
    """graphs.graph() now; the tag dendrogram as the gateway groups it (by meaning, with its text model)."""
    if name == "tags/dendrogram":
        return httpx.get(f"{stack.gateway_url}/visualize/graph/{name}", params=filters.to_query(), timeout=30).json()
    return graphs.graph(db, name, filters)


def expected(stack, db, filters: graphs.Filters = graphs.Filters()) -> dict:
    """Every named source, as the page should show it now."""
    out = {
        name: to_columns(graph_now(stack, db, collection.REQUESTS[key], filters))
        for name, (key, to_columns) in collection.SOURCES.items()
    }
    out["graph:map"] = columns.points(graphs.graph(db, "map", filters))
    return out


def matches(stack, page, db, filters: graphs.Filters = graphs.Filters(), mismatch: dict | None = None):
    """The page's sources and document when the sources equal what they should be (checked
    both sides of the read, so that an image enriched in between cannot make a false match)."""
    want = expected(stack, db, filters)
    doc = now(stack, page)
    have = {name: data(doc, name) for name in [*collection.SOURCES, "graph:map"]}
    if have == want == expected(stack, db, filters):
        return have, doc
    if mismatch is not None:
        mismatch.clear()
        mismatch.update(
            {name: {"page": have[name], "graph()": want[name]} for name in want if have[name] != want[name]}
        )
    return None


def settle(stack, page, db, filters: graphs.Filters = graphs.Filters(), timeout: float = 30, what: str = ""):
    """Wait for the page to show what it should for these filters; name what differs if it does not."""
    mismatch: dict = {}
    try:
        return poll(
            lambda: matches(stack, page, db, filters, mismatch),
            timeout,
            interval=0.5,
            what=what or f"the page to show graph() for {filters}",
        )
    except pytest.fail.Exception as exc:
        raise AssertionError(f"{exc}; still different: {mismatch}") from None


def test_the_page_is_served(stack, uploaded):
    response = httpx.get(f"{stack.dashboard_url}/collection", timeout=30)
    assert response.status_code == 200
    assert collection.TITLE in response.text
    index = httpx.get(f"{stack.dashboard_url}/", timeout=30)
    assert index.status_code == 200 and "/collection" in index.text and "/pipeline" in index.text


def test_every_named_source_holds_what_graphs_compute(stack, page, db, uploaded):
    have, doc = settle(stack, page, db, timeout=60)
    # The uploads are in it, each graph in its own way.
    assert set(MAKES) <= set(have["graph:brand"]["label"])
    assert {"2016", "2017", "2021"} <= set(have["graph:year"]["label"])
    assert {img["id"] for img in uploaded if img["exif"].get("Latitude") is not None} <= set(have["graph:map"]["id"])
    assert sum(have["graph:size/static"]["width"]) == sum(have["graph:size/dynamic"]["width"]) >= len(PHOTOS)
    assert have["graph:dominant_color"]["label"] and have["graph:dominant_color/treemap"]["label"]
    assert all(h.startswith("#") for h in have["graph:dominant_color/treemap"]["hex"])
    assert have["graph:tags/top"]["label"]
    assert "no filters" in doc.get_model_by_name("collection:header").text
    cities = doc.get_model_by_name("map:cities").data
    assert len(cities["x"]) > 10_000 and min(cities["x"]) >= -180 and max(cities["x"]) <= 180


def test_an_open_page_follows_new_images_without_reloading(stack, page, db, gateway, uploaded):
    settle(stack, page, db, timeout=60)
    make = f"Livecam{uuid.uuid4().hex[:8]}"
    assert make not in data(now(stack, page), "graph:brand")["label"]
    upload_and_wait(
        gateway,
        [
            Photo(
                f"col-live-{make}.jpg", (240, 200, 20), (0, 0, 0), (360, 240), make=make, gps=(35.6762, 139.6503, 20.0)
            )
        ],
    )
    brand = poll(
        lambda: (lambda b: b if make in b["label"] else None)(data(now(stack, page), "graph:brand")),
        30,
        interval=0.25,
        what="the open page's brand chart to show the new camera make",
    )
    assert brand["count"][brand["label"].index(make)] == 1
    settle(stack, page, db, what="every graph of the open page to catch up")
    assert make in data(now(stack, page), "graph:map")["make"]


def test_filters_requery_every_graph(stack, page, db, uploaded):
    settle(stack, page, db, timeout=60)
    doc = page.document  # changes made here travel to the server, as a browser's would
    assert MAKES[0] in doc.get_model_by_name("filter:make").options
    assert doc.get_model_by_name("filter:make").options[0] == "all"

    doc.get_model_by_name("filter:make").value = MAKES[0]
    by_make = graphs.Filters(make=MAKES[0])
    have, shown = settle(stack, page, db, by_make)
    assert have["graph:brand"] == {"label": [MAKES[0]], "count": [2]}
    assert set(have["graph:year"]["label"]) == {"2016", "2017"}
    # The options still offer every make, not only the chosen one.
    assert MAKES[1] in shown.get_model_by_name("filter:make").options

    doc.get_model_by_name("filter:dates").value = (date(2017, 1, 1), date(2017, 12, 31))
    by_make_and_date = graphs.Filters(since=date(2017, 1, 1), until=date(2017, 12, 31), make=MAKES[0])
    have, shown = settle(stack, page, db, by_make_and_date)
    assert have["graph:year"] == {"label": ["2017"], "count": [1]}
    header = shown.get_model_by_name("collection:header").text
    assert "taken 2017-01-01 to 2017-12-31" in header and f"camera make {MAKES[0]}" in header
    assert "<b>1</b> match the filters" in header

    tag = have["graph:tags/top"]["label"][0]
    doc.get_model_by_name("filter:tag").value = tag
    everything = graphs.Filters(since=date(2017, 1, 1), until=date(2017, 12, 31), make=MAKES[0], tag=tag)
    settle(stack, page, db, everything)

    doc.get_model_by_name("filter:make").value = "all"
    doc.get_model_by_name("filter:dates").value = None
    doc.get_model_by_name("filter:tag").value = "all"
    settle(stack, page, db)


def test_dendrogram_groups_tags_by_meaning_with_the_gateways_text_model(stack, gateway, uploaded):
    def by_meaning():
        body = gateway.get("/visualize/graph/tags/dendrogram").json()
        return body if body["method"] == "text-embedding" else None

    poll(by_meaning, 120, interval=1, what="the gateway's text model to group tags")
    upload_and_wait(
        gateway,
        [Photo(f"col-{TAG}-meaning.jpg", (120, 40, 160), (240, 240, 240), (320, 240), make=MAKES[1], model="C")],
    )  # a new version: the page asks again
    expected = [list(map(float, i)) for i in by_meaning()["icoord"]]

    def page_shows_it():
        # A new page may start from the collection's version checked up to half a period ago.
        with pull_session(url=f"{stack.dashboard_url}/collection") as session:
            titles = [m.text for m in session.document.models if type(m).__name__ == "Title"]
            ys = session.document.get_model_by_name("graph:tags/dendrogram").data["ys"]
            return titles if ys == expected else None

    titles = poll(page_shows_it, 30, interval=0.5, what="the page's dendrogram to match the gateway's")
    assert "Tags grouped by text-embedding (count of images in brackets)" in titles
