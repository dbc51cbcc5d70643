"""A worker's memory of the objects it last read or wrote (`RecentObjects`), on the session's real S3."""

from __future__ import annotations

import uuid

import pytest
from minio.error import S3Error

from connectors.objectstore import RecentObjects, open_store


def _keys(n: int) -> list[str]:
    prefix = uuid.uuid4().hex  # fresh: tests share the bucket
    return [f"test-recent/{prefix}/{i}" for i in range(n)]


def test_an_object_read_or_written_once_is_served_from_memory(stack):
    plain, recent = open_store(stack), open_store(stack, remember=1 << 20)
    assert isinstance(recent, RecentObjects) and not isinstance(plain, RecentObjects)
    read, written, never = _keys(3)
    plain.put(read, b"original", "image/jpeg")
    assert recent.get(read) == b"original"
    recent.put(written, b"thumbnail", "image/jpeg")
    assert plain.get(written) == b"thumbnail"  # written through
    for key in (read, written):
        plain.client.remove_object(plain.bucket, key)
    # Gone from S3, still held: the second read did not reach the server.
    assert recent.get(read) == b"original" and recent.get(written) == b"thumbnail"
    plain.put(never, b"x", "image/jpeg")
    plain.client.remove_object(plain.bucket, never)
    with pytest.raises(S3Error):
        recent.get(never)


def test_it_holds_at_most_its_budget_the_least_recently_used_leave_first(stack):
    plain, recent = open_store(stack), open_store(stack, remember=8000)
    keys = _keys(10)
    for key in keys[:8]:
        recent.put(key, bytes(1000), "image/jpeg")  # 8,000 bytes: all held
    assert recent.get(keys[0]) == bytes(1000)  # now the most recently used
    recent.put(keys[8], bytes(1000), "image/jpeg")  # over the budget: keys[1] leaves
    recent.put(keys[9], bytes(1001), "image/jpeg")  # over 1/8 of the budget: written, never held
    for key in keys:
        plain.client.remove_object(plain.bucket, key)
    for key in (keys[0], *keys[2:9]):
        assert recent.get(key) == bytes(1000)
    for key in (keys[1], keys[9]):
        with pytest.raises(S3Error):
            recent.get(key)
