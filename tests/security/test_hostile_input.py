"""Hostile input at every door of the live gateway: path traversal, SQL meta-characters in every
query parameter, oversized and malformed bodies, wrong content types. Each gets a 4xx (or an
answer that treats it as plain data), nothing is written, and the gateway keeps serving."""

from __future__ import annotations

import pytest

from tests.security.test_access import counts

SQL = [
    "' OR '1'='1",
    "1; DROP TABLE images; --",
    '"); DELETE FROM users; --',
    "%' UNION SELECT key_hash FROM api_keys --",
]

# Every query parameter of every route, with a value the route would accept otherwise.
QUERY_PARAMETERS = [
    ("/gather/download", "dataset"),
    ("/gather/download", "limit"),
    ("/gather/download", "width"),
    ("/gather/download", "concurrency"),
    ("/gather/deadletters", "stage"),
    ("/gather/deadletters", "limit"),
    ("/cdn/show/" + "0" * 32, "size"),
    ("/recommend/similar/" + "0" * 32, "limit"),
    ("/recommend/search", "q"),
    ("/recommend/search", "limit"),
    ("/recommend/evaluate", "k"),
    ("/recommend/evaluate", "queries"),
    ("/recommend/evaluate", "keyword"),
    ("/visualize/graph/year", "since"),
    ("/visualize/graph/year", "until"),
    ("/visualize/graph/brand", "make"),
    ("/visualize/graph/tags/top", "tag"),
    ("/visualize/graph/map", "limit"),
    ("/auth/link", "token"),
]


@pytest.fixture
def unchanged(db, gateway):
    before = counts(db)
    yield
    assert counts(db) == before
    assert gateway.get("/api/v1/health").status_code == 200  # still serving


@pytest.mark.parametrize("path, name", QUERY_PARAMETERS, ids=lambda v: str(v))
def test_sql_meta_characters_in_every_query_parameter_are_data(gateway, unchanged, path, name):
    for value in SQL:
        response = gateway.get(path, params={name: value})
        assert response.status_code < 500, (path, name, value, response.text)
        if response.status_code >= 400:
            assert "error" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/cdn/show/../../../../etc/passwd",
        "/cdn/show/..%2f..%2f..%2fetc%2fpasswd",
        "/cdn/show/%2e%2e/%2e%2e/etc/passwd",
        "/ui/../app.py",
        "/ui/..%2f..%2fapi%2fapp.py",
        "/ui/%2e%2e/%2e%2e/core/settings.py",
        "/images/..%2f..%2fetc",
    ],
)
def test_path_traversal_finds_nothing(anonymous, unchanged, path):
    response = anonymous.get(path)
    assert response.status_code in (400, 403, 404), (path, response.status_code)
    assert b"root:" not in response.content and b"import" not in response.content


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"content": b"[" * 50_000, "headers": {"Content-Type": "application/json"}}, 400),  # nested past any parser
        ({"content": b'{"tags": ["' + b"a" * 70_000 + b'"]}', "headers": {"Content-Type": "application/json"}}, 413),
        ({"json": {"tags": ["x" * 65]}}, 400),
        ({"json": {"tags": ["cat"] * 6}}, 400),
        ({"json": {"color": "#ffffff", "limit": 10**30}}, 400),
        ({"json": {"width": float("1e308")}}, 400),
        ({"content": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": "a string"}, 400),
        ({"json": {"preferences": {"dominant_color": "red"}}}, 400),
    ],
)
def test_malformed_and_oversized_bodies_are_refused(anonymous, unchanged, kwargs, status):
    response = anonymous.post("/recommend/recommend", **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"files": "not a file"}},
        {"content": b"raw bytes", "headers": {"Content-Type": "image/jpeg"}},
        {"content": b"--x\r\nbroken", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        {"files": [("other", ("a.jpg", b"\xff\xd8", "image/jpeg"))]},
        {"content": b"--x\r\n\r\n", "headers": {"Content-Type": "multipart/form-data"}},  # no boundary
        {"content": b"no parts", "headers": {"Content-Type": 'multipart/form-data; boundary=""'}},
        {
            "content": b"--" + b"b" * 100 + b"\r\n",
            "headers": {"Content-Type": "multipart/form-data; boundary=" + "b" * 100},
        },
    ],
)
def test_uploads_of_the_wrong_shape_are_refused(gateway, unchanged, kwargs):
    response = gateway.post("/gather/uploads", **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]


def test_a_write_with_the_wrong_content_type_is_refused(gateway, unchanged):
    response = gateway.put("/recommend/users/sec-ctype", content=b"color=red", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and "JSON" in response.json()["error"]
