"""The pipeline, declared once: its topics, the record each carries, and the stages in order.

Topic creation, the worker's agents, progress (`images.stage`), the command line's help,
`/gather/status`, the web status tab and the `/pipeline` dashboard all read this table, so a
stage has one name everywhere: in dead letters, in progress counts and on every page.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import records


@dataclass(frozen=True)
class Topic:
    name: str
    record: type


ARRIVED = Topic("viewfinder.images.arrived", records.ImageArrived)
EXIF = Topic("viewfinder.images.exif", records.ExifExtracted)
DETECTED = Topic("viewfinder.images.detected", records.ObjectsDetected)
COLORS = Topic("viewfinder.images.colors", records.ColorsExtracted)
ENRICHED = Topic("viewfinder.images.enriched", records.ImageEnriched)
DEAD_LETTERS = Topic("viewfinder.deadletter", records.DeadLetter)
FEEDBACK = Topic("viewfinder.feedback", records.Feedback)
TOPICS = (ARRIVED, EXIF, DETECTED, COLORS, ENRICHED, DEAD_LETTERS, FEEDBACK)


@dataclass(frozen=True)
class Stage:
    name: str
    consumes: Topic
    produces: Topic | None  # None: the stage stores what it receives and the image is done
    does: str  # one line for help texts and status pages


# An image's progress is the number of these it has passed (`images.stage`), in this order.
STAGES = (
    Stage("exif", ARRIVED, EXIF, "size, orientation, EXIF fields, country from GPS"),
    Stage("detect", EXIF, DETECTED, "objects found by DETR: label, count, score, boxes"),
    Stage("colors", DETECTED, COLORS, "four dominant colours and the CDN thumbnail"),
    Stage("embed", COLORS, ENRICHED, "palette and CLIP vectors"),
    Stage("sink", ENRICHED, None, "vectors into the index, then metadata into PostgreSQL"),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"no stage {name!r}; stages: {', '.join(STAGE_NAMES)}")


def passed(name: str) -> int:
    """The progress an image has made once it passed stage ``name``."""
    return STAGE_NAMES.index(stage(name).name) + 1


def describe() -> str:
    """The stages in order, one per line, for help texts."""
    return "\n".join(f"  {s.name:<7} {s.does}" for s in STAGES)
