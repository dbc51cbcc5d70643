"""The gallery (GET /images) on the real stack: newest first, every image once across pages,
filters that hold for every image they return, and the colour family PostgreSQL computes equal
to core.colors.family."""

from __future__ import annotations

import random
import uuid

import pytest

from core.colors import family
from tests.support import upload_and_wait
from tests.support.photos import Photo

PALETTE = {"red": (215, 30, 35), "blue": (30, 60, 210), "green": (40, 170, 60)}


def test_the_database_groups_colours_into_the_same_families(db):
    rng = random.Random(11)
    colours = [f"#{rng.randrange(1 << 24):06x}" for _ in range(2000)] + ["#000000", "#ffffff", "#ff0000", "#ff0033"]
    with db.cursor() as cur:
        cur.execute("SELECT h, colour_family(h) AS f FROM unnest(%s::text[]) AS h", (colours,))
        computed = {r["h"]: r["f"] for r in cur.fetchall()}
    assert {h: family(h) for h in colours} == computed


@pytest.fixture(scope="module")
def shelf(gateway):
    """Nine photos of this module's own: three colours, each landscape, portrait and by another make,
    taken on three days."""
    run = uuid.uuid4().hex[:8]
    photos = []
    for colour, rgb in PALETTE.items():
        for i, (size, make, day) in enumerate(
            [
                ((420, 280), "Gallerymake", "2019:03:01"),
                ((280, 420), "Gallerymake", "2019:03:02"),
                ((400, 300), "Othermake", "2019:03:03"),
            ]
        ):
            photos.append(
                Photo(
                    f"gallery-{run}-{colour}-{i}.jpg",
                    rgb,
                    (250, 250, 250),
                    size,
                    make=make,
                    taken=f"{day} 12:00:00",
                    spot=(0.1 * i, 0.2),
                )
            )
    return {img["filename"]: img["id"] for img in upload_and_wait(gateway, photos)}


def pages(gateway, **params) -> tuple[list[dict], list[int]]:
    """Every image of the gallery for ``params``, page by page; and each page's count."""
    images, counts, cursor = [], [], None
    while True:
        response = gateway.get("/images", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        images += body["images"]
        counts.append(body["count"])
        cursor = body["next"]
        if cursor is None:
            return images, counts


def test_every_image_once_newest_first_across_pages(gateway, shelf):
    images, counts = pages(gateway, limit=4)
    ids = [i["id"] for i in images]
    assert len(ids) == len(set(ids)) == counts[0]
    assert set(shelf.values()) <= set(ids)
    arrived = [(i["arrived_at"], i["id"]) for i in images]
    assert arrived == sorted(arrived, reverse=True)
    first = gateway.get("/images", params={"limit": 1}).json()
    assert first["images"][0]["id"] == ids[0] and first["images"][0]["thumbnail"] == f"/cdn/show/{ids[0]}?size=thumb"


def test_filters_hold_for_every_image_they_return(gateway, shelf):
    reds, _ = pages(gateway, color="red", make="Gallerymake", limit=2)
    ours = {i for name, i in shelf.items() if "-red-" in name and not name.endswith("-2.jpg")}
    assert ours <= {i["id"] for i in reds}
    assert all(any(c["family"] == "red" and c["coverage"] >= 10 for c in i["colors"]) for i in reds)
    assert all(i["make"] == "Gallerymake" for i in reds)
    portraits, _ = pages(gateway, orientation="portrait", make="gallerymake")  # any spelling of the brand
    assert {i for name, i in shelf.items() if name.endswith("-1.jpg")} <= {i["id"] for i in portraits}
    assert all(i["orientation"] == "portrait" for i in portraits)
    day, _ = pages(gateway, taken_from="2019-03-02", taken_to="2019-03-02")
    assert {i["id"] for i in day} >= {i for name, i in shelf.items() if name.endswith("-1.jpg")}
    assert all(i["taken_at"].startswith("2019-03-02") for i in day)
    some = next(i for i in day if i["tags"])
    label = next(iter(some["tags"]))
    tagged, counts = pages(gateway, tag=label)
    assert some["id"] in {i["id"] for i in tagged} and all(label in i["tags"] for i in tagged)
    assert counts[0] == len(tagged)
    assert pages(gateway, tag="no-such-label-anywhere")[0] == []


def test_bad_parameters_get_a_clear_400(gateway):
    for params, needle in [
        ({"color": "plaid"}, "color must be one of"),
        ({"limit": "1000"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"sort": "oldest"}, "unknown parameter"),
    ]:
        response = gateway.get("/images", params=params)
        assert response.status_code == 400 and needle in response.json()["error"], response.text
