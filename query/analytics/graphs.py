"""The data behind every graph (the original's ten), aggregated by PostgreSQL.

Only enriched images count. Every graph takes the same filters, turned into one
parameterised WHERE clause. Shared by the gateway (`/visualize/graph/<name>`) and the
Bokeh pages (`dashboards`); the pure parts (bins, labels, the dendrogram) are separate functions.

Conventions: labels are strings, counts ints; ``edges`` are the n+1 bin boundaries, with
None (JSON null) where a bin is open-ended; ``unknown`` counts the filtered images that
lack the graph's field (no date, no make, no GPS…), so they are visible, not lost.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from connectors.postgres import brand_key_sql, brand_spelling_sql
from core.colors import css3_hex

log = logging.getLogger("viewfinder.graphs")

NAMES: tuple[str, ...] = (
    "size/static/<step>/<n>",
    "size/dynamic",
    "year",
    "brand",
    "map",
    "countries",
    "altitude",
    "dominant_color",
    "tags/dendrogram",
    "tags/top",
)

STATIC_DEFAULT = (2000, 4)  # the original's /graph/size/static/2000/4
MAX_BINS = 50
MAX_STEP = 100_000
DYNAMIC_TARGET_BINS = 10
BRAND_TOP = 20
MAP_LIMIT, MAP_MAX = 20_000, 200_000
TAGS_TOP, TAGS_MAX = 20, 500
DENDROGRAM_MAX = 40
ALTITUDE_EDGES = (0, 500, 1000, 2000, 3000, 5000)  # metres; below the first and from the last are open-ended
MAX_FILTER_TEXT = 200

Embed = Callable[[list[str]], np.ndarray]


class UnknownGraph(KeyError):
    def __str__(self) -> str:  # KeyError's own str() wraps the message in quotes
        return self.args[0]


class GraphParameterError(ValueError):
    pass


# -- filters ------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    since: date | None = None  # EXIF taken_at >= since
    until: date | None = None  # taken_at < until + 1 day (the day is included)
    make: str | None = None  # camera make, compared as brands (connectors.postgres.brand_key_sql)
    tag: str | None = None  # the image has this detector label

    def __post_init__(self):
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        for name in ("make", "tag"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FILTER_TEXT:
                raise ValueError(f"{name} is longer than {MAX_FILTER_TEXT} characters")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        """Filters from a URL query (keys since, until, make, tag; empty means absent)."""

        def text(key):
            value = (query.get(key) or "").strip()
            return value or None

        def day(key):
            value = text(key)
            if value is None:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{key} must be a date as YYYY-MM-DD, got {value!r}") from None

        return cls(since=day("since"), until=day("until"), make=text("make"), tag=text("tag"))

    def to_query(self) -> dict[str, str]:
        """The inverse of from_query, for building URLs."""
        return {
            k: v.isoformat() if isinstance(v, date) else v
            for k, v in (("since", self.since), ("until", self.until), ("make", self.make), ("tag", self.tag))
            if v is not None
        }


BRAND_KEY = brand_key_sql("i.make")  # a make filter matches by brand, so a brand label works as a filter


def where(filters: Filters) -> tuple[str, dict]:
    """The WHERE clause (for ``images i``) and its parameters. Clause text is constant per
    filter; user input only ever travels as a parameter."""
    clauses = ["i.status = 'enriched'"]
    params: dict = {}
    if filters.since is not None:
        clauses.append("i.taken_at >= %(since)s")
        params["since"] = filters.since
    if filters.until is not None:
        clauses.append("i.taken_at < %(until_next_day)s")
        params["until_next_day"] = filters.until + timedelta(days=1)
    if filters.make is not None:
        clauses.append(f"{BRAND_KEY} = {brand_key_sql('%(make)s')}")
        params["make"] = filters.make
    if filters.tag is not None:
        clauses.append("EXISTS (SELECT 1 FROM image_tags ft WHERE ft.image_id = i.id AND ft.label = %(tag)s)")
        params["tag"] = " ".join(filters.tag.split()).lower()
    return " AND ".join(clauses), params


# -- pure parts -----------------------------------------------------------------


def nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 × 10^k (at least 1) that is >= raw."""
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    raise AssertionError("unreachable")


