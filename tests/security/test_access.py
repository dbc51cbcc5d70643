"""Who may do what, asked of the live gateway: every write and admin route without a key, with
a key lacking the scope, with another user's key; sessions and cross-site writes; key
management; nothing is written by a refused request, and the gateway keeps serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from api.routes import ROUTES
from connectors.credentials import ensure_admin_key
from connectors.postgres import open_database
from tests.support import poll
from tests.support.photos import Photo, jpeg

PHOTO = jpeg(Photo("sec.jpg", (90, 10, 140), (0, 0, 0), (64, 48)))


def request_for(route, **ids) -> dict:
    """A well-formed request to ``route``: what a legitimate caller would send."""
    path = route.path.replace("{name:.+}", "year").replace("{name}", ids.get("name", "sec-someone"))
    path = path.replace("{id}", ids.get("id", "0" * 32))
    kwargs: dict = {}
    if route.path == "/gather/uploads":
        kwargs["files"] = [("files", ("sec.jpg", PHOTO, "image/jpeg"))]
    elif route.path == "/recommend/feedback":
        kwargs["json"] = {"image": "0" * 32, "signal": "like"}
    elif route.path == "/auth/keys" and route.method == "POST":
        kwargs["json"] = {"user": "sec-minted", "scopes": ["admin"]}
    elif route.method in ("POST", "PUT"):
        kwargs["json"] = {"dataset": "/nowhere"} if "download" in route.path else {}
    return {"method": route.method, "url": path, **kwargs}


WRITES = [r for r in ROUTES if r.access == "write"]
ADMINS = [r for r in ROUTES if r.access == "admin"]


def counts(db) -> dict:
    with db.cursor() as cur:
        cur.execute("""SELECT (SELECT count(*) FROM images) AS images, (SELECT count(*) FROM users) AS users,
                              (SELECT count(*) FROM api_keys) AS keys, (SELECT count(*) FROM feedback) AS feedback""")
        return dict(cur.fetchone())


def refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, (response.request.url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    assert fragment in response.json()["error"], response.text


@pytest.mark.parametrize("route", WRITES + ADMINS, ids=lambda r: f"{r.method} {r.path}")
def test_no_key_is_401_with_the_scheme_and_writes_nothing(route, anonymous, db):
    before = counts(db)
    response = anonymous.request(**request_for(route))
    refused(response, 401, f"`{route.access}` scope")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert counts(db) == before


@pytest.mark.parametrize("route", WRITES + ADMINS, ids=lambda r: f"{r.method} {r.path}")
def test_a_key_without_the_scope_is_403_naming_it(route, as_user, db):
    reader = as_user("sec-reader", "read") if route.access == "write" else as_user("sec-writer", "read", "write")
    before = counts(db)
    refused(reader.request(**request_for(route)), 403, f"needs the `{route.access}` scope")
    assert counts(db) == before


def test_unknown_and_malformed_keys_are_401(stack):
    for header in ("Bearer vf_not-a-key", "Basic dXNlcjpwYXNz", "Bearer", "vf_only"):
        response = httpx.get(f"{stack.gateway_url}/gather/status", headers={"Authorization": header}, timeout=30)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer"), header


def test_a_write_key_acts_for_its_own_user_only(as_user, gateway, user_name, db):
    mine = as_user(user_name, "read", "write")
    assert mine.put(f"/recommend/users/{user_name}", json={"color": "#102030"}).status_code == 200
    refused(mine.put("/recommend/users/someone-else", json={"color": "#102030"}), 403, "its own user")
    image = gateway.post("/gather/uploads", files=[("files", ("sec-own.jpg", PHOTO, "image/jpeg"))]).json()["ids"][0]
    refused(
        mine.post("/recommend/feedback", json={"user": "someone-else", "image": image, "signal": "like"}),
        403,
        "its own user",
    )
    # Without a user in the body, the feedback is the key holder's: the folded profile is theirs.
    assert mine.post("/recommend/feedback", json={"image": image, "signal": "like"}).status_code == 202
    poll(
        lambda: image in gateway.get(f"/recommend/users/{user_name}").json()["likes"],
        60,
        what="the like to reach the key holder's profile",
    )
    with db.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM feedback WHERE user_name = 'someone-else'")
        assert cur.fetchone()["n"] == 0


def test_an_admin_key_acts_for_anyone(gateway, user_name):
    assert gateway.put(f"/recommend/users/{user_name}", json={"orientation": "portrait"}).status_code == 200
    assert gateway.get(f"/recommend/users/{user_name}").json()["preferences"] == {"orientation": "portrait"}


def test_keys_are_made_listed_and_revoked_and_a_revoked_key_is_refused(gateway, stack, make_key):
    key = make_key("sec-revoked", "read", "write")
    client = httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert client.put("/recommend/users/sec-revoked", json={}).status_code == 200
    listed = gateway.get("/auth/keys").json()["keys"]
    mine = [k for k in listed if k["user"] == "sec-revoked"]
    assert mine and all("key" not in k and "key_hash" not in k for k in listed)
    assert key not in json.dumps(listed)
    assert gateway.delete(f"/auth/keys/{mine[-1]['id']}").status_code == 200
    refused(client.put("/recommend/users/sec-revoked", json={}), 401, "unknown or revoked")
    refused(gateway.delete(f"/auth/keys/{mine[-1]['id']}"), 404, "no live key")


def test_the_command_line_makes_lists_and_revokes_keys(stack, anonymous):
    env = {**os.environ, **stack.to_env()}

    def cli(*args) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "viewfinder.cli", "keys", *args], env=env, capture_output=True, text=True, timeout=60
        )

    made = cli("create", "--user", "sec-cli", "--scopes", "read,write")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith("vf_") and len(key) > 40  # alone on stdout
    headers = {"Authorization": f"Bearer {key}"}
    assert anonymous.put("/recommend/users/sec-cli", json={}, headers=headers).status_code == 200
    listing = cli("list")
    assert listing.returncode == 0 and "sec-cli" in listing.stdout and key not in listing.stdout
    key_id = next(line.split()[0] for line in listing.stdout.splitlines() if " sec-cli " in line)
    assert cli("revoke", key_id).returncode == 0
    poll(
        lambda: anonymous.put("/recommend/users/sec-cli", json={}, headers=headers).status_code == 401,
        30,
        what="the revoked key to be refused (the gateway remembers a key for a few seconds)",
    )
    assert cli("create", "--user", "sec-cli", "--scopes", "root").returncode == 2


def test_a_session_writes_from_its_own_pages_only_and_ends_at_sign_out(stack, make_key, user_name):
    key = make_key(user_name, "read", "write")
    origin = stack.gateway_url
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as browser:
        signed = browser.post("/auth/session", json={"key": key}, headers={"Origin": origin})
        assert signed.status_code == 200 and signed.json()["user"] == user_name
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and key not in cookie
        assert browser.get("/auth/session").json() == {
            "signed_in": True,
            "user": user_name,
            "scopes": ["read", "write"],
            "via": "session",
        }
        write = {"url": f"/recommend/users/{user_name}", "json": {"color": "#abcdef"}}
        assert browser.put(**write, headers={"Origin": origin}).status_code == 200
        refused(browser.put(**write, headers={"Origin": "http://evil.example"}), 403, "cross-site")
        refused(browser.put(**write), 403, "cross-site")  # no Origin at all
        assert browser.delete("/auth/session", headers={"Origin": origin}).status_code == 200
        refused(browser.put(**write, headers={"Origin": origin}), 401, "API key")
        assert browser.get("/auth/session").json() == {"signed_in": False}


def test_a_sign_in_link_works_once(running_stack, stack):
    link = running_stack.sign_in_link()
    with httpx.Client(timeout=30) as browser:
        first = browser.get(link, follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/" and "vf_session" in first.cookies
        refused(browser.get(link, follow_redirects=False), 401, "unknown, used or expired")


def test_every_answer_carries_the_hardening_headers(anonymous):
    for path in ("/", "/api/v1/health", "/images/" + "0" * 32, "/no/such/route", "/ui/app.css"):
        headers = anonymous.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path


def test_the_embedded_stack_keeps_its_admin_key_private_and_reuses_it(running_stack, stack, anonymous):
    path = stack.data_dir / "admin.key"
    assert path.stat().st_mode & 0o777 == 0o600 and (stack.data_dir / "secret").stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    assert lines == [running_stack.admin_key] and lines[0].startswith("vf_")
    admin = {"Authorization": f"Bearer {lines[0]}"}
    assert anonymous.get("/auth/keys", headers=admin).status_code == 200
    db = open_database(stack, maxconn=1)
    try:
        assert ensure_admin_key(db, stack) == lines[0]  # a restart finds it live and keeps it
    finally:
        db.close()
