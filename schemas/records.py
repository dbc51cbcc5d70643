"""One record type per topic. Each stage's record extends the previous one, so an event
carries everything learnt so far and the sink needs no joins.

The namespace carries the schema version: a change that is not backwards compatible
gets a new namespace (…v2) and consumers accept both while producers move over.
"""

from __future__ import annotations

import faust


class ImageArrived(faust.Record, serializer="json", namespace="viewfinder.image.arrived.v1"):
    id: str  # content hash of the original bytes: the same file is always the same image
    object_key: str  # where the original bytes are in the object store
    source: str  # "upload" or "unsplash"
    filename: str | None
    content_type: str
    size: int
    arrived_at: str  # ISO 8601, UTC


class ExifExtracted(ImageArrived, namespace="viewfinder.image.exif.v1"):
    width: int  # displayed size, after the EXIF rotation
    height: int
    orientation: str  # landscape | portrait | square
    exif: dict
    country: str | None  # from the GPS position, offline; None without one


class ObjectsDetected(ExifExtracted, namespace="viewfinder.image.detected.v1"):
    tags: dict | None  # label -> {count, score, boxes}; None when the detector is unavailable
    tags_status: str  # "ok" | "unavailable"


class ColorsExtracted(ObjectsDetected, namespace="viewfinder.image.colors.v1"):
    colors: list  # [{hex, coverage, name}], largest coverage first
    phash: int | None = None  # 64-bit perceptual hash (core.perceptual); None in events made before it


class ImageEnriched(ColorsExtracted, namespace="viewfinder.image.enriched.v1"):
    vectors: dict  # vector name -> list[float]; "clip" absent when unavailable
    embedding_status: str  # "ok" | "unavailable"
    clip_tags: dict | None = None  # label -> CLIP zero-shot probability over the open vocabulary; None without CLIP


class DeadLetter(faust.Record, serializer="json", namespace="viewfinder.deadletter.v1"):
    image_id: str | None
    stage: str
    reason: str
    event: dict  # the event that failed, as received
    failed_at: str


class Feedback(faust.Record, serializer="json", namespace="viewfinder.feedback.v1"):
    event_id: str  # a UUID: the same event folded twice changes nothing
    user: str
    image_id: str
    signal: str  # like | dislike | view
    at: str  # ISO 8601, UTC
