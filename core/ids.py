"""Image ids: 32 hex digits of the SHA-256 of the original bytes, so the same file is always
the same image, whether uploaded twice or downloaded again. That is exactly a UUID's worth,
which is how the vector index names its points."""

from __future__ import annotations

import hashlib
import re
import uuid

ID_PATTERN = r"[0-9a-f]{32}"  # the one pattern of an image id
_ID = re.compile(rf"^{ID_PATTERN}$")


def content_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def is_image_id(value: object) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None


def point_id(image_id: str) -> str:
    """The image's id as the vector index's point id (a UUID)."""
    return str(uuid.UUID(hex=image_id[:32]))


def from_point_id(point: object) -> str:
    return uuid.UUID(str(point)).hex
