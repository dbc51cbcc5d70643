"""S3 / MinIO through the minio SDK. Objects are keyed by image id, so writing the same
image twice stores it once."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from minio import Minio
from minio.error import S3Error

from core.settings import Settings


class ObjectStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool = False):
        self.client = Minio(endpoint, access_key=access_key or None, secret_key=secret_key or None, secure=secure)
        self.bucket = bucket

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:  # another process created it first
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def ping(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            raise RuntimeError(f"bucket {self.bucket!r} does not exist")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(self.bucket, key, io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        response = self.client.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise


class RecentObjects(ObjectStore):
    """The store, keeping the objects last read or written in memory up to ``budget`` bytes: a
    worker's stages each read an image's original within seconds of one another (and the
    embedding stage the thumbnail the colours stage wrote). Only for keys whose object never
    changes: originals are named by their content, thumbnails by their original."""

    def __init__(self, *args, budget: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.budget = budget
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # the stages read and write from their threads

    def get(self, key: str) -> bytes:
        with self._lock:
            data = self._held.get(key)
            if data is not None:
                self._held.move_to_end(key)
                return data
        data = super().get(key)
        self._keep(key, data)
        return data

    def put(self, key: str, data: bytes, content_type: str) -> None:
        super().put(key, data, content_type)
        self._keep(key, data)

    def _keep(self, key: str, data: bytes) -> None:
        if len(data) > self.budget // 8:  # one large object would push out the many the stages reread
            return
        with self._lock:
            self._size += len(data) - len(self._held.pop(key, b""))
            self._held[key] = data
            while self._size > self.budget:
                self._size -= len(self._held.popitem(last=False)[1])


def open_store(settings: Settings, remember: int = 0) -> ObjectStore:
    """The configured store; ``remember`` > 0: a `RecentObjects` keeping that many bytes."""
    if not settings.s3_endpoint:
        raise RuntimeError("no object store configured: set VIEWFINDER_S3_ENDPOINT (or run `viewfinder up`)")
    args = (settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key, settings.s3_bucket)
    if remember > 0:
        return RecentObjects(*args, secure=settings.s3_secure, budget=remember)
    return ObjectStore(*args, secure=settings.s3_secure)