def dynamic_bins(low: int, high: int, target: int = DYNAMIC_TARGET_BINS) -> tuple[int, int, int]:
    """(start, step, n) for size/dynamic: step = nice_step((high - low) / target), start = low
    rounded down to a multiple of step, and as many bins as needed to include high. A nice
    step is 1 to 2.5 times the raw one, so n lies between target / 2.5 and target + 2."""
    if high < low:
        raise ValueError(f"high ({high}) is below low ({low})")
    step = nice_step((high - low) / target)
    start = (low // step) * step
    n = (high - start) // step + 1
    return start, step, n


def bin_edges(start: int, step: int, n: int, open_ended: bool) -> list[int | None]:
    edges: list[int | None] = [start + i * step for i in range(n + 1)]
    if open_ended:
        edges[-1] = None
    return edges


def bin_labels(edges: Sequence[float | None], unit: str = "") -> list[str]:
    """ "a–b" per bin; an open-ended first bin is "<b", an open-ended last one "≥a"."""
    labels = []
    for low, high in zip(edges, edges[1:]):
        if low is None:
            labels.append(f"<{high:g}{unit}")
        elif high is None:
            labels.append(f"≥{low:g}{unit}")
        else:
            labels.append(f"{low:g}–{high:g}{unit}")
    return labels


def fill_years(counts: Mapping[int, int]) -> tuple[list[str], list[int]]:
    """Every year from the first to the last, zero where none, so the axis keeps its scale."""
    if not counts:
        return [], []
    years = range(min(counts), max(counts) + 1)
    return [str(y) for y in years], [int(counts.get(y, 0)) for y in years]


def top_with_other(rows: Sequence[tuple[str, int]], top: int) -> tuple[list[str], list[int]]:
    """Largest first; everything past ``top`` summed into one "other" entry."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
    labels = [label for label, _ in ordered[:top]]
    counts = [int(n) for _, n in ordered[:top]]
    rest = sum(n for _, n in ordered[top:])
    if rest:
        labels.append("other")
        counts.append(int(rest))
    return labels, counts


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norms == 0, 1, norms)
    d = np.clip(1.0 - v @ v.T, 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    return (d + d.T) / 2  # rounding can leave it a hair off symmetric, which squareform refuses


def jaccard_distances(counts: Sequence[int], together: Mapping[tuple[int, int], int]) -> np.ndarray:
    """1 − |A∩B| / |A∪B| from each tag's image count and the pairwise co-occurrence counts
    (keyed by index pairs, either order)."""
    n = len(counts)
    d = np.ones((n, n))
    np.fill_diagonal(d, 0.0)
    for (a, b), both in together.items():
        union = counts[a] + counts[b] - both
        d[a, b] = d[b, a] = 1.0 - both / union if union else 1.0
    return d


def dendrogram(labels: Sequence[str], counts: Sequence[int], distances: np.ndarray, method: str) -> dict:
    """Average-linkage clustering of a square distance matrix, laid out by scipy (no plot)."""
    if len(labels) < 2:
        return {"labels": [], "counts": [], "icoord": [], "dcoord": [], "method": method}
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    condensed = squareform(np.asarray(distances, dtype=np.float64), checks=False)
    tree = hierarchy.dendrogram(hierarchy.linkage(condensed, method="average"), no_plot=True, labels=list(labels))
    count_of = dict(zip(labels, counts))
    return {
        "labels": list(tree["ivl"]),
        "counts": [int(count_of[label]) for label in tree["ivl"]],
        "icoord": [[float(x) for x in row] for row in tree["icoord"]],
        "dcoord": [[round(float(y), 6) for y in row] for row in tree["dcoord"]],
        "method": method,
    }


def cached_embedder(embed: Embed) -> Embed:
    """``embed`` remembering each text's vector, so a dashboard refreshing every few
    seconds embeds only new tags."""
    memory: dict[str, np.ndarray] = {}

    def cached(texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in memory]
        if new:
            memory.update(zip(new, np.asarray(embed(new), dtype=np.float64)))
        return np.stack([memory[t] for t in texts]) if texts else np.zeros((0, 0))

    return cached


_STATIC = re.compile(r"^size/static(?:/(?P<step>[^/]+)(?:/(?P<n>[^/]+))?)?$")


def parse_name(name: str) -> tuple[str, tuple]:
    """The graph and its path parameters; UnknownGraph or GraphParameterError."""
    match = _STATIC.match(name)
    if match:
        step, n = STATIC_DEFAULT
        try:
            step = int(match["step"]) if match["step"] is not None else step
            n = int(match["n"]) if match["n"] is not None else n
        except ValueError:
            raise GraphParameterError(f"size/static/<step>/<n> takes whole numbers, got {name!r}") from None
        if not 1 <= step <= MAX_STEP:
            raise GraphParameterError(f"step must be between 1 and {MAX_STEP} pixels, got {step}")
        if not 1 <= n <= MAX_BINS:
            raise GraphParameterError(f"n must be between 1 and {MAX_BINS} bins, got {n}")
        return "size/static", (step, n)
    if name in _GRAPHS:
        return name, ()
    raise UnknownGraph(f"no graph {name!r}; known: {', '.join(NAMES)}")


def _limit(limit: int | None, default: int, high: int) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= high:
        raise GraphParameterError(f"limit must be between 1 and {high}, got {limit}")
    return limit


# -- graphs ---------------------------------------------------------------------


def graph(db, name: str, filters: Filters = Filters(), *, embed: Embed | None = None, limit: int | None = None) -> dict:
    """The data behind graph ``name``. KeyError (UnknownGraph) for an unknown name,
    ValueError (GraphParameterError) for bad parameters."""
    kind, args = parse_name(name)
    return _GRAPHS[kind](db, filters, *args, embed=embed, limit=limit)


def _sizes(db, filters, start, step, n, open_ended) -> dict:
    clause, params = where(filters)
    params.update(start=start, step=step, last=n - 1)
    # Integer division puts each size in its bin; LEAST folds everything past the last edge
    # into the last bin (open-ended, or a row that arrived after size/dynamic measured).
    bin_of = "LEAST(GREATEST(({col} - %(start)s) / %(step)s, 0), %(last)s)"
    with db.cursor() as cur:
        cur.execute(
            f"""SELECT 'width' AS axis, {bin_of.format(col="i.width")} AS bin, count(*) AS n
                        FROM images i WHERE {clause} AND i.width IS NOT NULL GROUP BY 2
                        UNION ALL
                        SELECT 'height', {bin_of.format(col="i.height")}, count(*)
                        FROM images i WHERE {clause} AND i.height IS NOT NULL GROUP BY 2""",
            params,
        )
        rows = cur.fetchall()
    by_axis = {"width": [0] * n, "height": [0] * n}
    for row in rows:
        by_axis[row["axis"]][row["bin"]] = int(row["n"])
    edges = bin_edges(start, step, n, open_ended)
    return {
        "labels": bin_labels(edges),
        "counts": by_axis["width"],
        "height_counts": by_axis["height"],
        "edges": edges,
        "step": step,
    }


def size_static(db, filters, step, n, **_) -> dict:
    return _sizes(db, filters, 0, step, n, open_ended=True)


def size_dynamic(db, filters, **_) -> dict:
    """Bins from the data: width and height share them (dynamic_bins over both)."""
    clause, params = where(filters)
    with db.cursor() as cur:
        cur.execute(
            f"""SELECT LEAST(min(i.width), min(i.height)) AS low, GREATEST(max(i.width), max(i.height)) AS high
                        FROM images i WHERE {clause}""",
            params,
        )
        span = cur.fetchone()
    if span["low"] is None:
        return {"labels": [], "counts": [], "height_counts": [], "edges": [], "step": None}
    start, step, n = dynamic_bins(span["low"], span["high"])
    return _sizes(db, filters, start, step, n, open_ended=False)


def year(db, filters, **_) -> dict:
    clause, params = where(filters)
    with db.cursor() as cur:
        cur.execute(
            f"""SELECT extract(year FROM i.taken_at)::int AS year, count(*) AS n
                        FROM images i WHERE {clause} GROUP BY 1""",
            params,
        )
        rows = cur.fetchall()
    counts = {r["year"]: r["n"] for r in rows if r["year"] is not None}
    labels, values = fill_years(counts)
    return {"labels": labels, "counts": values, "unknown": int(sum(r["n"] for r in rows if r["year"] is None))}


def brand(db, filters, *, limit=None, **_) -> dict:
    """Makes grouped by brand key (connectors.postgres.brand_key_sql), each labelled with its
    most frequent spelling, the top ``limit`` (20) and then "other"."""
    top = _limit(limit, BRAND_TOP, 500)
    clause, params = where(filters)
    with db.cursor() as cur:
        # Normalise each distinct make once, not each row (a collection has few makes, many images).
        cur.execute(
            f"""WITH per_make AS (SELECT i.make, count(*) AS n FROM images i WHERE {clause} GROUP BY 1),
                             per_spelling AS (SELECT {brand_spelling_sql("make")} AS spelling, sum(n) AS n
                                              FROM per_make GROUP BY 1)
                        SELECT lower(spelling) AS brand_key,
                               (array_agg(spelling ORDER BY n DESC, spelling))[1] AS spelling, sum(n) AS n
                        FROM per_spelling GROUP BY 1""",
            params,
        )
        rows = cur.fetchall()
    labels, counts = top_with_other([(r["spelling"], int(r["n"])) for r in rows if r["brand_key"] is not None], top)
    return {"labels": labels, "counts": counts, "unknown": int(sum(r["n"] for r in rows if r["brand_key"] is None))}


def map_points(db, filters, *, limit=None, **_) -> dict:
    """GPS points. Past ``limit``, the points with the smallest ids: ids are content hashes,
    so that is a uniform sample that stays put as the collection grows."""
    cap = _limit(limit, MAP_LIMIT, MAP_MAX)
    clause, params = where(filters)
    located = f"{clause} AND i.latitude IS NOT NULL AND i.longitude IS NOT NULL"
    with db.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM images i WHERE {located}", params)
        total = int(cur.fetchone()["n"])
        cur.execute(
            f"""SELECT i.id, i.latitude, i.longitude, i.country, i.make FROM images i
                        WHERE {located} ORDER BY i.id LIMIT %(cap)s""",
            {**params, "cap": cap},
        )
        rows = cur.fetchall()
    points = {key: [r[key] for r in rows] for key in ("id", "latitude", "longitude", "country", "make")}
    return {"points": points, "count": total, "truncated": total > len(rows)}


def countries(db, filters, *, limit=None, **_) -> dict:
    top = _limit(limit, 500, 500)
    clause, params = where(filters)
    with db.cursor() as cur:
        cur.execute(f"SELECT i.country, count(*) AS n FROM images i WHERE {clause} GROUP BY 1", params)
        rows = cur.fetchall()
    labels, counts = top_with_other([(r["country"], r["n"]) for r in rows if r["country"]], top)
    return {"labels": labels, "counts": counts, "unknown": int(sum(r["n"] for r in rows if not r["country"]))}


def altitude(db, filters, **_) -> dict:
    clause, params = where(filters)
    params["edges"] = list(map(float, ALTITUDE_EDGES))
    with db.cursor() as cur:
        # width_bucket: 0 below the first edge, i for [edge i-1, edge i), len(edges) from the last.
        cur.execute(
            f"""SELECT width_bucket(i.altitude, %(edges)s::float8[]) AS bin, count(*) AS n
                        FROM images i WHERE {clause} GROUP BY 1""",
            params,
        )
        rows = cur.fetchall()
    edges = [None, *ALTITUDE_EDGES, None]
    counts = [0] * (len(edges) - 1)
    unknown = 0
    for r in rows:
        if r["bin"] is None:
            unknown += int(r["n"])
        else:
            counts[r["bin"]] = int(r["n"])
    labels = bin_labels(edges, " m")
    labels[0] = "below sea level"
    return {"labels": labels, "counts": counts, "edges": edges, "unknown": unknown}


def dominant_color(db, filters, **_) -> dict:
    clause, params = where(filters)
    with db.cursor() as cur:
        # Two swatches of one image can share a name: fold them per image first, so each image
        # counts once (measured 4x faster than count(DISTINCT id) at 100k images).
        cur.execute(
            f"""SELECT s.name, count(*) AS images, sum(s.coverage) AS coverage
                        FROM images i CROSS JOIN LATERAL (
                            SELECT c->>'name' AS name, sum((c->>'coverage')::float8) AS coverage
                            FROM jsonb_array_elements(i.colors) AS c WHERE c ? 'name' GROUP BY 1) AS s
                        WHERE {clause}
                        GROUP BY 1 ORDER BY coverage DESC, s.name""",
            params,
        )
        rows = cur.fetchall()
    return {
        "labels": [r["name"] for r in rows],
        "counts": [int(r["images"]) for r in rows],
        "coverage": [round(float(r["coverage"]), 2) for r in rows],
        "hex": [css3_hex(r["name"]) for r in rows],
    }


def _top_tags(cur, clause, params, limit) -> list[dict]:
    cur.execute(
        f"""SELECT t.label, count(*) AS images, avg(t.score) AS score
                    FROM images i JOIN image_tags t ON t.image_id = i.id
                    WHERE {clause} GROUP BY t.label ORDER BY images DESC, t.label LIMIT %(top)s""",
        {**params, "top": limit},
    )
    return cur.fetchall()


def tags_top(db, filters, *, limit=None, **_) -> dict:
    top = _limit(limit, TAGS_TOP, TAGS_MAX)
    clause, params = where(filters)
    with db.cursor() as cur:
        rows = _top_tags(cur, clause, params, top)
    return {
        "labels": [r["label"] for r in rows],
        "counts": [int(r["images"]) for r in rows],
        "scores": [round(float(r["score"]), 4) for r in rows],
    }


def tags_dendrogram(db, filters, *, embed=None, limit=None, **_) -> dict:
    """The top tags grouped by meaning: cosine distance of their names' text embeddings when
    ``embed`` is given (and works), else how often they appear together (Jaccard distance of
    their image sets)."""
    top = _limit(limit, DENDROGRAM_MAX, DENDROGRAM_MAX)
    clause, params = where(filters)
    with db.cursor() as cur:
        rows = _top_tags(cur, clause, params, top)
        labels = [r["label"] for r in rows]
        counts = [int(r["images"]) for r in rows]
        if len(labels) < 2:
            return dendrogram(labels, counts, np.zeros((0, 0)), "text-embedding" if embed else "co-occurrence")
        if embed is not None:
            try:
                return dendrogram(labels, counts, cosine_distances(embed(labels)), "text-embedding")
            except Exception:  # a failing model must not take the graph down
                log.exception("tag embedding failed; grouping tags by co-occurrence instead")
        cur.execute(
            f"""SELECT a.label AS a, b.label AS b, count(*) AS n
                        FROM images i
                        JOIN image_tags a ON a.image_id = i.id
                        JOIN image_tags b ON b.image_id = i.id AND a.label < b.label
                        WHERE {clause} AND a.label = ANY(%(labels)s) AND b.label = ANY(%(labels)s)
                        GROUP BY 1, 2""",
            {**params, "labels": labels},
        )
        index = {label: k for k, label in enumerate(labels)}
        together = {(index[r["a"]], index[r["b"]]): int(r["n"]) for r in cur.fetchall()}
    return dendrogram(labels, counts, jaccard_distances(counts, together), "co-occurrence")


_GRAPHS: dict[str, Callable[..., dict]] = {
    "size/static": size_static,
    "size/dynamic": size_dynamic,
    "year": year,
    "brand": brand,
    "map": map_points,
    "countries": countries,
    "altitude": altitude,
    "dominant_color": dominant_color,
    "tags/dendrogram": tags_dendrogram,
    "tags/top": tags_top,
}
