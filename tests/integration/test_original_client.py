"""The original system's client keeps working: every request of its Postman collection
(`tests/support/original_client.postman.json`, the report's public entry points plus the
visualize service's reset) is sent to the session stack's gateway as that client sends it,
without a key, and answered as it expects. Under the default policy its reads are open; its
writes (an upload, starting a dataset download) need a key, and say so.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.support import poll
from tests.support.photos import Photo, jpeg

COLLECTION = Path(__file__).resolve().parents[1] / "support" / "original_client.postman.json"
# The report's "public entry points" (section 4), and the reset the original's client calls.
ENTRY_POINTS = {
    ("GET", "/gather/api/v1/health"),
    ("GET", "/gather/download"),
    ("GET", "/gather/status"),
    ("POST", "/gather/uploads"),
    ("GET", "/cdn/api/v1/health"),
    ("GET", "/cdn/show/{{filename}}"),
    ("GET", "/recommend/api/v1/health"),
    ("POST", "/recommend/recommend"),
    ("GET", "/visualize/api/v1/health"),
    ("GET", "/visualize/api/v1/reset"),
    *(
        ("GET", f"/visualize/graph/{name}")
        for name in (
            "size/static/2000/4",
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
    ),
}
WRITES = {("GET", "/gather/download"), ("POST", "/gather/uploads")}  # write and admin routes now
COUNT_STYLE = {"size/static/2000/4", "size/dynamic", "year", "brand", "countries", "altitude", "dominant_color"}
COUNT_STYLE |= {"tags/top"}
# What the collection's recommendation asks for: #b14343, 800×600, landscape, a Canon.
PAINT = (177, 67, 67)


@dataclass
class Call:
    name: str
    method: str
    path: str  # as the collection writes it, variables unfilled
    url: str
    headers: dict[str, str]
    content: bytes | None
    file_fields: list[str]


def calls(collection: dict, variables: dict[str, str]) -> list[Call]:
    """The collection's requests in order, folders flattened, ``{{variables}}`` filled in."""
    values = {v["key"]: v["value"] for v in collection.get("variable", [])} | variables

    def fill(text: str) -> str:
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m[1]], text)

    out = []

    def walk(items):
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            request = item["request"]
            raw = request["url"]["raw"]
            body = request.get("body") or {}
            out.append(
                Call(
                    name=item["name"],
                    method=request["method"],
                    path=raw.removeprefix("{{baseUrl}}").split("?")[0],
                    url=fill(raw),
                    headers={h["key"]: fill(h["value"]) for h in request.get("header", []) if not h.get("disabled")},
                    content=fill(body["raw"]).encode() if body.get("mode") == "raw" else None,
                    file_fields=[f["key"] for f in body.get("formdata", []) if f.get("type") == "file"],
                )
            )

    walk(collection["item"])
    return out


def send(client: httpx.Client, call: Call, file: tuple[str, bytes]) -> httpx.Response:
    """``call`` as Postman sends it; a form's file fields carry ``file`` (name, bytes)."""
    files = [(key, (file[0], file[1], "image/jpeg")) for key in call.file_fields] or None
    return client.request(call.method, call.url, headers=call.headers, content=call.content, files=files)


@pytest.fixture(scope="module")
def collection() -> dict:
    return json.loads(COLLECTION.read_text())


@pytest.fixture(scope="module")
def original_client():
    """The original's client: it has never heard of keys."""
    with httpx.Client(timeout=60) as client:
        assert "authorization" not in client.headers
        yield client


@pytest.fixture(scope="module")
def uploaded(gateway) -> dict:
    """An image of this module's own, under a file name no other test uses, enriched. Uploading
    is a write: the `gateway` fixture carries the key it needs."""
    name = f"original-client-{uuid.uuid4().hex[:12]}.jpg"
    data = jpeg(Photo(name, PAINT, (240, 240, 240), (800, 600), make="Canon"))
    response = gateway.post("/gather/uploads", files=[("files", (name, data, "image/jpeg"))])
    assert response.status_code == 202, (
        f"uploading with the `gateway` fixture answered {response.status_code} (does it carry a key?): {response.text}"
    )
    iid = response.json()["ids"][0]
    poll(
        lambda: gateway.get(f"/images/{iid}").json()["status"] == "enriched",
        180,
        interval=0.5,
        what="the original client's image to be enriched",
    )
    return {"filename": name, "data": data, "id": iid}


