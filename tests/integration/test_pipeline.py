"""An upload travels the whole real stack: gateway → S3 + PostgreSQL + Kafka → Faust
stages → PostgreSQL + vector index → recommendation."""

from __future__ import annotations

import io
import itertools

import httpx
import pytest
from bokeh.client import pull_session
from bokeh.models import ColumnDataSource
from PIL import Image

from connectors.postgres import Database
from connectors.vectors import open_index
from core.colors import delta_e, hex_to_rgb, rgb_to_lab
from schemas.pipeline import STAGE_NAMES
from tests.support import TINY_CLIP_DIM, poll
from tests.support.photos import Photo, expected_degrees, jpeg

PAINTS = {
    "red": (230, 20, 20),
    "blue": (20, 40, 220),
    "green": (30, 170, 50),
    "yellow": (245, 220, 30),
    "purple": (130, 40, 160),
}
SHAPES = {"landscape": (360, 240), "portrait": (240, 360), "square": (300, 300)}
GPS = [(-33.8568, 151.2153, 58.0), (40.6892, -74.0445, 12.5), (-22.9519, -43.2105, -8.25), None, None, None]
COUNTRIES = dict(zip(GPS[:3], ["Australia", "United States", "Brazil"]))


def make_photos() -> list[Photo]:
    photos = []
    combos = itertools.product(PAINTS.items(), SHAPES.items(), range(2))
    for i, ((paint, rgb), (shape, size), copy) in enumerate(combos):
        photos.append(
            Photo(
                name=f"{paint}-{shape}-{copy}.jpg",
                color=rgb,
                accent=(235, 235, 235) if copy else (10, 10, 10),
                size=(size[0] + 8 * copy, size[1] + 8 * copy) if shape != "square" else size,
                make=["Canon", "NIKON CORPORATION", "SONY"][i % 3],
                model=f"Model {i}",
                taken=f"20{10 + i % 12}:0{1 + i % 9}:1{i % 10} 0{i % 10}:15:30",
                iso=100 * (1 + i % 8),
                gps=GPS[i % len(GPS)],
            )
        )
    return photos


PHOTOS = make_photos()
TRUNCATED = jpeg(Photo("cut", (200, 0, 0), (0, 0, 0), (400, 300)))[:900]


def upload(gateway, files):
    return gateway.post("/gather/uploads", files=[("files", f) for f in files])


@pytest.fixture(scope="module")
def uploaded(gateway):
    assert len(PHOTOS) == 30
    files = [(p.name, jpeg(p), "image/jpeg") for p in PHOTOS]
    files += [("truncated.jpg", TRUNCATED, "image/jpeg"), ("notes.jpg", b"just some text, not a JPEG", "image/jpeg")]
    response = upload(gateway, files)
    assert response.status_code == 202, response.text
    body = response.json()
    ids = {img["filename"]: img["id"] for img in body["images"]}

    def finished():
        done = {}
        for name, iid in ids.items():
            r = gateway.get(f"/images/{iid}")
            if r.status_code != 200 or r.json()["status"] == "arrived":
                return None
            done[name] = r.json()
        return done

    images = poll(finished, timeout=300, interval=1, what="every upload to finish the pipeline")
    return body, ids, images


def test_upload_answers_202_with_ids_and_rejects_non_images(uploaded):
    body, ids, _ = uploaded
    assert len(body["ids"]) == 31  # 30 photos and the truncated file, which only the decoders can catch
    assert [r["filename"] for r in body["rejected"]] == ["notes.jpg"]
    assert "not an image" in body["rejected"][0]["reason"]
    assert all(len(i) == 32 for i in body["ids"])


