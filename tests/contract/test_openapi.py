"""The contract (`/openapi.json`, `api/openapi.py`) against the code and the live gateway.

(a) The document is valid OpenAPI 3.1, lists every route the gateway registers with details
written for it, and says who may call each route as its access level does; /docs renders it
offline. (b) Schemathesis generates requests from the document the live gateway serves and
checks every answer: never a 5xx, a documented status, content type, headers and body.
It runs once without a key and once with the admin key, a bounded, derandomized number of
examples per operation. What a generated request would do to the shared stack is kept
harmless (see `harmless`); the operations left out of fuzzing are checked one by one below.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import docs, openapi
from api.app import HEALTH, create_app
from api.auth import COOKIE
from api.routes import ROUTES
from core.settings import Settings
from tests.support import poll
from tests.support.photos import Photo, jpeg

DOC = openapi.document("writes")
OPERATIONS = [(method.upper(), path) for path, item in DOC["paths"].items() for method in item]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 30
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)

# Left out of fuzzing, and why; each is checked by a test of its own below.
NOT_FUZZED = {
    # Every unknown key or link counts against the failed sign-ins of 127.0.0.1: ten a minute and
    # every request carrying a key, the other tests' included, would be a 429.
    ("POST", "/auth/session"): ("anonymous", "admin"),
    ("GET", "/auth/link"): ("anonymous", "admin"),
    # Generated ids could name the admin key, or another test's.
    ("DELETE", "/auth/keys/{id}"): ("admin",),
    # Schemathesis sends real 1-pixel PNG, JPEG, GIF and WebP samples: they would join the collection.
    ("POST", "/gather/uploads"): ("admin",),
}
REFUSED_DATASET = "ftp://refused.invalid/unsplash-research-dataset-lite.zip"  # no scheme but https is allowed
NO_IMAGE = "0" * 32
PHOTO = Photo("contract-openapi.jpg", (60, 100, 200), (240, 240, 240), (96, 64), make="VFContract")


# -- (a) the document -------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1():
    assert DOC["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(DOC).validate()  # the OpenAPI 3.1 meta-schema, by jsonschema-rs
    assert openapi.document("all")["openapi"] == DOC["openapi"]
    schemathesis.openapi.from_dict(openapi.document("all")).validate()


def test_every_declared_route_has_its_details_written():
    assert openapi.missing_details() == [], "add an entry to api.openapi.DETAILS for each of these"
    assert openapi.stale_details() == [], "these DETAILS entries name no route of api.routes.ROUTES"


def test_a_route_without_details_is_named():
    key = ("GET", "/visualize/graph/{name:.+}")
    details = openapi.DETAILS.pop(key)
    try:
        assert openapi.missing_details() == ["GET /visualize/graph/{name:.+}"]
    finally:
        openapi.DETAILS[key] = details


def test_every_route_the_gateway_registers_is_in_the_document():
    app = create_app(Settings.from_env({}))  # built, not started: no I/O
    registered = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method == "HEAD" or path is None or path == "/ui":  # /ui only redirects to /
            continue
        registered.add((route.method, openapi.openapi_path(re.sub(r"\{(\w+):[^{}]*\}", r"{\1}", path))))
    documented = set(OPERATIONS)
    assert registered - documented == set()
    assert {(r.method, openapi.openapi_path(r.path)) for r in ROUTES} <= documented
    health = {("GET", "/api/v1/health")} | {("GET", f"/{name}/api/v1/health") for name in HEALTH}
    assert health <= documented
    assert {("GET", "/"), ("GET", "/ui/config.json"), ("GET", "/openapi.json"), ("GET", "/docs")} <= documented
    ids = [op["operationId"] for item in DOC["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("policy", ["writes", "all"])
def test_security_follows_each_routes_access(policy):
    doc = openapi.document(policy)
    read = (
        [{}, {"bearer": []}, {"session": []}] if policy == "writes" else [{"bearer": ["read"]}, {"session": ["read"]}]
    )
    expected = {
        "public": [],
        "read": read,
        "write": [{"bearer": ["write"]}, {"session": ["write"]}],
        "admin": [{"bearer": ["admin"]}, {"session": ["admin"]}],
    }
    for route in ROUTES:
        op = doc["paths"][openapi.openapi_path(route.path)][route.method.lower()]
        assert op["x-access"] == route.access
        if route.path == "/auth/session" and route.method != "POST":  # public, but says who is signed in
            assert op["security"] == [{}, {"bearer": []}, {"session": []}]
        else:
            assert op["security"] == expected[route.access], (route.method, route.path)
        if op["security"] and {} not in op["security"]:  # a key is needed: without one 401, without its scope 403
            assert {"401", "403"} <= set(op["responses"]), (route.method, route.path)
        assert "401" in op["responses"] and "429" in op["responses"]
    for path in ["/api/v1/health", *(f"/{name}/api/v1/health" for name in HEALTH)]:
        assert doc["paths"][path]["get"]["security"] == []
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie", "name": COOKIE}


def test_errors_bodies_and_patterns_are_described():
    schemas = DOC["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    assert schemas["ImageId"]["pattern"] == "^[0-9a-f]{32}$"
    assert schemas["UserName"]["pattern"] == "^[A-Za-z0-9_.@-]{1,64}$"
    assert schemas["Preferences"]["additionalProperties"] is False
    unauthorized = DOC["components"]["responses"]["Unauthorized"]
    assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")) and "$ref" not in response:
                    assert "application/json" in response["content"], (method, path, status)
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                assert {"400", "413"} <= set(op["responses"]), (method, path)
    upload = DOC["paths"]["/gather/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["required"] == ["files"]


def test_the_gateway_serves_the_document(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json() == httpx.Response(200, json=DOC).json()  # as JSON would carry it


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.urls, self.styles = 0, [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.styles += tag == "style" or any(name == "style" for name, _ in attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_is_a_readable_page_that_works_offline(anonymous):
    response = anonymous.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    page = _Page()
    page.feed(response.text)
    assert page.scripts == 0 and page.styles == 0  # nothing inline for the CSP to refuse
    assert all(url.startswith(("/", "#", "data:")) and not url.startswith("//") for url in page.urls), page.urls
    text = unescape(re.sub(r"<[^>]+>", "", response.text))
    for path, item in DOC["paths"].items():
        assert f"<code>{path}</code>" in response.text
        for op in item.values():
            assert op["summary"].replace("`", "") in text, op["summary"]
    css = anonymous.get("/ui/docs.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_docs_escapes_everything_it_renders():
    hostile = "<script>alert(1)</script>"
    doc = {
        **DOC,
        "info": {**DOC["info"], "title": hostile, "description": hostile},
        "paths": {f"/x/{hostile}": {"get": {"summary": hostile, "security": [], "responses": {}}}},
        "components": {**DOC["components"], "schemas": {hostile: {"type": "string", "pattern": hostile}}},
    }
    page = docs.render(doc)
    assert "<script" not in page and "&lt;script&gt;" in page


# -- (b) schemathesis against the live gateway ----------------------------------------------------


@pytest.fixture(scope="module")
def live_schema(stack):
    schema = schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json")
    schema.validate()
    return schema


@pytest.fixture(scope="module")
def minted(gateway):
    """Ids of the keys the admin's fuzzing of POST /auth/keys made: revoked afterwards."""
    ids: list[int] = []
    yield ids
    for key_id in ids:
        assert gateway.delete(f"/auth/keys/{key_id}").status_code == 200


