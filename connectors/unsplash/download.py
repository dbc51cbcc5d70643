"""Fetching photos over HTTP: bounded width, bounded concurrency, retries with backoff on
timeouts, 429 and 5xx (honouring Retry-After), a size limit, a reason for every failure; only
from the hosts the rules list (`sources`), every redirect checked, every address checked."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from .sources import MAX_REDIRECTS, HostRules

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = {"User-Agent": "viewfinder-gatherer"}


class FetchFailed(Exception):
    """Gave up on one URL; the message is the reason stored for the photo."""


def sized(url: str, width: int) -> str:
    """Unsplash image URLs resize on the server with `w=`; never fetch the full original."""
    return str(URL(url).update_query(w=width))


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver, through the rules: a listed name is looked up once and each of its
    addresses checked (`HostRules.resolve`), and aiohttp connects to exactly the addresses
    returned here, keeping the URL's host for the Host header, TLS SNI and the certificate
    check. So the address checked is the address connected to, with no second lookup a DNS
    rebinding could answer differently. (aiohttp asks no resolver for a host written as an
    address: `HostRules.check` has allowed only listed addresses by then, and aiohttp itself
    refuses the non-canonical IPv4 forms.) The simplest correct way: no IPs in URLs, no
    hand-set Host headers or SNI."""

    def __init__(self, rules: HostRules):
        self.rules = rules

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await asyncio.to_thread(self.rules.resolve, host, port)
        out: list[ResolveResult] = []
        for address in addresses:
            found = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, found):
                continue
            flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
            out.append(ResolveResult(hostname=host, host=address, port=port, family=found, proto=0, flags=flags))
        if not out:
            raise OSError(f"{host} has no {family.name} address among {', '.join(addresses)}")
        return out

    async def close(self) -> None:
        pass


def checked_session(rules: HostRules) -> aiohttp.ClientSession:
    """A session that connects only to addresses ``rules`` checked (see PinnedResolver), and
    never through a proxy from the environment."""
    connector = aiohttp.TCPConnector(resolver=PinnedResolver(rules))
    return aiohttp.ClientSession(connector=connector, headers=USER_AGENT, trust_env=False)


@asynccontextmanager
async def checked_get(
    session: aiohttp.ClientSession, url: URL, rules: HostRules | None, timeout: aiohttp.ClientTimeout
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GET ``url`` (checked by the caller), following at most MAX_REDIRECTS redirects ourselves,
    each Location checked by ``rules`` before it is requested (unchecked when ``rules`` is None).
    SourceRefused for a refused redirect, FetchFailed for too many."""
    redirects = 0
    while True:
        response = await session.get(url, timeout=timeout, allow_redirects=False)
        location = response.headers.get("Location") if response.status in REDIRECTS else None
        if location is None:
            break
        response.release()
        if redirects == MAX_REDIRECTS:
            raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")
        redirects += 1
        url = rules.follow(url, location) if rules is not None else url.join(URL(location))
    try:
        yield response
    finally:
        response.release()


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
    """``hosts``: the rules every URL and redirect must pass (SourceRefused before any request
    if not); None only where the caller vouches for its URLs (a test's local server). Give it a
    `checked_session(hosts)` so that the addresses are checked too."""

    session: aiohttp.ClientSession
    attempts: int = 5
    timeout: float = 30.0
    backoff: float = 0.5  # first wait; doubles each attempt, with jitter
    max_wait: float = 60.0
    max_bytes: int = 50 * 1024 * 1024
    hosts: HostRules | None = None
    retries: int = field(default=0, init=False)

    async def get(self, url: str) -> bytes:
        target = self.hosts.check(url) if self.hosts is not None else URL(url)
        reason = "no attempt made"
        for attempt in range(1, self.attempts + 1):
            wait = None
            try:
                timeout = aiohttp.ClientTimeout(total=self.timeout)
                async with checked_get(self.session, target, self.hosts, timeout) as response:
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
