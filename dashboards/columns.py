"""Graph data (`query.analytics.graphs.graph`) → the columns of the collection page's data sources.

Pure: no Bokeh, no database, so the page's content is testable without a browser and a test
can compare what a live document holds with what these functions make of `graph()`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.worldmap import mercator

from . import treemap as squarify_layout

TREEMAP_BOX = (0.0, 0.0, 100.0, 100.0)
TREEMAP_MIN_LABEL_SHARE = 0.02  # rectangles smaller than this share of the box stay unlabelled
ALL = "all"  # the Select value that means "no filter"


def counts(g: dict) -> dict:
    """A bar chart: label → count, plus the tag score where the graph has one."""
    out = {"label": [str(x) for x in g["labels"]], "count": [int(x) for x in g["counts"]]}
    if "scores" in g:
        out["score"] = [float(x) for x in g["scores"]]
    return out


def sizes(g: dict) -> dict:
    """Width and height counts per bin, side by side."""
    return {
        "label": [str(x) for x in g["labels"]],
        "width": [int(x) for x in g["counts"]],
        "height": [int(x) for x in g["height_counts"]],
    }


def colours(g: dict) -> dict:
    return {
        "label": list(g["labels"]),
        "hex": list(g["hex"]),
        "count": [int(x) for x in g["counts"]],
        "coverage": [float(x) for x in g["coverage"]],
    }


def text_colour(hex_colour: str) -> str:
    """Black or white, whichever reads better on `hex_colour` (WCAG relative luminance)."""
    try:
        r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    except (ValueError, AttributeError):
        return "#000000"

    def linear(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    # The luminance where contrast with black equals contrast with white.
    return "#000000" if luminance > 0.179 else "#ffffff"


def treemap(g: dict, box: tuple[float, float, float, float] = TREEMAP_BOX) -> dict:
    """Dominant colours as a squarified treemap: areas proportional to summed coverage, each
    rectangle filled with its colour and labelled when big enough to hold a label."""
    total = sum(max(0.0, float(c)) for c in g["coverage"])
    rects = squarify_layout.squarify([max(0.0, float(c)) for c in g["coverage"]], *box)
    box_area = box[2] * box[3]
    keep = [i for i, r in enumerate(rects) if r.area > 0]
    out: dict[str, list] = {
        key: []
        for key in (
            "left",
            "right",
            "bottom",
            "top",
            "x",
            "y",
            "label",
            "hex",
            "count",
            "coverage",
            "share",
            "text",
            "text_colour",
        )
    }
    for i in keep:
        r, label, hex_colour = rects[i], g["labels"][i], g["hex"][i]
        share = float(g["coverage"][i]) / total
        out["left"].append(r.x)
        out["right"].append(r.x + r.dx)
        out["bottom"].append(r.y)
        out["top"].append(r.y + r.dy)
        out["x"].append(r.x + r.dx / 2)
        out["y"].append(r.y + r.dy / 2)
        out["label"].append(label)
        out["hex"].append(hex_colour)
        out["count"].append(int(g["counts"][i]))
        out["coverage"].append(float(g["coverage"][i]))
        out["share"].append(round(100 * share, 1))
        out["text"].append(label if r.area >= TREEMAP_MIN_LABEL_SHARE * box_area else "")
        out["text_colour"].append(text_colour(hex_colour))
    return out


def points(g: dict, web_mercator: bool = False) -> dict:
    """GPS points of the map; x/y are longitude/latitude, or Web Mercator metres for tiles."""
    p = g["points"]
    if isinstance(p, list):  # records rather than columns: accept both
        p = {key: [row.get(key) for row in p] for key in ("id", "latitude", "longitude", "country", "make")}
    lat = [float(x) for x in p["latitude"]]
    lon = [float(x) for x in p["longitude"]]
    if web_mercator:
        xy = [mercator(a, o) for a, o in zip(lat, lon)]
        x, y = [v[0] for v in xy], [v[1] for v in xy]
    else:
        x, y = lon, lat
    return {
        "x": x,
        "y": y,
        "id": list(p["id"]),
        "latitude": lat,
        "longitude": lon,
        "country": [c or "" for c in p["country"]],
        "make": [m or "" for m in p["make"]],
    }


def background(latitudes, longitudes, web_mercator: bool = False) -> dict:
    if web_mercator:
        xy = [mercator(a, o) for a, o in zip(latitudes, longitudes)]
        return {"x": [v[0] for v in xy], "y": [v[1] for v in xy]}
    return {"x": list(longitudes), "y": list(latitudes)}


def dendrogram(g: dict) -> dict:
    """The link segments of a scipy dendrogram turned sideways: distance along x, the leaves
    down the y axis, where long tag names have room."""
    return {"xs": [list(map(float, d)) for d in g["dcoord"]], "ys": [list(map(float, i)) for i in g["icoord"]]}


def leaf_ticks(g: dict) -> tuple[list[float], dict[float, str]]:
    """Where scipy puts the leaves (5, 15, 25, … in leaf order) and the label of each."""
    ticks = [5.0 + 10.0 * k for k in range(len(g["labels"]))]
    counts_ = g.get("counts") or [None] * len(ticks)
    return ticks, {
        t: (f"{label} ({n})" if n is not None else label) for t, label, n in zip(ticks, g["labels"], counts_)
    }


def filter_options(g: dict, current: str | None) -> list[str]:
    """ "all", then the graph's labels (less the "other" bucket, which is no make or tag);
    the current choice stays selectable even when it has dropped out of the top."""
    labels = [str(x) for x in g["labels"] if x != "other"]
    if current and current not in labels:
        labels.append(current)
    return [ALL, *labels]


def as_date(value) -> date | None:
    """A date from what a Bokeh date widget sends: a date, an ISO string or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=UTC).date()
    return date.fromisoformat(str(value)[:10])


def choice(value: str | None) -> str | None:
    return None if value in (None, "", ALL) else value


def describe(filters) -> str:
    """A sentence naming the active filters, or saying there are none."""
    parts = []
    if filters.since and filters.until:
        parts.append(f"taken {filters.since.isoformat()} to {filters.until.isoformat()}")
    elif filters.since:
        parts.append(f"taken on or after {filters.since.isoformat()}")
    elif filters.until:
        parts.append(f"taken on or before {filters.until.isoformat()}")
    if filters.make:
        parts.append(f"camera make {filters.make}")
    if filters.tag:
        parts.append(f"tagged {filters.tag}")
    return "filters: " + "; ".join(parts) if parts else "no filters: the whole collection"
