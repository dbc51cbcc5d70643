"""The gateway's handlers in-process: every refusal is JSON {"error"} with the right status,
state lives under typed application keys, and the dataset run is one object."""

from __future__ import annotations

import pytest

from api.services import DATASET_RUN, SERVICES, Services
from connectors.unsplash.job import DatasetRun
from tests.support import poll


def error_of(answer, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers["Content-Type"]
    body = answer.json()
    assert set(body) >= {"error"} and isinstance(body["error"], str) and body["error"]
    return body["error"]


def test_state_lives_under_typed_keys(gateway):
    assert isinstance(gateway.app[SERVICES], Services)
    assert isinstance(gateway.app[DATASET_RUN], DatasetRun)


@pytest.mark.parametrize(
    "method, path, kwargs, status, fragment",
    [
        ("GET", "/no/such/route", {}, 404, "Not Found"),
        ("DELETE", "/gather/uploads", {}, 405, "Method Not Allowed"),
        ("GET", "/images/not-an-id", {}, 404, "no image"),
        ("GET", "/images/" + "0" * 32, {}, 404, "no image"),
        ("GET", "/cdn/show/" + "0" * 32, {"params": {"size": "huge"}}, 400, "size must be"),
        (
            "POST",
            "/recommend/recommend",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "body must be",
        ),
        ("POST", "/recommend/recommend", {"json": [1, 2]}, 400, "body must be"),
        ("POST", "/recommend/recommend", {"json": {"color": "red"}}, 400, "#rrggbb"),
        ("POST", "/recommend/recommend", {"json": {"tags": list("abcdef")}}, 400, "at most 5"),
        ("POST", "/recommend/recommend", {"json": {"width": -3}}, 400, "width"),
        ("POST", "/recommend/recommend", {"json": {"orientation": "diagonal"}}, 400, "orientation"),
        ("POST", "/recommend/recommend", {"json": {"user": "nobody-at-all"}}, 404, "no user"),
        ("GET", "/recommend/similar/" + "0" * 32, {"params": {"limit": "many"}}, 400, "limit must be a whole number"),
        ("GET", "/recommend/search", {"params": {"q": ""}}, 400, "q must be"),
        ("PUT", "/recommend/users/bad name!", {"json": {}}, 400, "a user name is"),
        ("GET", "/recommend/users/nobody-at-all", {}, 404, "no user"),
        ("POST", "/gather/uploads", {"json": {}}, 400, "multipart/form-data"),
        ("POST", "/gather/download", {"json": {}}, 400, "say which dataset"),
        ("GET", "/gather/download", {"params": {"dataset": "/nowhere", "limit": "-2"}}, 400, "limit must be between"),
        ("GET", "/gather/deadletters", {"params": {"stage": "stored"}}, 400, "stage must be one of"),
        ("POST", "/gather/deadletters/retry", {"json": {"ids": [1, 2]}}, 400, "IMAGE IDS"),
        ("GET", "/visualize/graph/year", {"params": {"since": "last week"}}, 400, "since must be a date"),
        ("GET", "/visualize/graph/map", {"params": {"limit": "0"}}, 400, "limit must be between"),
    ],
)
def test_every_refusal_is_json_with_the_right_status(gateway, method, path, kwargs, status, fragment):
    assert fragment in error_of(gateway.request(method, path, **kwargs), status)


def test_a_wrong_method_keeps_its_allow_header(gateway):
    answer = gateway.request("DELETE", "/gather/uploads")
    error_of(answer, 405)
    assert "POST" in answer.headers["Allow"]


def test_a_json_body_over_the_limit_is_413_before_it_is_read(gateway):
    huge = b'{"tags": ["' + b"x" * (2 << 20) + b'"]}'
    answer = gateway.post("/recommend/recommend", data=huge, headers={"Content-Type": "application/json"})
    assert "at most 65536 bytes" in error_of(answer, 413)


@pytest.mark.parametrize(
    "body, status",
    [
        ({"user": "erin", "image": "0" * 32, "signal": "love"}, 400),
        ({"user": "erin", "image": "nope", "signal": "like"}, 400),
        ({"user": "no such user", "image": "0" * 32, "signal": "like"}, 400),
        ({"user": "stranger", "image": "0" * 32, "signal": "like"}, 404),
    ],
)
def test_feedback_is_validated(gateway, body, status):
    error_of(gateway.post("/recommend/feedback", json=body), status)


def test_unknown_graphs_are_404_with_the_list(gateway):
    answer = gateway.get("/visualize/graph/nope")
    assert "no graph" in error_of(answer, 404) and "tags/dendrogram" in answer.json()["graphs"]


def test_a_dataset_run_fails_clearly_on_a_missing_folder_and_reports_it(gateway, stack):
    missing = stack.data_dir / "datasets" / "nowhere"  # where datasets may be, but none is
    started = gateway.post("/gather/download", json={"dataset": str(missing)})
    assert started.status_code == 202 and started.json()["gather"]["dataset"] == str(missing)
    finished = poll(
        lambda: (lambda g: g if g and g["phase"] in ("done", "failed") else None)(
            gateway.get("/gather/status").json()["gather"]
        ),
        30,
        what="the run to end",
    )
    assert finished["phase"] == "failed" and "no such folder" in finished["error"]
    assert gateway.app[DATASET_RUN].status() == gateway.get("/gather/status").json()["gather"]
