"""The gallery: the collection newest first, filtered, paged by a keyset cursor. Parsing and
shaping are pure; the rows come from PostgreSQL (`Images.gallery`)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime

from core.colors import FAMILIES, with_families

from .recommendation.ranking import ORIENTATIONS

DEFAULT_LIMIT, MAX_LIMIT = 48, 100
MAX_TEXT = 64  # a tag or a camera make
FILTERS = ("color", "orientation", "tag", "make", "taken_from", "taken_to")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class GalleryError(ValueError):
    """A bad parameter: the client's to fix (400)."""


def parse(params) -> tuple[dict, tuple[datetime, str] | None, int]:
    """(filters, the keyset to continue after, limit) from the query string ``params``."""
    unknown = set(params) - {*FILTERS, "cursor", "limit"}
    if unknown:
        raise GalleryError(
            f"unknown parameter(s): {', '.join(sorted(unknown))}; known: {', '.join(FILTERS)}, cursor, limit"
        )
    filters: dict[str, str] = {}
    for name in FILTERS:
        value = (params.get(name) or "").strip()
        if not value:
            continue
        if len(value) > MAX_TEXT:
            raise GalleryError(f"{name} is at most {MAX_TEXT} characters")
        if name == "color" and value.lower() not in FAMILIES:
            raise GalleryError(f"color must be one of {', '.join(FAMILIES)}, got {value!r}")
        if name == "orientation" and value not in ORIENTATIONS:
            raise GalleryError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {value!r}")
        if name in ("taken_from", "taken_to"):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise GalleryError(f"{name} must be a date, YYYY-MM-DD, got {value!r}") from None
        filters[name] = value.lower() if name in ("color", "tag") else value
    limit_text = params.get("limit") or str(DEFAULT_LIMIT)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise GalleryError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {limit_text!r}")
    cursor = params.get("cursor") or None
    return filters, decode_cursor(cursor) if cursor else None, int(limit_text)


def encode_cursor(arrived_at: datetime, image_id: str) -> str:
    raw = json.dumps([arrived_at.isoformat(), image_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        if not _CURSOR.match(cursor):
            raise ValueError
        at, image_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(at)
        if not isinstance(image_id, str) or when.tzinfo is None:
            raise ValueError
        return when, image_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise GalleryError("cursor is not one this gallery gave: start again without it") from None


def page(db, params) -> dict:
    """One page of the gallery for the query string ``params``."""
    filters, after, limit = parse(params)
    rows, count = db.images.gallery(filters, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    dataset = [row["id"] for row in rows if row["source"] == "unsplash"]
    keywords = db.unsplash.keywords_of_images(dataset) if dataset else {}
    return {
        "images": [_item(row, keywords.get(row["id"], [])) for row in rows],
        "count": count,
        "next": encode_cursor(rows[-1]["arrived_at"], rows[-1]["id"]) if more else None,
        "filters": filters,
    }


def _item(row: dict, keywords: list[str]) -> dict:
    """An image as the gallery shows it; tags best first, each with where it came from (a
    dataset keyword carries no score: the dataset's confidences are its AI services' own)."""
    tags: dict[str, dict] = {}
    for source, found in (("detr", row["tags"] or {}), ("clip", row["clip_tags"] or {})):
        for label, score in found.items():
            tags.setdefault(label, {"score": float(score), "source": source})
    for keyword in keywords:
        tags.setdefault(keyword, {"score": None, "source": "dataset"})
    return {
        "id": row["id"],
        "url": f"/cdn/show/{row['id']}",
        "thumbnail": f"/cdn/show/{row['id']}?size=thumb",
        "filename": row["filename"],
        "arrived_at": row["arrived_at"].isoformat(),
        "taken_at": row["taken_at"].isoformat() if row["taken_at"] else None,
        "width": row["width"],
        "height": row["height"],
        "orientation": row["orientation"],
        "make": row["make"],
        "colors": with_families(row["colors"]),
        "tags": dict(sorted(tags.items(), key=lambda item: -(item[1]["score"] or 0.0))),
    }
