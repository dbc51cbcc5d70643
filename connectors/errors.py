"""Telling a store that is down from an event that is bad: the first is retried (a stage) or
answered 503 with Retry-After (the gateway), the second dead-lettered or answered 4xx."""

from __future__ import annotations

import httpx
import psycopg2
import urllib3
from confluent_kafka import KafkaException
from minio.error import ServerError

# Errors that say a store or service is unreachable or overloaded, not that the event is bad.
UNREACHABLE = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    ConnectionError,
    TimeoutError,
    urllib3.exceptions.HTTPError,
    httpx.TransportError,
    ServerError,
    KafkaException,
)


class Unavailable(RuntimeError):
    """A store the request needs cannot be reached now; the message names it."""


def unreachable(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, (Unavailable, *UNREACHABLE))