def test_every_photo_is_enriched_with_exact_exif(uploaded):
    _, ids, images = uploaded
    for photo in PHOTOS:
        img = images[photo.name]
        assert img["status"] == "enriched", (photo.name, img.get("error"))
        exif = img["exif"]
        assert exif["Make"] == photo.make and exif["Model"] == photo.model
        y, mo, rest = photo.taken.split(":", 2)
        assert exif["DateTimeOriginal"] == f"{y}-{mo}-{rest.replace(' ', 'T')}"
        assert exif["ISOSpeedRatings"] == photo.iso
        assert (img["width"], img["height"]) == photo.size
        w, h = photo.size
        assert img["orientation"] == ("square" if w == h else "landscape" if w > h else "portrait")
        if photo.gps:
            lat, lon, alt = photo.gps
            assert exif["Latitude"] == pytest.approx(expected_degrees(lat), abs=1e-6)
            assert exif["Longitude"] == pytest.approx(expected_degrees(lon), abs=1e-6)
            assert exif["Altitude"] == pytest.approx(alt, abs=0.01)
            assert (exif["Latitude"] < 0) == (lat < 0) and (exif["Longitude"] < 0) == (lon < 0)
            assert img["country"] == COUNTRIES[photo.gps]
        else:
            assert not {"Latitude", "Longitude", "Altitude"} & set(exif)
            assert img["country"] is None


def test_colours_are_close_to_what_was_painted(uploaded):
    _, _, images = uploaded
    for photo in PHOTOS:
        colors = images[photo.name]["colors"]
        assert 1 <= len(colors) <= 4
        assert [c["coverage"] for c in colors] == sorted((c["coverage"] for c in colors), reverse=True)
        main = colors[0]
        assert main["coverage"] > 70
        assert float(delta_e(rgb_to_lab(hex_to_rgb(main["hex"])), rgb_to_lab(photo.color))) < 10, (photo.name, main)
        assert isinstance(main["name"], str) and main["name"]


def test_tags_come_from_the_detector(uploaded):
    _, _, images = uploaded
    for photo in PHOTOS:
        img = images[photo.name]
        assert img["tags_status"] == "ok"
        assert img["tags"], photo.name
        for tag in img["tags"].values():
            assert tag["count"] == len(tag["boxes"]) >= 1 and 0 <= tag["score"] <= 1
            for x0, y0, x1, y1 in tag["boxes"]:  # in the stored image's pixels, not the detector's
                assert 0 <= x0 <= x1 <= img["width"] + 1 and 0 <= y0 <= y1 <= img["height"] + 1


def enriched_and_points(stack) -> tuple[int, int]:
    db, index = Database(stack.database_url, maxconn=1), open_index(stack)
    try:
        return db.images.pipeline_status()["enriched"], index.count()
    finally:
        db.close()
        index.close()


def test_one_vector_point_per_enriched_image_with_its_clip_embedding(uploaded, stack):
    _, ids, images = uploaded
    assert sum(1 for img in images.values() if img["status"] == "enriched") == 30
    assert all(images[p.name]["embedding_status"] == "ok" for p in PHOTOS)
    enriched, points = enriched_and_points(stack)
    assert points == enriched >= 30
    index = open_index(stack)
    try:
        with_clip = {h["id"] for h in index.search("clip", [1.0] * TINY_CLIP_DIM, {}, 10_000)}
    finally:
        index.close()
    assert {ids[p.name] for p in PHOTOS} <= with_clip


def test_red_landscapes_rank_first(uploaded, gateway):
    _, ids, _ = uploaded
    red_landscapes = {ids[p.name] for p in PHOTOS if p.name.startswith("red-landscape")}
    response = gateway.post("/recommend/recommend", json={"color": "#ff0000", "orientation": "landscape", "limit": 10})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert {r["id"] for r in results[: len(red_landscapes)]} == red_landscapes
    top = results[0]
    assert top["why"]["orientation"]["match"] is True
    assert top["why"]["color"]["delta_e"] < 15
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_same_bytes_twice_is_one_image(uploaded, gateway, stack):
    _, ids, _ = uploaded
    before = enriched_and_points(stack)
    photo = PHOTOS[0]
    response = upload(gateway, [(f"again-{photo.name}", jpeg(photo), "image/jpeg")])
    assert response.status_code == 202
    again = response.json()["images"][0]
    assert again["id"] == ids[photo.name] and again["duplicate"] is True
    assert gateway.get(f"/images/{again['id']}").json()["filename"] == photo.name
    assert enriched_and_points(stack) == before


def test_corrupt_file_is_dead_lettered_with_its_reason(uploaded):
    _, _, images = uploaded
    img = images["truncated.jpg"]
    assert img["status"] == "failed"
    assert "truncated" in img["error"]
    assert img["dead_letters"] and "truncated" in img["dead_letters"][0]["reason"]


