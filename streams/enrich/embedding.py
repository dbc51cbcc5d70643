"""Enriched fields in, named vectors out (names and sizes declared in schemas.vectors)."""

from __future__ import annotations

from collections.abc import Sequence

from core.colors import palette_vector


def vectors(colors: list[dict]) -> dict[str, list[float]]:
    return {"palette": palette_vector([(c["hex"], c["coverage"]) for c in colors])}


def tag_sources(event, keywords: Sequence[str] = ()) -> dict[str, list[str]]:
    sources: dict[str, list[str]] = {}
    for source, labels in (("detr", event.tags or {}), ("clip", event.clip_tags or {}), ("dataset", keywords)):
        for label in labels:
            sources.setdefault(label, []).append(source)
    return sources


def payload(event, keywords: Sequence[str] = ()) -> dict:
    """What filters and explanations need, stored next to the vectors. ``keywords`` (the
    dataset's, for Unsplash photos) join the detector's labels as tags."""
    exif = event.exif or {}
    taken = exif.get("DateTimeOriginal") or ""
    return {
        "orientation": event.orientation,
        "width": event.width,
        "height": event.height,
        "make": (exif.get("Make") or "").strip().lower() or None,
        "year": int(taken[:4]) if taken[:4].isdigit() else None,
        "tags": sorted(set(event.tags or {}) | set(keywords) | set(event.clip_tags or {})),
        # Who said so, for `why`: the detector, CLIP's zero-shot labels, the dataset's keywords.
        "tag_sources": tag_sources(event, keywords),
        "colors": [{"hex": c["hex"], "coverage": c["coverage"]} for c in event.colors],
        "phash": event.phash,  # near-duplicates fold into one result (query.recommendation.recommender)
    }
