"""The auth layer in-process, on apps of the tests' own (each has its own failure counter):
the `all` policy, and the limit on failed authentications per client."""

from __future__ import annotations

import pytest

from api.services import Services
from tests.handlers.conftest import Gateway


@pytest.fixture
def services(stack):
    opened = Services.open(stack)
    yield opened
    opened.close()


def test_under_the_all_policy_reads_need_a_read_key(stack, services, gateway):
    key = gateway.post("/auth/keys", json={"user": "policy-reader", "scopes": ["read"]}).json()["key"]
    strict = Gateway(stack.replace(auth="all"), services)
    try:
        missing = strict.get("/images/" + "0" * 32)
        assert missing.status_code == 401 and "`read` scope" in missing.json()["error"]
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        read = {"Authorization": f"Bearer {key}"}
        assert strict.get("/images/" + "0" * 32, headers=read).status_code == 404  # past the door: no such image
        assert strict.put("/recommend/users/policy-reader", json={}, headers=read).status_code == 403
        # What must stay open for anyone to get in at all: health, the page, signing in.
        for path in ("/api/v1/health", "/", "/auth/session"):
            assert strict.get(path).status_code == 200, path
    finally:
        strict.close()


def test_failed_authentications_are_limited_per_client(stack, services, admin_key):
    fresh = Gateway(stack.replace(auth_failures_per_minute=10), services)
    try:
        for _ in range(10):
            assert fresh.get("/gather/status", headers={"Authorization": "Bearer vf_guess"}).status_code == 401
        limited = fresh.get("/gather/status", headers={"Authorization": "Bearer vf_guess"})
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "too many failed sign-ins" in limited.json()["error"]
        # For the rest of the minute this address is not heard, a right key included; reads without one are.
        assert fresh.get("/gather/status", headers={"Authorization": f"Bearer {admin_key}"}).status_code == 429
        assert fresh.post("/auth/session", json={"key": admin_key}).status_code == 429
        assert fresh.get("/gather/status").status_code == 200
    finally:
        fresh.close()


def test_behind_a_trusted_proxy_failures_count_per_forwarded_client(stack, services):
    proxied = Gateway(stack.replace(auth_failures_per_minute=3, trusted_proxies="127.0.0.0/8"), services)
    try:
        guess = {"Authorization": "Bearer vf_guess"}
        for _ in range(3):
            assert proxied.get("/gather/status", headers={**guess, "X-Forwarded-For": "203.0.113.7"}).status_code == 401
        assert proxied.get("/gather/status", headers={**guess, "X-Forwarded-For": "203.0.113.7"}).status_code == 429
        # Another client behind the same proxy is not locked out by the first one's guesses.
        assert proxied.get("/gather/status", headers={**guess, "X-Forwarded-For": "198.51.100.9"}).status_code == 401
    finally:
        proxied.close()