def test_cdn_serves_the_original_bytes_with_etag(uploaded, gateway):
    _, ids, _ = uploaded
    photo = PHOTOS[3]
    response = gateway.get(f"/cdn/show/{ids[photo.name]}")
    assert response.status_code == 200
    assert response.content == jpeg(photo)  # byte for byte: EXIF preserved
    assert response.headers["content-type"] == "image/jpeg"
    etag = response.headers["etag"]
    assert gateway.get(f"/cdn/show/{ids[photo.name]}", headers={"If-None-Match": etag}).status_code == 304
    thumb = gateway.get(f"/cdn/show/{ids[photo.name]}?size=thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert max(im.size) <= 320
    assert gateway.get("/cdn/show/" + "0" * 32).status_code == 404


def test_health_names_every_dependency(gateway):
    for service in ("", "/gather", "/cdn", "/recommend", "/visualize"):
        response = gateway.get(f"{service}/api/v1/health")
        assert response.status_code == 200, response.text
        assert all(c["ok"] for c in response.json()["checks"].values())
    assert set(gateway.get("/api/v1/health").json()["checks"]) == {
        "broker",
        "database",
        "object_store",
        "vector_index",
        "dashboard",
    }


def test_the_dashboard_health_check_fails_when_nothing_serves_the_pages(stack):
    from api.services import Services
    from viewfinder.embedded.process import free_port

    def check(settings):
        return Services(settings, db=None, store=None, index=None, publisher=None)._dashboard()

    check(stack)  # the session's dashboard server answers
    with pytest.raises(httpx.HTTPError):
        check(stack.replace(dashboard_port=free_port()))


def test_the_dashboard_server_serves_the_live_pipeline_page(stack, uploaded):
    page = httpx.get(f"{stack.dashboard_url}/pipeline", timeout=30)
    assert page.status_code == 200
    assert "Viewfinder — pipeline" in page.text and "bokeh" in page.text.lower()

    def stages_shown():
        with pull_session(url=f"{stack.dashboard_url}/pipeline") as session:
            [source] = [m for m in session.document.select({"type": ColumnDataSource})]
            return dict(zip(source.data["stage"], source.data["passed"]))

    enriched, _ = enriched_and_points(stack)
    shown = poll(
        lambda: (lambda s: s if s["sink"] == enriched else None)(stages_shown()),
        30,
        what="the dashboard to show what PostgreSQL holds",
    )
    assert list(shown) == list(STAGE_NAMES) and shown["exif"] >= shown["sink"] >= 30


def test_bad_preferences_get_a_clear_400(gateway):
    for body, needle in [
        ({"color": "red"}, "#rrggbb"),
        ({"tags": ["a", "b", "c", "d", "e", "f"]}, "at most 5"),
        ({"width": -3}, "width"),
        ({"orientation": "diagonal"}, "orientation"),
    ]:
        response = gateway.post("/recommend/recommend", json=body)
        assert response.status_code == 400
        assert needle in response.json()["error"]


def test_free_text_tags_resolve_by_meaning(uploaded, gateway):
    response = gateway.post("/recommend/recommend", json={"tags": ["puppy", "mammoth"], "limit": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    # The gateway resolves against every label an image can carry: "puppy" is one of CLIP's open labels.
    assert body["resolved_tags"] == {"puppy": "puppy", "mammoth": "elephant"}
    puppy, mammoth = body["tag_resolution"]["puppy"], body["tag_resolution"]["mammoth"]
    assert puppy["via"] == "exact" and puppy["broader"] == ["dog"]  # a dog may be the puppy asked for
    assert mammoth["via"] in ("wordnet", "embedding") and mammoth["score"] > 0.5  # by meaning
    # The tiny random detector calls everything an elephant, so elephants are what there is to find.
    top = body["results"][0]["why"]["tags"]
    assert top["matched"] == ["elephant"] and top["resolved_from"] == {"elephant": ["mammoth"]}
    assert top["missing"] == ["puppy"]
    assert top["paths"]["mammoth"] == {"path": "tag", "by": ["elephant"]}
    assert top["paths"]["puppy"]["path"] in ("none", "broader", "clip")
