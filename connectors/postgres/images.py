"""The image tables: `images` (one row per image, its status and enriched fields), `image_tags`
and `dead_letters`."""

from __future__ import annotations

import json
from datetime import datetime

import psycopg2.extras

from core import perceptual
from schemas.pipeline import STAGES, passed

from .brands import brand_key_sql

COLORS = 4  # swatches per image, largest coverage first
GALLERY_COVERAGE = 10.0  # % of an image a colour covers at least to count for the gallery's colour filter
# The export's columns, in file order: name → SQL over `images i` (connectors.export types them).
EXPORT_COLUMNS: dict[str, str] = {
    "id": "i.id",
    "source": "i.source",
    "filename": "i.filename",
    "content_type": "i.content_type",
    "size_bytes": "i.size_bytes",
    "status": "i.status",
    "error": "i.error",
    "arrived_at": "i.arrived_at",
    "enriched_at": "i.enriched_at",
    "width": "i.width",
    "height": "i.height",
    "orientation": "i.orientation",
    "make": "i.make",
    "brand": brand_key_sql("i.make"),  # the key the brand graph groups by
    "model": "i.model",
    "taken_at": "i.taken_at",
    "iso": "i.iso",
    "latitude": "i.latitude",
    "longitude": "i.longitude",
    "altitude": "i.altitude",
    "country": "i.country",
    "tags_status": "i.tags_status",
    "embedding_status": "i.embedding_status",
    "tags": "ARRAY(SELECT t.label FROM image_tags t WHERE t.image_id = i.id ORDER BY t.score DESC, t.label)",
}
for _k in range(COLORS):
    EXPORT_COLUMNS.update(
        {
            f"color{_k + 1}_hex": f"i.colors->{_k}->>'hex'",
            f"color{_k + 1}_coverage": f"(i.colors->{_k}->>'coverage')::float8",
            f"color{_k + 1}_name": f"i.colors->{_k}->>'name'",
        }
    )
STATUSES = ("enriched", "all")