@pytest.fixture(scope="module")
def replayed(collection, original_client, uploaded, stack) -> dict[tuple[str, str], httpx.Response]:
    """Every request of the collection, sent once, in its order, without a key. The write
    requests carry this module's image: if one got through it would change nothing."""
    answers = {}
    for call in calls(collection, {"baseUrl": stack.gateway_url, "filename": uploaded["filename"]}):
        answers[call.method, call.path] = send(original_client, call, (uploaded["filename"], uploaded["data"]))
    return answers


def reads(replayed):
    return {key: response for key, response in replayed.items() if key not in WRITES}


def test_the_collection_is_the_originals_entry_points(collection):
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    found = calls(collection, {"baseUrl": "http://127.0.0.1:81", "filename": "photo.jpg"})
    assert {(c.method, c.path) for c in found} == ENTRY_POINTS
    assert len(found) == len(ENTRY_POINTS)
    assert not any("authorization" in (k.lower() for k in c.headers) for c in found)  # it never sent a key
    assert {c.url.split("/")[2] for c in found} == {"127.0.0.1:81"}


def test_every_read_answers_without_a_key(replayed):
    for (method, path), response in reads(replayed).items():
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text[:300]}"
        if path != "/cdn/show/{{filename}}":
            assert response.headers["content-type"].startswith("application/json"), path
            assert isinstance(response.json(), dict), path


def test_health(replayed):
    for (_, path), response in replayed.items():
        if path.endswith("/api/v1/health"):
            assert response.status_code == 200, f"{path}: {response.text}"
            assert response.json()["status"] == "ok", path


def test_graphs(replayed):
    graphs = {path.removeprefix("/visualize/graph/"): r for (_, path), r in replayed.items() if "/graph/" in path}
    assert len(graphs) == 10
    for name, response in graphs.items():
        assert response.status_code == 200, f"{name}: {response.text}"
        body = response.json()
        if name in COUNT_STYLE:
            assert isinstance(body["labels"], list) and isinstance(body["counts"], list), name
            assert len(body["labels"]) == len(body["counts"]), name
            assert all(isinstance(n, int | float) for n in body["counts"]), name
    # This module's image (a Canon taken in 2021) is among what they count.
    for name in ("year", "brand", "size/static/2000/4"):
        assert sum(graphs[name].json()["counts"]) >= 1, name
    points = graphs["map"].json()["points"]  # columns
    assert {"id", "latitude", "longitude"} <= set(points) and len(points["id"]) == len(points["latitude"])
    assert {"labels", "icoord", "dcoord"} <= set(graphs["tags/dendrogram"].json())


def test_reset(replayed, original_client, stack):
    response = replayed["GET", "/visualize/api/v1/reset"]
    assert response.status_code == 200, response.text
    assert response.json()["reset"] is True
    # Graphs drawn after it come out as before (the collection asks for the dendrogram after it).
    assert replayed["GET", "/visualize/graph/tags/dendrogram"].status_code == 200
    again = original_client.get(f"{stack.gateway_url}/visualize/api/v1/reset")
    assert again.status_code == 200 and again.json()["reset"] is True


def test_show_by_file_name_serves_the_same_bytes(replayed, uploaded):
    response = replayed["GET", "/cdn/show/{{filename}}"]
    assert response.status_code == 200, response.text
    assert response.content == uploaded["data"]
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"] == f'"{uploaded["id"]}"'  # the same ETag as by id
    assert response.headers["content-location"] == f"/cdn/show/{uploaded['id']}"


