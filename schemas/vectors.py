"""The vector collection: one point per image (its id is the image's UUID), named vectors,
and the payload fields that filters use, each indexed."""
from __future__ import annotations

import uuid

from streams.enrich.colors import PALETTE_DIM

VECTORS = {
    # Coverage-weighted soft histogram of the four dominant colours (see streams.enrich.colors).
    "palette": PALETTE_DIM,
}

# payload field -> index kind
PAYLOAD_INDEXES = {
    "orientation": "keyword",
    "make": "keyword",   # lower-cased
    "tags": "keyword",   # list of labels
    "width": "integer",
    "height": "integer",
    "year": "integer",
}


def point_id(image_id: str) -> str:
    """Image ids are 32 hex digits of a content hash, which is exactly a UUID's worth."""
    return str(uuid.UUID(hex=image_id[:32]))


def image_id(point: str) -> str:
    return uuid.UUID(str(point)).hex
