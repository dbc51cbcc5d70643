"""Retries, backoff and Retry-After against a local server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from connectors.unsplash.download import Fetcher, FetchFailed, retry_after, sized
from tests.support.dataset import ImageServer


@pytest.fixture(scope="module")
def server():
    with ImageServer(slow=1.0) as s:
        yield s


def fetch(url: str, **options):
    async def go():
        async with aiohttp.ClientSession() as session:
            fetcher = Fetcher(session, backoff=0.05, **options)
            try:
                return await fetcher.get(url), fetcher.retries
            except FetchFailed as exc:
                return exc, fetcher.retries

    return asyncio.run(go())


def test_a_500_is_retried_until_it_succeeds(server):
    body, retries = fetch(server.url("flaky", 1))
    assert body == ImageServer.picture(1) and retries == 1
    assert server.requests["flaky/1"] == 2


def test_429_waits_as_long_as_retry_after_says(server):
    started = time.monotonic()
    body, retries = fetch(server.url("busy", 2))
    assert body == ImageServer.picture(2) and retries == 1
    assert time.monotonic() - started >= 0.95  # Retry-After: 1, though our own backoff is 0.05 s


def test_a_404_fails_at_once_with_the_status(server):
    error, retries = fetch(server.url("missing", 3))
    assert isinstance(error, FetchFailed) and "HTTP 404" in str(error)
    assert retries == 0 and server.requests["missing/3"] == 1


def test_timeouts_are_retried_then_reported(server):
    error, retries = fetch(server.url("slow", 4), timeout=0.2, attempts=3)
    assert isinstance(error, FetchFailed) and "gave up after 3 attempts: timed out" in str(error)
    assert retries == 2 and server.requests["slow/4"] == 3


def test_an_oversized_response_is_refused(server):
    error, _ = fetch(server.url("ok", 5), max_bytes=100)
    assert isinstance(error, FetchFailed) and "exceeds 100" in str(error)


def test_width_parameter_and_retry_after_parsing():
    assert (
        sized("https://images.unsplash.com/photo-1?ixid=abc", 1080)
        == "https://images.unsplash.com/photo-1?ixid=abc&w=1080"
    )
    assert sized("https://images.unsplash.com/photo-1?w=6000", 640).endswith("?w=640")
    assert retry_after("7", cap=60) == 7 and retry_after("9999", cap=60) == 60
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap=60) == 0  # a date in the past: go now
    assert retry_after("soon", cap=60) is None and retry_after(None, cap=60) is None