def test_recommend_takes_the_originals_body_and_answers_in_todays_format(replayed, uploaded):
    response = replayed["POST", "/recommend/recommend"]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["results"] and body["count"] == len(body["results"])
    assert set(body["resolved_tags"]) == {"cat", "person"}
    assert set(body["tag_resolution"]) == {"cat", "person"}
    for result in body["results"]:
        assert {"id", "score", "why", "url", "thumbnail"} <= set(result)
        assert result["why"]["make"] == {"wanted": "canon", "actual": "canon", "match": True}
        assert result["why"]["orientation"]["wanted"] == "landscape"  # the original's 0
        assert result["why"]["color"]["wanted"] == "#b14343"
        assert result["why"]["size"]["wanted"] == [800, 600]
    ours = next((r for r in body["results"] if r["id"] == uploaded["id"]), None)
    assert ours is not None, "the image painted the colour asked for is not among the results"
    assert ours["why"]["orientation"]["match"] is True and ours["why"]["size"]["actual"] == [800, 600]


def test_gather_status(replayed):
    response = replayed["GET", "/gather/status"]
    assert response.status_code == 200, response.text
    assert response.json()["pipeline"]["enriched"] >= 1


def test_its_writes_need_a_key_now(replayed):
    """An upload and a dataset download are a write and an admin route under the default
    policy: without a key, 401 JSON with a Bearer challenge."""
    for key in sorted(WRITES):
        response = replayed[key]
        assert response.status_code == 401, f"{key}: {response.status_code} {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/json"), key
        assert response.json()["error"], key
        assert response.headers["www-authenticate"].startswith("Bearer"), key


# --- /cdn/show/<file name> beyond the collection -------------------------------------------------------------


def test_show_by_file_name_keeps_etag_thumbnails_and_304(original_client, uploaded, stack):
    base = f"{stack.gateway_url}/cdn/show"
    by_name = original_client.get(f"{base}/{uploaded['filename']}")
    etag = by_name.headers["etag"]
    assert by_name.headers["cache-control"] == "no-cache"  # a name may come to mean another image
    not_modified = original_client.get(f"{base}/{uploaded['filename']}", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.headers["etag"] == etag
    thumb = original_client.get(f"{base}/{uploaded['filename']}", params={"size": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["etag"] == f'"{uploaded["id"]}-thumb"'
    with Image.open(io.BytesIO(thumb.content)) as im:
        assert max(im.size) <= 320
    assert original_client.get(f"{base}/{uploaded['filename']}", params={"size": "huge"}).status_code == 400
    # By id, exactly as before.
    by_id = original_client.get(f"{base}/{uploaded['id']}")
    assert by_id.content == uploaded["data"] and by_id.headers["etag"] == etag
    assert by_id.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-location" not in by_id.headers
    assert original_client.get(f"{base}/{uploaded['id'].upper()}").content == uploaded["data"]
    assert original_client.get(f"{base}/{uploaded['id']}", headers={"If-None-Match": etag}).status_code == 304


def test_a_file_name_several_images_share_is_ambiguous(gateway, original_client, stack):
    name = f"shared-{uuid.uuid4().hex[:12]}.jpg"
    photos = [jpeg(Photo(name, rgb, (0, 0, 0), (120, 90))) for rgb in ((10, 200, 10), (200, 10, 200))]
    response = gateway.post("/gather/uploads", files=[("files", (name, data, "image/jpeg")) for data in photos])
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    answer = original_client.get(f"{stack.gateway_url}/cdn/show/{name}")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert "ambiguous" in answer.json()["error"] and name in answer.json()["error"]
    assert sorted(answer.json()["ids"]) == sorted(ids)
    for iid, data in zip(ids, photos):  # each is still there by id
        assert original_client.get(f"{stack.gateway_url}/cdn/show/{iid}").content == data


@pytest.mark.parametrize("name", ["no-such-file.jpg", "a%00b.jpg", "%C3%A9t%C3%A9%20inconnu.jpg", "0" * 32])
def test_a_file_name_no_image_has_is_404(original_client, stack, name):
    answer = original_client.get(f"{stack.gateway_url}/cdn/show/{name}")
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]


def test_bad_original_preferences_are_400_naming_the_field(original_client, stack):
    for preferences, field in (
        ({"orientation": 2}, "preferences.orientation"),
        ({"dominant_color": "red"}, "preferences.dominant_color"),
        ({"imagewidth": -1}, "preferences.imagewidth"),
    ):
        answer = original_client.post(f"{stack.gateway_url}/recommend/recommend", json={"preferences": preferences})
        assert answer.status_code == 400, answer.text
        assert field in answer.json()["error"]
