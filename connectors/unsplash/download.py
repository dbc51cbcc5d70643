"""Fetching photos over HTTP: bounded width, bounded concurrency, retries with backoff on
timeouts, 429 and 5xx (honouring Retry-After), a size limit, a reason for every failure."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import aiohttp
from yarl import URL

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class FetchFailed(Exception):
    """Gave up on one URL; the message is the reason stored for the photo."""


def sized(url: str, width: int) -> str:
    """Unsplash image URLs resize on the server with `w=`; never fetch the full original."""
    return str(URL(url).update_query(w=width))


def retry_after(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


@dataclass
class Fetcher:
    session: aiohttp.ClientSession
    attempts: int = 5
    timeout: float = 30.0
    backoff: float = 0.5  # first wait; doubles each attempt, with jitter
    max_wait: float = 60.0
    max_bytes: int = 50 * 1024 * 1024
    retries: int = field(default=0, init=False)

    async def get(self, url: str) -> bytes:
        reason = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            wait = None
            try:
                async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=self.timeout)) as response:
                    if response.status == 200:
                        return await self._body(response)
                    reason = f"HTTP {response.status} {response.reason or ''}".strip()
                    if response.status not in RETRYABLE:
                        raise FetchFailed(reason)
                    wait = retry_after(response.headers.get("Retry-After"), self.max_wait)
            except TimeoutError:
                reason = f"timed out after {self.timeout:g}s"
            except aiohttp.ClientError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt == self.attempts:
                break
            self.retries += 1
            if wait is None:
                wait = min(self.max_wait, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            await asyncio.sleep(wait)
        raise FetchFailed(f"gave up after {self.attempts} attempts: {reason}")

    async def _body(self, response) -> bytes:
        if response.content_length and response.content_length > self.max_bytes:
            raise FetchFailed(f"response of {response.content_length} bytes exceeds {self.max_bytes}")
        data = bytearray()
        async for chunk in response.content.iter_chunked(1 << 16):
            data.extend(chunk)
            if len(data) > self.max_bytes:
                raise FetchFailed(f"response exceeds {self.max_bytes} bytes")
        return bytes(data)
