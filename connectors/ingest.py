"""The one way an image enters Viewfinder, whatever its source: the original bytes into the
object store unchanged, a row in PostgreSQL, an arrival event on Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.ids import content_id
from core.images import CONTENT_TYPES, BadImage, identify, original_key
from schemas.pipeline import ARRIVED
from schemas.records import ImageArrived


@dataclass(frozen=True)
class Arrival:
    event: ImageArrived
    prior: str | None  # the image's status before this arrival; None: new

    @property
    def id(self) -> str:
        return self.event.id


class Ingestor:
    def __init__(self, store, db, publisher, max_bytes: int, max_pixels: int):
        self.store, self.db, self.publisher = store, db, publisher
        self.max_bytes, self.max_pixels = max_bytes, max_pixels

    def accept(self, data: bytes, filename: str | None, source: str, before_publish=None) -> tuple[str, bool]:
        """Store one image and announce it. Returns (id, is_duplicate); raises BadImage.

        An image still in flight is announced again: a crash may have lost its first event,
        and a replay is harmless. The caller flushes the publisher before telling anyone
        the image was accepted. ``before_publish(image_id)`` links the image to its source
        record first, so every stage can rely on the link.
        """
        arrival = self.store_arrival(data, filename, source)
        if before_publish is not None:
            before_publish(arrival.id)
        self.announce([arrival])
        return arrival.id, arrival.prior is not None

    def store_arrival(self, data: bytes, filename: str | None, source: str) -> Arrival:
        """The original in the object store, its row in PostgreSQL; not yet announced."""
        if len(data) > self.max_bytes:
            raise BadImage(f"file larger than {self.max_bytes} bytes")
        fmt, _, _ = identify(data, self.max_pixels)
        content_type = CONTENT_TYPES.get(fmt)
        if content_type is None:
            raise BadImage(f"unsupported image format {fmt}")
        iid = content_id(data)
        key = original_key(iid)
        if not self.store.exists(key):
            self.store.put(key, data, content_type)
        event = ImageArrived(
            id=iid,
            object_key=key,
            source=source,
            filename=filename,
            content_type=content_type,
            size=len(data),
            arrived_at=datetime.now(UTC).isoformat(),
        )
        return Arrival(event, self.db.images.record_arrival(event))

    def announce(self, arrivals: list[Arrival]) -> None:
        """Publish the arrivals that still need enriching (the caller flushes)."""
        for arrival in arrivals:
            if arrival.prior != "enriched":
                self.publisher.publish(ARRIVED.name, arrival.id, arrival.event)

    def withdraw(self, arrivals: list[Arrival]) -> None:
        """Undo arrivals whose announcement failed: the rows they made go (the originals stay,
        content-addressed and invisible without a row, for the client's retry to find)."""
        self.db.images.forget_arrivals([a.id for a in arrivals if a.prior is None])

    def redrive(self) -> int:
        """Re-publish arrivals of images whose enrichment never finished.

        The embedded broker keeps its log in memory, so after a restart PostgreSQL is the
        only record of work in flight. Replays are harmless: every sink is idempotent.
        """
        count, after = 0, ""
        while rows := self.db.images.by_status("arrived", limit=1000, after=after):
            count += self._announce(rows)
            after = rows[-1]["id"]
        self.publisher.flush()
        return count

    def retry_failed(self, stage: str | None = None, ids: list[str] | None = None) -> int:
        """Send dead-lettered images through the pipeline again (after a fix, or a model came back)."""
        count = self._announce(self.db.images.reopen_failed(stage, ids))
        self.publisher.flush()
        return count

    def _announce(self, rows: list[dict]) -> int:
        for row in rows:
            self.publisher.publish(
                ARRIVED.name,
                row["id"],
                ImageArrived(
                    id=row["id"],
                    object_key=row["object_key"],
                    source=row["source"],
                    filename=row["filename"],
                    content_type=row["content_type"],
                    size=row["size"],
                    arrived_at=row["arrived_at"].isoformat(),
                ),
            )
        return len(rows)
