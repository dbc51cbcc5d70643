"""The collection page: every graph of the original, live and filterable.

Every ~2 s one cheap query asks whether the set of enriched images changed (how many, and
the latest enrichment time); only then, or when a filter changes, are the graphs queried
again and each data source replaced in place, so an open page follows the pipeline without
reloading. The graph data come from `query.analytics.graphs` (aggregated in PostgreSQL); the
columns from `dashboards.columns` (pure); this module is only the Bokeh glue.

The tag dendrogram groups tags by meaning with the gateway's text model, asked through its
/visualize/graph/tags/dendrogram: loading MiniLM here as well would take this process from
~150 MB to ~600 MB resident for ~80 short labels. Without a gateway (or before its model has
loaded) the page groups tags by co-occurrence, and its title says so.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import weakref
from collections import OrderedDict
from functools import lru_cache

import httpx
import numpy as np
from bokeh.layouts import layout, row
from bokeh.models import (
    Button,
    ColumnDataSource,
    DateRangePicker,
    Div,
    FixedTicker,
    HoverTool,
    Range1d,
    Select,
    WMTSTileSource,
)
from bokeh.plotting import figure
from bokeh.transform import dodge

from core import worldmap
from query.analytics import graphs

from . import background, columns

log = logging.getLogger("viewfinder.dashboards.collection")

REFRESH_MS = 2000
STATIC = "size/static/{}/{}".format(*graphs.STATIC_DEFAULT)  # the original's /graph/size/static/2000/4
TITLE = "Viewfinder — collection"
PLOT_HEIGHT = 300
WIDTH_COLOUR, HEIGHT_COLOUR, BAR_COLOUR, POINT_COLOUR = "#4c78a8", "#f58518", "#4c78a8", "#e45756"
TILE_ATTRIBUTION = "© OpenStreetMap contributors"

# Graph requests of a page: name of the data source's graph → graph() name.
REQUESTS = {
    "size/static": STATIC,
    "size/dynamic": "size/dynamic",
    "year": "year",
    "brand": "brand",
    "map": "map",
    "countries": "countries",
    "altitude": "altitude",
    "dominant_color": "dominant_color",
    "tags/top": "tags/top",
    "tags/dendrogram": "tags/dendrogram",
}

# Data source name → (graph, columns from graph data). A browser or a test finds each source
# with `Bokeh.documents[0].get_model_by_name("graph:year")` and the like.
SOURCES = {
    "graph:size/static": ("size/static", columns.sizes),
    "graph:size/dynamic": ("size/dynamic", columns.sizes),
    "graph:year": ("year", columns.counts),
    "graph:brand": ("brand", columns.counts),
    "graph:countries": ("countries", columns.counts),
    "graph:altitude": ("altitude", columns.counts),
    "graph:dominant_color": ("dominant_color", columns.colours),
    "graph:dominant_color/treemap": ("dominant_color", columns.treemap),
    "graph:tags/top": ("tags/top", columns.counts),
    "graph:tags/dendrogram": ("tags/dendrogram", columns.dendrogram),
    # "graph:map" depends on the projection: see CollectionPage.
}


class SharedGraphs:
    """Graph data shared by every page of this process: one change check per period however
    many pages are open, and pages with the same filters query each graph once per change."""

    # Checks at most every half period: each page still sees a change within one period.
    def __init__(self, db, check_every: float = REFRESH_MS / 1000 / 2, size: int = 128, gateway_url: str = ""):
        self.db, self.check_every, self.size, self.gateway_url = db, check_every, size, gateway_url
        self._lock = threading.Lock()
        self._checked: tuple[float, tuple] | None = None
        self._results: OrderedDict[tuple, dict] = OrderedDict()

    def version(self) -> tuple:
        """(enriched images, latest enrichment): changes whenever an image is enriched or re-enriched."""
        with self._lock:
            if self._checked and time.monotonic() - self._checked[0] < self.check_every:
                return self._checked[1]
        version = self.db.images.enriched_version()
        with self._lock:
            self._checked = (time.monotonic(), version)
        return version

    def graph(self, version: tuple, name: str, filters: graphs.Filters) -> dict:
        key = (version, name, filters)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        value = (self._by_meaning(filters) if name == "tags/dendrogram" else None) or graphs.graph(
            self.db, name, filters
        )
        with self._lock:
            self._results[key] = value
            while len(self._results) > self.size:
                self._results.popitem(last=False)
        return value

    def _by_meaning(self, filters: graphs.Filters) -> dict | None:
        """The dendrogram from the gateway when its text model grouped the tags; else None."""
        if not self.gateway_url:
            return None
        try:
            response = httpx.get(
                f"{self.gateway_url}/visualize/graph/tags/dendrogram", params=filters.to_query(), timeout=10
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.info("tag dendrogram by co-occurrence: the gateway did not answer (%s)", exc)
            return None
        return body if body.get("method") == "text-embedding" else None


_shared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def shared_graphs(db, gateway_url: str = "") -> SharedGraphs:
    with _shared_lock:
        if db not in _shared:
            _shared[db] = SharedGraphs(db, gateway_url=gateway_url)
        return _shared[db]


def load(shared: SharedGraphs, filters: graphs.Filters, version: tuple | None = None) -> dict:
    """Everything a page shows, for these filters: graph data (or the exception that one graph
    raised, so one failing graph does not blank the others) and the filter options, which
    come from the unfiltered collection so that a chosen make does not hide the other makes."""
    version = shared.version() if version is None else version
    out: dict = {"version": version, "graphs": {}, "errors": {}}
    for key, name in REQUESTS.items():
        try:
            out["graphs"][key] = shared.graph(version, name, filters)
        except Exception as exc:  # shown on the page, the next change tries again
            log.exception("graph %s failed", name)
            out["errors"][key] = f"{type(exc).__name__}: {exc}"
    for key, name in (("makes", "brand"), ("tags", "tags/top")):
        try:
            out[key] = (
                out["graphs"][name]
                if filters == graphs.Filters() and name in out["graphs"]
                else shared.graph(version, name, graphs.Filters())
            )
        except Exception:  # the options simply stay as they were
            log.exception("filter options from %s failed", name)
    return out


@lru_cache(maxsize=2)
def _cities(web_mercator: bool) -> dict:
    """The map's background columns, made once per process. float32 arrays travel to the
    browser as binary buffers: about a third of the JSON the same numbers take as lists."""
    lats, lons = worldmap.background()
    return {k: np.asarray(v, dtype=np.float32) for k, v in columns.background(lats, lons, web_mercator).items()}


def _counts_figure(title: str, x_label: str) -> figure:
    """Images counted per category (the categories arrive with the data)."""
    plot = figure(
        x_range=[],
        height=PLOT_HEIGHT,
        sizing_mode="stretch_width",
        title=title,
        toolbar_location=None,
        y_axis_label="images",
        x_axis_label=x_label,
    )
    plot.y_range.start = 0
    plot.xgrid.grid_line_color = None
    return plot


def _bars(title: str, source: ColumnDataSource, x_label: str, tooltips: list, **glyph) -> figure:
    plot = _counts_figure(title, x_label)
    plot.vbar(x="label", top="count", width=0.8, source=source, **(glyph or {"color": BAR_COLOUR}))
    plot.add_tools(HoverTool(tooltips=tooltips))
    return plot


def _size_plot(title: str, source: ColumnDataSource) -> figure:
    plot = _counts_figure(title, "pixels")
    plot.vbar(
        x=dodge("label", -0.2, range=plot.x_range),
        top="width",
        width=0.38,
        source=source,
        color=WIDTH_COLOUR,
        legend_label="width",
    )
    plot.vbar(
        x=dodge("label", 0.2, range=plot.x_range),
        top="height",
        width=0.38,
        source=source,
        color=HEIGHT_COLOUR,
        legend_label="height",
    )
    plot.add_tools(HoverTool(tooltips=[("pixels", "@label"), ("by width", "@width"), ("by height", "@height")]))
    plot.legend.location = "top_right"
    return plot


class CollectionPage:
    def __init__(self, doc, db, tiles: str = "", gateway_url: str = ""):
        self.doc, self.shared, self.tiles = doc, shared_graphs(db, gateway_url), tiles.strip()
        self.shown: tuple | None = None  # (version, filters) on screen
        self.sources = {name: ColumnDataSource(name=name) for name in SOURCES}
        self.sources["graph:map"] = ColumnDataSource(name="graph:map")
        self.header = Div(text="", sizing_mode="stretch_width", name="collection:header")
        # Named, like the sources, so that browser tests can drive them.
        self.dates = DateRangePicker(title="Taken between", value=None, width=230, name="filter:dates")
        self.make = Select(title="Camera make", value=columns.ALL, options=[columns.ALL], width=200, name="filter:make")
        self.tag = Select(title="Tag", value=columns.ALL, options=[columns.ALL], width=200, name="filter:tag")
        self.reset = Button(label="Clear filters", width=120, align="end", name="filter:clear")
        self.plots = self._plots()
        self.titles = {key: plot.title.text for key, plot in self.plots.items()}
        for widget in (self.dates, self.make, self.tag):
            widget.on_change("value", lambda attr, old, new: self.doc.add_next_tick_callback(self.update))
        self.reset.on_click(self._clear)

    # -- layout -------------------------------------------------------------
    def _plots(self) -> dict:
        s = self.sources
        counted = [("images", "@count")]
        plots = {
            "size/static": _size_plot(f"Image sizes, bins of {graphs.STATIC_DEFAULT[0]} px", s["graph:size/static"]),
            "size/dynamic": _size_plot("Image sizes, bins from the data", s["graph:size/dynamic"]),
            "year": _bars("Year taken", s["graph:year"], "year", [("year", "@label"), *counted]),
            "brand": _bars("Camera brands", s["graph:brand"], "make", [("make", "@label"), *counted]),
            "countries": _bars("Countries", s["graph:countries"], "country", [("country", "@label"), *counted]),
            "altitude": _bars("Altitude", s["graph:altitude"], "metres", [("altitude", "@label"), *counted]),
            "dominant_color": _bars(
                "Dominant colours (images with the colour)",
                s["graph:dominant_color"],
                "CSS3 colour",
                [("colour", "@label"), ("hex", "@hex"), *counted, ("summed coverage", "@coverage{0.0}%")],
                fill_color="hex",
                line_color="#888888",
            ),
            "tags/top": _bars(
                "Top tags", s["graph:tags/top"], "tag", [("tag", "@label"), *counted, ("mean score", "@score{0.00}")]
            ),
            "treemap": self._treemap(),
            "map": self._map(),
            "tags/dendrogram": self._dendrogram(),
        }
        for key in ("brand", "countries", "dominant_color", "tags/top"):
            plots[key].xaxis.major_label_orientation = 0.8
        return plots

    def _treemap(self) -> figure:
        plot = figure(
            x_range=Range1d(0, 100),
            y_range=Range1d(0, 100),
            height=PLOT_HEIGHT,
            sizing_mode="stretch_width",
            title="Dominant colours, area by summed coverage",
            toolbar_location=None,
        )
        source = self.sources["graph:dominant_color/treemap"]
        plot.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            fill_color="hex",
            line_color="white",
            line_width=1,
            source=source,
        )
        plot.text(
            x="x",
            y="y",
            text="text",
            text_color="text_colour",
            text_align="center",
            text_baseline="middle",
            text_font_size="11px",
            source=source,
        )
        plot.add_tools(
            HoverTool(tooltips=[("colour", "@label"), ("hex", "@hex"), ("share", "@share{0.0}%"), ("images", "@count")])
        )
        plot.axis.visible = False
        plot.grid.visible = False
        return plot

    def _map(self) -> figure:
        source = self.sources["graph:map"]
        # Scaled with the width at 2:1, so that a degree is as long across as up (equirectangular).
        common = dict(
            sizing_mode="scale_width",
            aspect_ratio=2,
            tools="pan,wheel_zoom,box_zoom,reset",
            active_scroll="wheel_zoom",
            title="Where the photos were taken",
        )
        cities = ColumnDataSource(_cities(bool(self.tiles)), name="map:cities")
        if self.tiles:
            (x0, y0), (x1, y1) = worldmap.WORLD_MERCATOR
            plot = figure(x_range=(x0, x1), y_range=(y0, y1), x_axis_type="mercator", y_axis_type="mercator", **common)
            attribution = TILE_ATTRIBUTION if "openstreetmap" in self.tiles.lower() else ""
            plot.add_tile(WMTSTileSource(url=self.tiles, attribution=attribution))
        else:
            # Plain equirectangular: degrees on both axes, the city dots as the land.
            plot = figure(
                x_range=(-180, 180), y_range=(-90, 90), x_axis_label="longitude", y_axis_label="latitude", **common
            )
            plot.scatter(x="x", y="y", source=cities, size=2.5, color="#8795a1", alpha=0.45, line_color=None)
            plot.background_fill_color = "#f4f7fa"
            plot.grid.grid_line_alpha = 0.4
        points = plot.scatter(x="x", y="y", source=source, size=8, color=POINT_COLOUR, alpha=0.8, line_color="white")
        plot.add_tools(
            HoverTool(
                renderers=[points],
                tooltips=[
                    ("image", "@id"),
                    ("country", "@country"),
                    ("make", "@make"),
                    ("latitude", "@latitude{0.0000}"),
                    ("longitude", "@longitude{0.0000}"),
                ],
            )
        )
        return plot

    def _dendrogram(self) -> figure:
        plot = figure(
            height=PLOT_HEIGHT + 200,
            sizing_mode="stretch_width",
            title="Tags grouped",
            toolbar_location=None,
            x_axis_label="distance",
            y_range=Range1d(0, 10),
        )
        plot.multi_line(
            xs="xs", ys="ys", source=self.sources["graph:tags/dendrogram"], line_color="#4c78a8", line_width=2
        )
        plot.yaxis.ticker = FixedTicker(ticks=[])
        plot.ygrid.grid_line_color = None
        plot.x_range.start = 0
        plot.add_tools(HoverTool(tooltips=[("distance", "$x{0.00}")], line_policy="nearest"))
        return plot

    def root(self):
        p = self.plots
        filters = row(self.dates, self.make, self.tag, self.reset)
        return layout(
            [
                [self.header],
                [filters],
                [p["size/static"], p["size/dynamic"]],
                [p["year"], p["brand"]],
                [p["map"]],
                [p["countries"], p["altitude"]],
                [p["dominant_color"], p["treemap"]],
                [p["tags/top"], p["tags/dendrogram"]],
            ],
            sizing_mode="stretch_width",
        )

    # -- data ---------------------------------------------------------------
    def filters(self) -> graphs.Filters:
        since, until = self.dates.value if self.dates.value else (None, None)
        since, until = columns.as_date(since), columns.as_date(until)
        if since and until and since > until:
            since, until = until, since
        return graphs.Filters(
            since=since, until=until, make=columns.choice(self.make.value), tag=columns.choice(self.tag.value)
        )

    def show(self, data: dict, filters: graphs.Filters) -> None:
        """Replace every source's data in place, with its ranges, ticks and titles."""
        g = data["graphs"]
        for name, (key, to_columns) in SOURCES.items():
            if key in g:
                self.sources[name].data = to_columns(g[key])
        if "map" in g:
            self.sources["graph:map"].data = columns.points(g["map"], web_mercator=bool(self.tiles))
            shown = len(self.sources["graph:map"].data["id"])
            self.plots["map"].title.text = "Where the photos were taken: {} with GPS".format(g["map"]["count"]) + (
                f", {shown} shown" if g["map"]["truncated"] else ""
            )
        for key in (
            "size/static",
            "size/dynamic",
            "year",
            "brand",
            "countries",
            "altitude",
            "dominant_color",
            "tags/top",
        ):
            if key in g:
                self.plots[key].x_range.factors = [str(x) for x in g[key]["labels"]]
        for key, what in (
            ("year", "without a date"),
            ("brand", "without a make"),
            ("countries", "without GPS"),
            ("altitude", "without an altitude"),
        ):
            if key in g:
                unknown = g[key].get("unknown", 0)
                self.plots[key].title.text = self.titles[key] + (f" ({unknown} {what})" if unknown else "")
        if "tags/dendrogram" in g:
            d = g["tags/dendrogram"]
            ticks, labels = columns.leaf_ticks(d)
            plot = self.plots["tags/dendrogram"]
            plot.yaxis.ticker.ticks = ticks
            plot.yaxis.major_label_overrides = labels
            plot.y_range.end = max(10.0, 10.0 * len(ticks))
            plot.title.text = f"Tags grouped by {d['method']} (count of images in brackets)"
        if "makes" in data:
            self.make.options = columns.filter_options(data["makes"], columns.choice(self.make.value))
        if "tags" in data:
            self.tag.options = columns.filter_options(data["tags"], columns.choice(self.tag.value))
        self.header.text = self._header(data, filters)
        self.shown = (data["version"], filters)

    def _header(self, data: dict, filters: graphs.Filters) -> str:
        total = data["version"][0]
        text = f"<b>{total}</b> enriched images in the collection"
        sizes = data["graphs"].get("size/dynamic")
        if filters != graphs.Filters() and sizes is not None:
            text += f", <b>{sum(sizes['counts'])}</b> match the filters"
        text += f" · {html.escape(columns.describe(filters))}"
        if data["errors"]:
            failed = "; ".join(f"{k}: {v}" for k, v in sorted(data["errors"].items()))
            text += (
                f"<br><span style='color:#b00020'>graphs that failed, tried again on the next change: "
                f"{html.escape(failed)}</span>"
            )
        return text

    async def update(self) -> None:
        """Re-query when the collection or the filters changed. Runs under the session's
        document lock (Bokeh holds it across the awaits), so updates of one page never
        interleave; the queries run off the server's event loop, so other pages stay live."""
        try:
            version = await background.run(self.shared.version)
            filters = self.filters()
            if self.shown == (version, filters):
                return
            data = await background.run(load, self.shared, filters, version)
        except Exception:  # the database may be restarting; the next tick tries again
            log.exception("collection refresh failed")
            return
        self.show(data, filters)

    def start(self) -> None:
        filters = self.filters()
        # The first data are loaded before the page is sent, so it never shows empty plots.
        self.show(load(self.shared, filters), filters)
        self.doc.add_periodic_callback(self.update, REFRESH_MS)

    def _clear(self) -> None:
        self.dates.value = None
        self.make.value = columns.ALL
        self.tag.value = columns.ALL


def make_document(doc, db, settings=None) -> None:
    page = CollectionPage(
        doc,
        db,
        tiles=getattr(settings, "map_tiles", "") or "",
        gateway_url=settings.gateway_url if settings is not None else "",
    )
    page.start()
    doc.title = TITLE
    doc.add_root(page.root())