def harmless(case, who: str) -> None:
    """What this case may do to the shared stack: no generated credentials (an unknown key
    counts as a failed sign-in); with the admin key, no dataset run, no retry of others'
    failures, users under a name of their own."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.cookies = {k: v for k, v in (case.cookies or {}).items() if k != COOKIE}
    if who != "admin":
        return
    if case.path == "/gather/download":
        case.query = {**(case.query or {}), "dataset": REFUSED_DATASET}
        if isinstance(case.body, dict):
            case.body["dataset"] = REFUSED_DATASET
    elif case.path == "/gather/deadletters/retry":
        body = case.body if isinstance(case.body, dict) else {}
        case.body = {**body, "ids": body.get("ids") or [NO_IMAGE]}  # never all failed images
        case.media_type = "application/json"
    elif case.path == "/recommend/users/{name}" and case.method.upper() == "PUT":
        case.path_parameters = {"name": ("contract-" + case.path_parameters["name"])[:64]}


@pytest.fixture(scope="module")
def stored_image(gateway) -> str:
    """One image of the contract's own, enriched: what the read routes answer about a real image
    (recommendations, similar, the CDN) is checked too. Its make is its own, as other tests' are."""
    response = gateway.post("/gather/uploads", files=[("files", (PHOTO.name, jpeg(PHOTO), "image/jpeg"))])
    assert response.status_code == 202, response.text
    iid = response.json()["ids"][0]
    poll(lambda: gateway.get(f"/images/{iid}").json()["status"] == "enriched", 90, what="the contract's image")
    return iid


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz(live_schema, stack, admin_key, minted, stored_image, operation, who):
    method, path = operation
    if who in NOT_FUZZED.get(operation, ()):
        pytest.skip("checked by a test of its own: fuzzing it would disturb the shared stack")
    headers = {"Authorization": f"Bearer {admin_key}"} if who == "admin" else {}
    op = live_schema[path][method]
    strategy = op.as_strategy()
    if path in ("/images/{id}", "/cdn/show/{id}", "/recommend/similar/{id}"):  # the real image, as often as not
        strategy |= op.as_strategy(path_parameters={"id": stored_image})
    if path == "/cdn/show/{id}":
        strategy |= op.as_strategy(path_parameters={"id": PHOTO.name})  # by the name it was uploaded under

    @FUZZ
    @given(case=strategy)
    def run(case):
        harmless(case, who)
        response = case.call(base_url=stack.gateway_url, headers=headers, timeout=60)
        if operation == ("POST", "/auth/keys") and response.status_code == 201:
            minted.append(response.json()["id"])
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


