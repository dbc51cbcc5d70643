"""Handler tests: the gateway built by `create_app(settings, services)`, served in-process by
aiohttp's test client over the session stack's real stores. No gateway process, no port of
its own to wait for; what reaches the handlers is what a client sends."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.services import Services


@dataclass
class Answer:
    """What a handler answered, read the way the integration tests read httpx's responses."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self):
        return json.loads(self.content)


class Gateway:
    """An app under aiohttp's test client, on an event loop of its own in a thread, so that
    plain (synchronous) tests can call it."""

    def __init__(self, settings, services: Services, key: str | None = None):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gateway-under-test", daemon=True)
        self.thread.start()
        self.key = key  # sent with every request unless the request says otherwise
        self.app = create_app(settings, services)
        self.client = self.call(self._start())

    async def _start(self) -> TestClient:
        client = TestClient(TestServer(self.app, host="127.0.0.1"))
        await client.start_server()
        return client

    def call(self, coroutine, timeout: float = 120):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def request(self, method: str, path: str, follow_redirects: bool = True, **kwargs) -> Answer:
        if self.key and "Authorization" not in kwargs.get("headers", {}):
            kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {self.key}"}

        async def go():
            async with self.client.request(method, path, allow_redirects=follow_redirects, **kwargs) as response:
                return Answer(response.status, response.headers, await response.read())

        return self.call(go())

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> Answer:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> Answer:
        return self.request("PUT", path, **kwargs)

    def close(self) -> None:
        self.call(self.client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def gateway(stack, admin_key):
    services = Services.open(stack)
    gateway = Gateway(stack, services, admin_key)
    yield gateway
    gateway.close()
    services.close()