class Images:
    def __init__(self, db):
        self.db = db

    def record_arrival(self, event) -> str | None:
        """The image's status before this arrival (None: new). A failed image is tried again."""
        with self.db.cursor() as cur:
            cur.execute(
                """INSERT INTO images (id, source, filename, content_type, size_bytes, object_key, arrived_at)
                   VALUES (%(id)s, %(source)s, %(filename)s, %(content_type)s, %(size)s, %(object_key)s, %(arrived_at)s)
                   ON CONFLICT (id) DO NOTHING RETURNING id""",
                event.asdict(),
            )
            if cur.fetchone() is not None:
                return None
            cur.execute("SELECT status FROM images WHERE id = %s FOR UPDATE", (event.id,))
            prior = cur.fetchone()["status"]
            if prior == "failed":
                cur.execute("UPDATE images SET status = 'arrived', error = NULL WHERE id = %s", (event.id,))
            return prior

    def forget_arrivals(self, ids: list[str]) -> None:
        """Rows of arrivals that were never announced, gone (only while still just arrived)."""
        if ids:
            with self.db.cursor() as cur:
                cur.execute("DELETE FROM images WHERE id = ANY(%s) AND status = 'arrived' AND stage = 0", (ids,))

    def save_enriched(self, event) -> None:
        self.save_enriched_many([event])

    def save_enriched_many(self, events: list) -> None:
        """Every event's image as enriched, in one transaction: all of them or none."""
        with self.db.cursor() as cur:
            for event in events:
                _save_enriched(cur, event)

    def passed_stages(self, stages: dict[str, str]) -> None:
        """Each image (id → the last stage it passed) marked as that far along, in one statement."""
        if not stages:
            return
        with self.db.cursor() as cur:
            cur.execute(
                """UPDATE images AS i SET stage = GREATEST(i.stage, p.stage)
                   FROM unnest(%s::text[], %s::int[]) AS p(id, stage) WHERE i.id = p.id""",
                (list(stages), [passed(name) for name in stages.values()]),
            )

    def save_dead_letter(self, letter) -> None:
        with self.db.cursor() as cur:
            params = dict(
                image_id=letter.image_id,
                stage=letter.stage,
                reason=letter.reason,
                event=json.dumps(letter.event),
                failed_at=letter.failed_at,
            )
            if letter.image_id is None:
                cur.execute(
                    "INSERT INTO dead_letters (image_id, stage, reason, event, failed_at) "
                    "VALUES (%(image_id)s, %(stage)s, %(reason)s, %(event)s, %(failed_at)s)",
                    params,
                )
                return
            cur.execute(
                """INSERT INTO dead_letters (image_id, stage, reason, event, failed_at)
                   VALUES (%(image_id)s, %(stage)s, %(reason)s, %(event)s, %(failed_at)s)
                   ON CONFLICT (image_id, stage) WHERE image_id IS NOT NULL DO UPDATE
                   SET reason = EXCLUDED.reason, event = EXCLUDED.event,
                       attempts = dead_letters.attempts + (EXCLUDED.failed_at <> dead_letters.failed_at)::int,
                       failed_at = EXCLUDED.failed_at""",
                params,
            )
            # A later success wins over an earlier failure, never the other way round.
            cur.execute(
                "UPDATE images SET status = 'failed', error = %s WHERE id = %s AND status <> 'enriched'",
                (f"{letter.stage}: {letter.reason}", letter.image_id),
            )

    def stored_object(self, image_id: str) -> dict | None:
        """Where an image's original is and its content type; None for an unknown image."""
        with self.db.cursor() as cur:
            cur.execute("SELECT object_key, content_type FROM images WHERE id = %s", (image_id,))
            return cur.fetchone()

    def ids_by_filename(self, filename: str, limit: int = 10) -> list[str]:
        """The ids of the images uploaded or downloaded under ``filename`` (exactly as stored),
        oldest first, at most ``limit``: the original system named its images by file name."""
        if "\x00" in filename:  # no stored text holds NUL, and the driver refuses to send one
            return []
        with self.db.cursor() as cur:
            cur.execute("SELECT id FROM images WHERE filename = %s ORDER BY arrived_at, id LIMIT %s", (filename, limit))
            return [r["id"] for r in cur.fetchall()]

    def get(self, image_id: str) -> dict | None:
        with self.db.cursor() as cur:
            cur.execute("SELECT * FROM images WHERE id = %s", (image_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                "SELECT label, count, score, boxes FROM image_tags WHERE image_id = %s ORDER BY score DESC", (image_id,)
            )
            row["tags"] = {
                t["label"]: {"count": t["count"], "score": round(t["score"], 4), "boxes": t["boxes"]}
                for t in cur.fetchall()
            }
            cur.execute("SELECT stage, reason, failed_at FROM dead_letters WHERE image_id = %s", (image_id,))
            row["dead_letters"] = cur.fetchall()
            return row

    def gallery(self, filters: dict, after: tuple[datetime, str] | None, limit: int) -> tuple[list[dict], int]:
        """Enriched images, newest first: the page after the keyset ``after`` (arrived_at, id of
        the last one shown), and how many match ``filters`` in all. Filters (each optional):
        ``color`` (a family of core.colors.FAMILIES among the image's dominant colours, at
        least GALLERY_COVERAGE % of it), ``orientation``, ``tag`` (DETR's, CLIP's or the
        dataset's), ``make`` (any spelling of the brand), ``taken_from``/``taken_to`` (dates)."""
        where, params = ["i.status = 'enriched'"], dict[str, object]()
        if filters.get("color"):
            where.append(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(i.colors) c WHERE colour_family(c->>'hex') = %(color)s "
                "AND (c->>'coverage')::float >= %(coverage)s)"
            )
            params.update(color=filters["color"], coverage=GALLERY_COVERAGE)
        if filters.get("orientation"):
            where.append("i.orientation = %(orientation)s")
            params["orientation"] = filters["orientation"]
        if filters.get("tag"):
            where.append(
                "(EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = i.id AND t.label = %(tag)s) "
                "OR i.clip_tags ? %(tag)s "
                "OR EXISTS (SELECT 1 FROM unsplash_photos p JOIN unsplash_keywords k USING (photo_id) "
                "WHERE p.image_id = i.id AND k.keyword = %(tag)s))"
            )
            params["tag"] = filters["tag"]
        if filters.get("make"):
            where.append(f"{brand_key_sql('i.make')} = {brand_key_sql('%(make)s')}")
            params["make"] = filters["make"]
        if filters.get("taken_from"):
            where.append("i.taken_at >= %(taken_from)s")
            params["taken_from"] = filters["taken_from"]
        if filters.get("taken_to"):
            where.append("i.taken_at < %(taken_to)s::date + 1")
            params["taken_to"] = filters["taken_to"]
        matching = " AND ".join(where)
        page = matching
        if after is not None:
            page += " AND (i.arrived_at, i.id) < (%(after_at)s, %(after_id)s)"
            params.update(after_at=after[0], after_id=after[1])
        with self.db.cursor() as cur:
            cur.execute(
                f"""SELECT i.id, i.source, i.filename, i.arrived_at, i.width, i.height, i.orientation, i.make,
                           i.taken_at, i.colors, i.clip_tags,
                           COALESCE((SELECT jsonb_object_agg(t.label, round(t.score::numeric, 4))
                                     FROM image_tags t WHERE t.image_id = i.id), '{{}}'::jsonb) AS tags
                    FROM images i WHERE {page}
                    ORDER BY i.arrived_at DESC, i.id DESC LIMIT %(limit)s""",
                {**params, "limit": limit},
            )
            rows = cur.fetchall()
            cur.execute(f"SELECT count(*) AS n FROM images i WHERE {matching}", params)
            return rows, cur.fetchone()["n"]

    def near_duplicates(self, image_id: str, within: int, limit: int = 50) -> list[dict] | None:
        """Images near-duplicate to this one (core.perceptual.alike: hashes within ``within`` bits,
        the same colours), nearest first; None when there is no such image."""
        with self.db.cursor() as cur:
            cur.execute("SELECT phash, colors FROM images WHERE id = %s", (image_id,))
            this = cur.fetchone()
            if this is None or this["phash"] is None:
                return None if this is None else []
            cur.execute(
                """SELECT id, bit_count((phash # %(phash)s)::bit(64)) AS distance, colors FROM images
                   WHERE id <> %(id)s AND phash IS NOT NULL AND bit_count((phash # %(phash)s)::bit(64)) <= %(within)s
                   ORDER BY distance, id""",
                {"id": image_id, "phash": this["phash"], "within": within},
            )
            rows = cur.fetchall()
        ours = this["colors"] or []
        same = [r for r in rows if perceptual.colour_likeness(ours, r["colors"] or []) >= perceptual.SAME_COLOURS]
        return [{"id": r["id"], "distance": int(r["distance"])} for r in same[:limit]]

    def by_status(self, status: str, limit: int = 1000, after: str = "") -> list[dict]:
        with self.db.cursor() as cur:
            cur.execute(
                "SELECT id, source, filename, content_type, size_bytes AS size, object_key, arrived_at "
                "FROM images WHERE status = %s AND id > %s ORDER BY id LIMIT %s",
                (status, after, limit),
            )
            return cur.fetchall()

    def pipeline_status(self) -> dict:
        with self.db.cursor() as cur:
            # One snapshot for every count, so they add up while images move on.
            cur.execute("""SELECT status, stage, count(*) AS n,
                                  count(*) FILTER (WHERE enriched_at > now() - interval '60 seconds') AS recent,
                                  extract(epoch FROM now() - min(arrived_at)) AS waited
                           FROM images GROUP BY status, stage""")
            groups = cur.fetchall()
            cur.execute("SELECT stage, count(*) AS n FROM dead_letters GROUP BY stage ORDER BY stage")
            failed_by_stage = {r["stage"]: r["n"] for r in cur.fetchall()}
        counts = {"arrived": 0, "enriched": 0, "failed": 0}
        for g in groups:
            counts[g["status"]] += g["n"]
        stages = [
            {
                "stage": s.name,
                "does": s.does,
                "passed": sum(g["n"] for g in groups if g["stage"] > i),
                "failed": failed_by_stage.get(s.name, 0),
            }
            for i, s in enumerate(STAGES)
        ]
        # Lag: how long the oldest image still in the pipeline has waited (0 when none is).
        waits = [float(g["waited"]) for g in groups if g["status"] == "arrived"]
        return {
            **counts,
            "in_flight": counts["arrived"],
            "lag_seconds": round(max(waits, default=0.0), 1),
            "enriched_per_s": round(sum(g["recent"] for g in groups) / 60, 2),
            "failed_by_stage": failed_by_stage,
            "stages": stages,
        }

    def dead_letters(self, limit: int = 100, stage: str | None = None) -> list[dict]:
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT d.image_id, d.stage, d.reason, d.failed_at, d.attempts, i.filename, i.source
                           FROM dead_letters d LEFT JOIN images i ON i.id = d.image_id
                           WHERE %(stage)s::text IS NULL OR d.stage = %(stage)s
                           ORDER BY d.failed_at DESC LIMIT %(limit)s""",
                {"stage": stage, "limit": limit},
            )
            return cur.fetchall()

    def reopen_failed(self, stage: str | None = None, ids: list[str] | None = None) -> list[dict]:
        """Failed images (optionally of one stage, or these ids) back to 'arrived', for a retry."""
        with self.db.cursor() as cur:
            cur.execute(
                """UPDATE images SET status = 'arrived', error = NULL
                           WHERE status = 'failed'
                             AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s))
                             AND (%(stage)s::text IS NULL OR id IN
                                  (SELECT image_id FROM dead_letters WHERE stage = %(stage)s))
                           RETURNING id, source, filename, content_type, size_bytes AS size, object_key, arrived_at""",
                {"stage": stage, "ids": ids},
            )
            return cur.fetchall()

    def enriched_version(self) -> tuple[int, str | None]:
        """(enriched images, latest enrichment): changes whenever an image is enriched or re-enriched."""
        with self.db.cursor() as cur:
            cur.execute("SELECT count(*) AS n, max(enriched_at) AS latest FROM images WHERE status = 'enriched'")
            r = cur.fetchone()
        return int(r["n"]), r["latest"].isoformat() if r["latest"] else None

    def enriched_ids(self) -> list[str]:
        with self.db.cursor() as cur:
            cur.execute("SELECT id FROM images WHERE status = 'enriched' ORDER BY id")
            return [r["id"] for r in cur.fetchall()]

    def export_count(self, status: str = "enriched") -> int:
        clause, params = _status_where(status)
        with self.db.cursor() as cur:
            cur.execute(f"SELECT count(*) AS n FROM images i {clause}", params)
            return int(cur.fetchone()["n"])

    def export_rows(self, status: str = "enriched", batch_rows: int = 5000):
        """Lists of row tuples in EXPORT_COLUMNS order, streamed from a server-side cursor."""
        clause, params = _status_where(status)
        sql = f"SELECT {', '.join(EXPORT_COLUMNS.values())} FROM images i {clause} ORDER BY i.id"
        return self.db.stream(sql, params, batch_rows)


def _save_enriched(cur, event) -> None:
    exif = event.exif or {}
    cur.execute(
        """INSERT INTO images (id, source, filename, content_type, size_bytes, object_key, arrived_at)
           VALUES (%(id)s, %(source)s, %(filename)s, %(content_type)s, %(size)s, %(object_key)s, %(arrived_at)s)
           ON CONFLICT (id) DO NOTHING""",
        event.asdict(),
    )
    cur.execute(
        """UPDATE images SET status = 'enriched', error = NULL, enriched_at = COALESCE(enriched_at, now()),
               stage = %s,
               width = %s, height = %s, orientation = %s, make = %s, model = %s, taken_at = %s, iso = %s,
               latitude = %s, longitude = %s, altitude = %s, exif = %s, tags_status = %s, colors = %s,
               embedding_status = %s, country = COALESCE(%s, country), phash = COALESCE(%s, phash),
               clip_tags = COALESCE(%s, clip_tags)
           WHERE id = %s""",
        (
            len(STAGES),
            event.width,
            event.height,
            event.orientation,
            exif.get("Make"),
            exif.get("Model"),
            _timestamp(exif.get("DateTimeOriginal")),
            exif.get("ISOSpeedRatings"),
            exif.get("Latitude"),
            exif.get("Longitude"),
            exif.get("Altitude"),
            json.dumps(exif),
            event.tags_status,
            json.dumps(event.colors),
            event.embedding_status,
            event.country,
            event.phash,
            None if event.clip_tags is None else json.dumps(event.clip_tags),
            event.id,
        ),
    )
    cur.execute("DELETE FROM image_tags WHERE image_id = %s", (event.id,))
    if event.tags:
        psycopg2.extras.execute_values(
            cur,
            "INSERT INTO image_tags (image_id, label, count, score, boxes) VALUES %s",
            [
                (event.id, label, t["count"], t["score"], json.dumps(t.get("boxes", [])))
                for label, t in event.tags.items()
            ],
        )
    cur.execute("DELETE FROM dead_letters WHERE image_id = %s", (event.id,))


def _status_where(status: str) -> tuple[str, dict]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return ("WHERE i.status = %(status)s", {"status": status}) if status != "all" else ("", {})


def _timestamp(value: str | None):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