# -- the operations left out of fuzzing, one request each, checked the same way ---------------------


def _check(live_schema, stack, method: str, path: str, headers=None, **parts):
    case = live_schema[path][method].Case(**parts)
    response = case.call(base_url=stack.gateway_url, headers=headers or {}, timeout=60)
    case.validate_response(response, checks=CHECKS, headers=headers or {})
    return response


def test_sign_in_out_and_revoke_conform(live_schema, stack, gateway, admin_key):
    made = gateway.post("/auth/keys", json={"user": "contract-signer", "scopes": ["read"]}).json()
    signed_in = _check(
        live_schema, stack, "POST", "/auth/session", body={"key": made["key"]}, media_type="application/json"
    )
    assert signed_in.status_code == 200 and signed_in.json()["user"] == "contract-signer"
    set_cookie = signed_in.headers["set-cookie"][0]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = {COOKIE: set_cookie.split(";")[0].split("=", 1)[1]}
    who = _check(live_schema, stack, "GET", "/auth/session", cookies=cookie)
    assert who.json()["signed_in"] is True and who.json()["via"] == "session"
    origin = {"Origin": stack.gateway_url}  # a cookie's write must come from the gateway's own pages
    out = _check(live_schema, stack, "DELETE", "/auth/session", headers=origin, cookies=cookie)
    assert out.status_code == 200 and out.json() == {"signed_in": False}
    refused = _check(live_schema, stack, "POST", "/auth/session", body={}, media_type="application/json")
    assert refused.status_code == 400
    admin = {"Authorization": f"Bearer {admin_key}"}
    revoked = _check(live_schema, stack, "DELETE", "/auth/keys/{id}", admin, path_parameters={"id": str(made["id"])})
    assert revoked.status_code == 200 and revoked.json() == {"revoked": made["id"]}
    again = _check(live_schema, stack, "DELETE", "/auth/keys/{id}", admin, path_parameters={"id": str(made["id"])})
    assert again.status_code == 404


def test_an_unknown_sign_in_link_conforms(live_schema, stack):
    response = _check(live_schema, stack, "GET", "/auth/link", query={"token": "vfl_not-a-link"})
    assert response.status_code == 401 and response.headers["www-authenticate"][0].startswith("Bearer")


def test_an_upload_of_no_image_conforms(live_schema, stack, admin_key):
    response = _check(
        live_schema,
        stack,
        "POST",
        "/gather/uploads",
        {"Authorization": f"Bearer {admin_key}"},
        body={"files": [b"not an image at all"]},
        media_type="multipart/form-data",
    )
    assert response.status_code == 422, response.text
    assert response.json()["rejected"] and response.json()["error"]


def test_the_stored_image_and_feedback_on_it_conform(live_schema, stack, admin_key, stored_image):
    admin = {"Authorization": f"Bearer {admin_key}"}
    first = _check(live_schema, stack, "GET", "/cdn/show/{id}", path_parameters={"id": stored_image})
    assert first.status_code == 200 and first.headers["etag"] == [f'"{stored_image}"']
    again = _check(
        live_schema,
        stack,
        "GET",
        "/cdn/show/{id}",
        {"If-None-Match": f'"{stored_image}"'},
        path_parameters={"id": stored_image},
    )
    assert again.status_code == 304
    user = _check(
        live_schema,
        stack,
        "PUT",
        "/recommend/users/{name}",
        admin,
        path_parameters={"name": "contract-fan"},
        body={"color": "#3c64c8"},
        media_type="application/json",
    )
    assert user.status_code == 200
    viewed = _check(
        live_schema,
        stack,
        "POST",
        "/recommend/feedback",
        admin,
        body={"user": "contract-fan", "image": stored_image, "signal": "view"},
        media_type="application/json",
    )
    assert viewed.status_code == 202
    ranked = _check(
        live_schema,
        stack,
        "POST",
        "/recommend/recommend",
        body={"user": "contract-fan", "limit": 100},
        media_type="application/json",
    )
    assert stored_image in [r["id"] for r in ranked.json()["results"]]
