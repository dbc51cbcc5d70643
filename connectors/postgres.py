"""PostgreSQL: migrations and every read and write of image metadata. Writes are upserts
keyed by the image id, so replaying an event leaves the same rows."""
from __future__ import annotations

import json
import uuid
from contextlib import contextmanager
from datetime import datetime
from importlib import resources

import psycopg2
import psycopg2.extras
import psycopg2.pool

_MIGRATION_LOCK = 0x5646_4D49  # arbitrary constant for pg_advisory_lock: one migrator at a time
STAGES = ("exif", "detect", "colors", "embed", "stored")  # images.stage = 1 + index of the last one passed


class Database:
    def __init__(self, dsn: str, maxconn: int = 8):
        self.pool = psycopg2.pool.ThreadedConnectionPool(1, maxconn, dsn)

    def close(self) -> None:
        self.pool.closeall()

    @contextmanager
    def cursor(self):
        conn = self.pool.getconn()
        try:
            with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
        finally:
            self.pool.putconn(conn)

    def stream(self, sql: str, params=None, batch_size: int = 5000):
        """A query's rows (tuples) in lists of ``batch_size``, through a server-side cursor, so a
        large result is never in memory whole. Holds one pooled connection until exhausted or closed."""
        conn = self.pool.getconn()
        try:
            with conn, conn.cursor(name=f"stream_{uuid.uuid4().hex}") as cur:
                cur.itersize = batch_size
                cur.execute(sql, params)
                while batch := cur.fetchmany(batch_size):
                    yield batch
        finally:
            self.pool.putconn(conn)

    def ping(self) -> None:
        with self.cursor() as cur:
            cur.execute("SELECT 1")

    # -- schema -------------------------------------------------------------
    def migrate(self) -> list[str]:
        files = sorted((f for f in resources.files("schemas").joinpath("sql").iterdir() if f.name.endswith(".sql")),
                       key=lambda f: f.name)
        applied = []
        with self.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            cur.execute("SELECT name FROM schema_migrations")
            done = {row["name"] for row in cur.fetchall()}
            for f in files:
                if f.name not in done:
                    cur.execute(f.read_text())
                    cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (f.name,))
                    applied.append(f.name)
        return applied

    # -- writes -------------------------------------------------------------
    def record_arrival(self, event) -> str | None:
        """The image's status before this arrival (None: new). A failed image is tried again."""
        with self.cursor() as cur:
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

    def save_enriched(self, event) -> None:
        exif = event.exif or {}
        with self.cursor() as cur:
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
                       embedding_status = %s, country = COALESCE(%s, country)
                   WHERE id = %s""",
                (len(STAGES), event.width, event.height, event.orientation, exif.get("Make"), exif.get("Model"),
                 _timestamp(exif.get("DateTimeOriginal")), exif.get("ISOSpeedRatings"),
                 exif.get("Latitude"), exif.get("Longitude"), exif.get("Altitude"),
                 json.dumps(exif), event.tags_status, json.dumps(event.colors), event.embedding_status,
                 event.country, event.id),
            )
            cur.execute("DELETE FROM image_tags WHERE image_id = %s", (event.id,))
            if event.tags:
                psycopg2.extras.execute_values(
                    cur, "INSERT INTO image_tags (image_id, label, count, score, boxes) VALUES %s",
                    [(event.id, label, t["count"], t["score"], json.dumps(t.get("boxes", [])))
                     for label, t in event.tags.items()],
                )
            cur.execute("DELETE FROM dead_letters WHERE image_id = %s", (event.id,))

    def passed_stage(self, image_id: str, stage: str) -> None:
        with self.cursor() as cur:
            cur.execute("UPDATE images SET stage = GREATEST(stage, %s) WHERE id = %s",
                        (STAGES.index(stage) + 1, image_id))

    def save_dead_letter(self, letter) -> None:
        with self.cursor() as cur:
            params = dict(image_id=letter.image_id, stage=letter.stage, reason=letter.reason,
                          event=json.dumps(letter.event), failed_at=letter.failed_at)
            if letter.image_id is None:
                cur.execute("INSERT INTO dead_letters (image_id, stage, reason, event, failed_at) "
                            "VALUES (%(image_id)s, %(stage)s, %(reason)s, %(event)s, %(failed_at)s)", params)
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
            cur.execute("UPDATE images SET status = 'failed', error = %s WHERE id = %s AND status <> 'enriched'",
                        (f"{letter.stage}: {letter.reason}", letter.image_id))

    # -- users and feedback ----------------------------------------------------
    def save_user(self, name: str, preferences: dict) -> None:
        with self.cursor() as cur:
            cur.execute("""INSERT INTO users (name, preferences) VALUES (%s, %s)
                           ON CONFLICT (name) DO UPDATE SET preferences = EXCLUDED.preferences, updated_at = now()""",
                        (name, json.dumps(preferences)))

    def get_user(self, name: str) -> dict | None:
        with self.cursor() as cur:
            cur.execute("SELECT name, preferences, created_at, updated_at FROM users WHERE name = %s", (name,))
            user = cur.fetchone()
            if user is None:
                return None
            cur.execute("SELECT image_id, signal FROM opinions WHERE user_name = %s ORDER BY at DESC", (name,))
            opinions = cur.fetchall()
        user["likes"] = [o["image_id"] for o in opinions if o["signal"] == "like"]
        user["dislikes"] = [o["image_id"] for o in opinions if o["signal"] == "dislike"]
        return user

    def apply_feedback(self, event) -> None:
        """Idempotent: the event is logged once, and only a newer signal changes an opinion."""
        with self.cursor() as cur:
            cur.execute("""INSERT INTO feedback (event_id, user_name, image_id, signal, at)
                           VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
                        (event.event_id, event.user, event.image_id, event.signal, event.at))
            if cur.fetchone() is None or event.signal == "view":
                return
            cur.execute("""INSERT INTO opinions (user_name, image_id, signal, at) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (user_name, image_id) DO UPDATE SET signal = EXCLUDED.signal, at = EXCLUDED.at
                           WHERE opinions.at <= EXCLUDED.at""",
                        (event.user, event.image_id, event.signal, event.at))

    def stored_object(self, image_id: str) -> dict | None:
        """Where an image's original is and its content type; None for an unknown image."""
        with self.cursor() as cur:
            cur.execute("SELECT object_key, content_type FROM images WHERE id = %s", (image_id,))
            return cur.fetchone()

    # -- reads --------------------------------------------------------------
    def get_image(self, image_id: str) -> dict | None:
        with self.cursor() as cur:
            cur.execute("SELECT * FROM images WHERE id = %s", (image_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("SELECT label, count, score, boxes FROM image_tags WHERE image_id = %s ORDER BY score DESC",
                        (image_id,))
            row["tags"] = {t["label"]: {"count": t["count"], "score": round(t["score"], 4), "boxes": t["boxes"]}
                           for t in cur.fetchall()}
            cur.execute("SELECT stage, reason, failed_at FROM dead_letters WHERE image_id = %s", (image_id,))
            row["dead_letters"] = cur.fetchall()
            return row

    def images_by_status(self, status: str, limit: int = 1000, after: str = "") -> list[dict]:
        with self.cursor() as cur:
            cur.execute("SELECT id, source, filename, content_type, size_bytes AS size, object_key, arrived_at "
                        "FROM images WHERE status = %s AND id > %s ORDER BY id LIMIT %s", (status, after, limit))
            return cur.fetchall()

    def pipeline_status(self) -> dict:
        with self.cursor() as cur:
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
        stages = [{"stage": name, "passed": sum(g["n"] for g in groups if g["stage"] > i),
                   "failed": failed_by_stage.get("sink" if name == "stored" else name, 0)}
                  for i, name in enumerate(STAGES)]
        # Lag: how long the oldest image still in the pipeline has waited (0 when none is).
        waits = [float(g["waited"]) for g in groups if g["status"] == "arrived"]
        return {**counts, "in_flight": counts["arrived"], "lag_seconds": round(max(waits, default=0.0), 1),
                "enriched_per_s": round(sum(g["recent"] for g in groups) / 60, 2),
                "failed_by_stage": failed_by_stage, "stages": stages}

    def dead_letters(self, limit: int = 100, stage: str | None = None) -> list[dict]:
        with self.cursor() as cur:
            cur.execute("""SELECT d.image_id, d.stage, d.reason, d.failed_at, d.attempts, i.filename, i.source
                           FROM dead_letters d LEFT JOIN images i ON i.id = d.image_id
                           WHERE %(stage)s::text IS NULL OR d.stage = %(stage)s
                           ORDER BY d.failed_at DESC LIMIT %(limit)s""", {"stage": stage, "limit": limit})
            return cur.fetchall()

    def reopen_failed(self, stage: str | None = None, ids: list[str] | None = None) -> list[dict]:
        """Failed images (optionally of one stage, or these ids) back to 'arrived', for a retry."""
        with self.cursor() as cur:
            cur.execute("""UPDATE images SET status = 'arrived', error = NULL
                           WHERE status = 'failed'
                             AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s))
                             AND (%(stage)s::text IS NULL OR id IN
                                  (SELECT image_id FROM dead_letters WHERE stage = %(stage)s))
                           RETURNING id, source, filename, content_type, size_bytes AS size, object_key, arrived_at""",
                        {"stage": stage, "ids": ids})
            return cur.fetchall()


def _timestamp(value: str | None):
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# Camera brands, normalised cheaply in SQL: collapse whitespace, trim, then cut a trailing company
# suffix from the first corporate word on ("NIKON CORPORATION" → "NIKON", "OLYMPUS IMAGING CORP."
# → "OLYMPUS", "LEICA CAMERA AG" → "LEICA"); lower-cased, that is the brand key, so "Nikon" and
# "NIKON CORPORATION" are one brand. A make made only of such words is kept as it is.
_CORPORATE = "corporation|corp|company|co|inc|ltd|limited|imaging|optical|camera|electronics|ag|gmbh"


def brand_spelling_sql(expr: str) -> str:
    """SQL for the make ``expr`` without its company suffix, case kept; NULL for no make."""
    collapsed = f"btrim(regexp_replace({expr}, '\\s+', ' ', 'g'))"
    return f"NULLIF(regexp_replace({collapsed}, '[ ,.]+({_CORPORATE})([ ,.].*)?$', '', 'i'), '')"


def brand_key_sql(expr: str) -> str:
    return f"lower({brand_spelling_sql(expr)})"
