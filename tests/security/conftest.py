"""The hostile-request suite: the live gateway of the session stack, asked what it must refuse."""

from __future__ import annotations

import uuid

import httpx
import pytest


@pytest.fixture(scope="session")
def make_key(gateway):
    """``make_key(user, scopes)`` → a new key, made through the admin API."""

    def make(user: str, *scopes: str) -> str:
        response = gateway.post("/auth/keys", json={"user": user, "scopes": list(scopes)})
        assert response.status_code == 201, response.text
        return response.json()["key"]

    return make


@pytest.fixture(scope="session")
def as_user(stack, make_key):
    """``as_user(user, *scopes)`` → an httpx client carrying a fresh key of that user."""
    clients = []

    def client(user: str, *scopes: str) -> httpx.Client:
        c = httpx.Client(
            base_url=stack.gateway_url, headers={"Authorization": f"Bearer {make_key(user, *scopes)}"}, timeout=60
        )
        clients.append(c)
        return c

    yield client
    for c in clients:
        c.close()


@pytest.fixture
def user_name() -> str:
    return f"sec-{uuid.uuid4().hex[:10]}"
