"""Near-duplicates through the whole pipeline: a photo and its resized, re-encoded copy find each
other by perceptual hash; a different photo does not. Real stack, real photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageEnhance

from core.perceptual import NEAR
from tests.support import poll
from tests.support.photos import sample_photo


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def family(gateway):
    from sklearn.datasets import load_sample_image

    # Flipped: photos no other test uploads, so nothing else in the session's collection is near them.
    base = sample_photo().transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    copy = ImageEnhance.Brightness(base.resize((base.width // 2, base.height // 2))).enhance(1.15)
    other = Image.fromarray(load_sample_image("flower.jpg")).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    files = [("base.jpg", jpeg(base)), ("copy.jpg", jpeg(copy, 50)), ("other.jpg", jpeg(other))]
    response = gateway.post("/gather/uploads", files=[("files", (n, d, "image/jpeg")) for n, d in files])
    assert response.status_code == 202, response.text
    ids = {img["filename"]: img["id"] for img in response.json()["images"]}

    def enriched():
        bodies = {name: gateway.get(f"/images/{iid}").json() for name, iid in ids.items()}
        return bodies if all(b["status"] == "enriched" for b in bodies.values()) else None

    return ids, poll(enriched, timeout=300, interval=0.5, what="the three photos to be enriched")


def test_a_copy_is_listed_on_the_image_and_back(family):
    ids, images = family
    near = {d["id"]: d["distance"] for d in images["base.jpg"]["near_duplicates"]}
    assert ids["copy.jpg"] in near and near[ids["copy.jpg"]] <= NEAR
    assert ids["other.jpg"] not in near
    back = {d["id"] for d in images["copy.jpg"]["near_duplicates"]}
    assert ids["base.jpg"] in back
    assert images["other.jpg"]["near_duplicates"] == []


def test_duplicates_endpoint_and_its_threshold(family, gateway):
    ids, _ = family
    body = gateway.get(f"/images/{ids['base.jpg']}/duplicates").json()
    assert body["within"] == NEAR and [d["id"] for d in body["near_duplicates"]] == [ids["copy.jpg"]]
    distance = body["near_duplicates"][0]["distance"]
    if distance > 0:  # a stricter bar than the copy's distance leaves it out
        strict = gateway.get(f"/images/{ids['base.jpg']}/duplicates", params={"within": distance - 1}).json()
        assert strict["near_duplicates"] == []
    assert gateway.get(f"/images/{ids['base.jpg']}/duplicates", params={"within": 65}).status_code == 400
    assert gateway.get("/images/" + "0" * 32 + "/duplicates").status_code == 404


def test_recommendations_show_one_of_a_near_duplicate_group(family, gateway):
    ids, images = family
    pair = {ids["base.jpg"], ids["copy.jpg"]}
    wanted = {"color": images["base.jpg"]["colors"][0]["hex"], "limit": 50}

    def shown(**extra):
        response = gateway.post("/recommend/recommend", json={**wanted, **extra})
        assert response.status_code == 200, response.text
        return response.json()["results"]

    apart = shown(group_duplicates=False)
    assert pair <= {r["id"] for r in apart}  # both are there to be folded
    grouped = shown()
    kept = [r for r in grouped if r["id"] in pair]
    assert len(kept) == 1 and kept[0]["why"]["near_duplicates_folded"] >= 1
    assert gateway.post("/recommend/recommend", json={**wanted, "group_duplicates": "yes"}).status_code == 400
