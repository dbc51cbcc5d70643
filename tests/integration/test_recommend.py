"""The recommender on a small real collection: filters, users, feedback that moves rankings,
more-like-this."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from schemas.records import Feedback
from tests.support import poll
from tests.support.photos import Photo, jpeg

COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (40, 180, 60)}


@pytest.fixture(scope="module")
def collection(gateway):
    photos = [
        Photo(f"rec-{name}-{i}.jpg", rgb, (250, 250, 250), (300 + 10 * i, 200), make=make, model="M")
        for name, rgb in COLOURS.items()
        for i, make in enumerate(["Leica", "Fujifilm", "Leica", "Ricoh"])
    ]
    response = gateway.post("/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos])
    assert response.status_code == 202, response.text
    ids = {img["filename"]: img["id"] for img in response.json()["images"]}
    poll(
        lambda: all(gateway.get(f"/images/{i}").json()["status"] == "enriched" for i in ids.values()),
        180,
        interval=0.5,
        what="the collection to be enriched",
    )
    return {colour: [ids[p.name] for p in photos if p.name.startswith(f"rec-{colour}-")] for colour in COLOURS}


def recommend(gateway, **body):
    # The collection's pictures share one layout in a few colours: near-duplicates by design, kept apart
    # here (grouping has tests of its own, tests/integration/test_near_duplicates.py).
    response = gateway.post("/recommend/recommend", json={"limit": 100, "group_duplicates": False, **body})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_a_make_filter_returns_only_that_make(collection, gateway):
    results = recommend(gateway, make="leica", color="#dd2222")
    assert len(results) >= 6
    assert {r["why"]["make"]["actual"] for r in results} == {"leica"}
    assert results[0]["id"] in collection["red"]


def test_users_keep_their_preferences(gateway):
    assert gateway.get("/recommend/users/nobody-here").status_code == 404
    saved = gateway.put("/recommend/users/carol", json={"color": "#2244DD", "orientation": "landscape"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["preferences"] == {"color": "#2244dd", "orientation": "landscape"}
    assert gateway.put("/recommend/users/carol", json={"color": "blue"}).status_code == 400
    assert gateway.put("/recommend/users/bad name!", json={}).status_code == 400


def test_stated_preferences_of_a_user_apply(collection, gateway):
    gateway.put("/recommend/users/dave", json={"color": "#1e3cdc", "make": "Leica"})
    results = recommend(gateway, user="dave", limit=2)  # the collection has two blue Leica photos
    assert {r["id"] for r in results} == {collection["blue"][0], collection["blue"][2]}
    # A stated preference in the request wins over the saved one.
    assert recommend(gateway, user="dave", color="#dd2222", limit=1)[0]["id"] in collection["red"]


def rank(results, ids) -> float:
    """Mean position of ``ids``; one pushed out of the results counts as just past the end
    (the session's collection is shared and may outgrow a page of results)."""
    positions = {r["id"]: n for n, r in enumerate(results)}
    return sum(positions.get(i, len(results)) for i in ids) / len(ids)


def test_likes_move_similar_images_up_and_dislikes_move_them_down(collection, gateway):
    gateway.put("/recommend/users/erin", json={"orientation": "landscape"})
    before = recommend(gateway, user="erin")
    liked, disliked = collection["red"][0], collection["blue"][0]
    for image, signal in ((liked, "like"), (disliked, "dislike")):
        response = gateway.post("/recommend/feedback", json={"user": "erin", "image": image, "signal": signal})
        assert response.status_code == 202, response.text
    poll(
        lambda: (lambda u: liked in u["likes"] and disliked in u["dislikes"])(
            gateway.get("/recommend/users/erin").json()
        ),
        60,
        what="the worker to fold the feedback",
    )
    after = recommend(gateway, user="erin")
    other_red, other_blue = collection["red"][1:], collection["blue"][1:]
    assert rank(after, other_red) < rank(before, other_red)
    assert rank(after, other_blue) > rank(before, other_blue)
    assert {liked, disliked}.isdisjoint(r["id"] for r in after)  # judged images are not offered again
    assert after[0]["why"]["feedback"]["likes"] == 1 and after[0]["id"] in other_red


def test_feedback_is_validated(collection, gateway):
    image = collection["green"][0]
    cases = [
        ({"user": "erin", "image": image, "signal": "love"}, 400),
        ({"user": "erin", "image": "nope", "signal": "like"}, 400),
        ({"user": "stranger", "image": image, "signal": "like"}, 404),
        ({"user": "erin", "image": "0" * 32, "signal": "like"}, 404),
    ]
    for body, status in cases:
        assert gateway.post("/recommend/feedback", json=body).status_code == status, body


def test_replayed_feedback_folds_once(db, gateway, collection):
    gateway.put("/recommend/users/fay", json={})
    event = Feedback(
        event_id=str(uuid.uuid4()),
        user="fay",
        image_id=collection["green"][1],
        signal="like",
        at=datetime.now(UTC).isoformat(),
    )
    older = Feedback(
        event_id=str(uuid.uuid4()),
        user="fay",
        image_id=collection["green"][1],
        signal="dislike",
        at="2000-01-01T00:00:00+00:00",
    )
    for e in (event, event, older):
        db.users.apply_feedback(e)
    user = db.users.get("fay")
    assert user["likes"] == [collection["green"][1]] and user["dislikes"] == []  # the older dislike loses
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM feedback WHERE user_name = 'fay'")
        assert cur.fetchone()["n"] == 2


def test_more_like_this(collection, gateway):
    red = collection["red"][0]
    response = gateway.get(f"/recommend/similar/{red}", params={"limit": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["space"] == "clip" and red not in {r["id"] for r in body["results"]}
    assert {r["id"] for r in body["results"]} == set(collection["red"][1:])
    assert gateway.get(f"/recommend/similar/{'0' * 32}").status_code == 404


@pytest.mark.parametrize("threshold", [0.0, 1.01])
def test_wanted_words_find_images_through_clip(stack, db, collection, tiny_clip, threshold):
    """Where CLIP's weights exist, a word no tag carries still finds the images CLIP sees it in:
    at threshold 0 it sees it in every image, above 1 in none (the tiny model's probabilities
    mean nothing in between)."""
    from connectors.vectors import open_index
    from inference.clip import load_embedder
    from query.recommendation import service

    embedder = load_embedder(str(tiny_clip), None, 120)
    index = open_index(stack)
    try:
        asked = service.prepare(db, {"tags": ["zzqx lantern"], "limit": 5, "group_duplicates": False})
        body = service.recommend(index, asked, None, embedder, threshold)
    finally:
        index.close()
    assert body["resolved_tags"] == {"zzqx lantern": None} and len(body["results"]) == 5
    paths = [r["why"]["tags"]["paths"]["zzqx lantern"] for r in body["results"]]
    if threshold == 0.0:
        assert all(p["path"] == "clip" and 0.0 <= p["probability"] <= 1.0 for p in paths), paths
        assert all(r["score"] == 1.0 for r in body["results"])
    else:
        assert paths == [{"path": "none"}] * 5 and all(r["score"] == 0.0 for r in body["results"])
