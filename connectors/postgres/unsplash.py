"""The Unsplash tables: the dataset's own metadata (`unsplash_photos`, `_keywords`, `_colors`,
`_collections`, `_conversions`), loaded in bulk — COPY into a temporary table, then one
INSERT … ON CONFLICT DO NOTHING into the real one, so a re-run adds nothing — and each
photo's download state."""

from __future__ import annotations

import csv
import io
from itertools import islice

from connectors.unsplash import dataset

# dataset table -> (database table, {dataset column: database column})
TARGETS = {
    "photos": (
        "unsplash_photos",
        {
            "photo_id": "photo_id",
            "photo_url": "photo_url",
            "photo_image_url": "photo_image_url",
            "photo_submitted_at": "submitted_at",
            "photo_featured": "featured",
            "photo_width": "width",
            "photo_height": "height",
            "photo_aspect_ratio": "aspect_ratio",
            "photo_description": "description",
            "photographer_username": "photographer_username",
            "photographer_first_name": "photographer_first_name",
            "photographer_last_name": "photographer_last_name",
            "exif_camera_make": "camera_make",
            "exif_camera_model": "camera_model",
            "exif_iso": "iso",
            "exif_aperture_value": "aperture",
            "exif_focal_length": "focal_length",
            "exif_exposure_time": "exposure_time",
            "photo_location_name": "location_name",
            "photo_location_latitude": "latitude",
            "photo_location_longitude": "longitude",
            "photo_location_country": "country",
            "photo_location_city": "city",
            "stats_views": "views",
            "stats_downloads": "downloads",
            "ai_description": "ai_description",
            "ai_primary_landmark_name": "ai_landmark_name",
            "ai_primary_landmark_latitude": "ai_landmark_latitude",
            "ai_primary_landmark_longitude": "ai_landmark_longitude",
            "ai_primary_landmark_confidence": "ai_landmark_confidence",
            "blur_hash": "blur_hash",
        },
    ),
    "keywords": ("unsplash_keywords", {c: c for c in dataset.KEYWORDS}),
    "colors": ("unsplash_colors", {c: c for c in dataset.COLORS}),
    "collections": ("unsplash_collections", {c: c for c in dataset.COLLECTIONS}),
    "conversions": ("unsplash_conversions", {"row_hash": "row_hash", **{c: c for c in dataset.CONVERSIONS}}),
}
CHUNK = 20_000


def _csv(rows: list[dict], columns: list[str]) -> io.StringIO:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(["t" if v is True else "f" if v is False else v for v in (row[c] for c in columns)])
    out.seek(0)
    return out


class Unsplash:
    def __init__(self, db):
        self.db = db

    def copy(self, name: str, rows) -> int:
        """COPY ``rows`` in; returns how many were new."""
        target, mapping = TARGETS[name]
        source_columns, columns = list(mapping), ", ".join(mapping.values())
        with self.db.cursor() as cur:
            # Only the loaded columns and no constraints: duplicates are settled by the INSERT below.
            cur.execute(f"CREATE TEMP TABLE staging ON COMMIT DROP AS SELECT {columns} FROM {target} WITH NO DATA")
            while chunk := list(islice(rows, CHUNK)):
                cur.copy_expert(f"COPY staging ({columns}) FROM STDIN WITH (FORMAT csv)", _csv(chunk, source_columns))
            cur.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM staging ON CONFLICT DO NOTHING")
            return cur.rowcount

    def photos_to_fetch(self, photo_ids: list[str], limit: int | None) -> tuple[list[dict], int]:
        """Of the dataset's first ``limit`` photos by id (all without a limit): those not stored
        yet, and how many are."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT photo_id, photo_image_url, download_status FROM unsplash_photos
                           WHERE photo_id = ANY(%s) ORDER BY photo_id LIMIT %s""",
                (photo_ids, limit),
            )
            rows = cur.fetchall()
        pending = [r for r in rows if r["download_status"] != "stored"]
        return pending, len(rows) - len(pending)

    def mark_stored(self, photo_id: str, image_id: str) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                """UPDATE unsplash_photos SET download_status = 'stored', download_error = NULL,
                           download_attempts = download_attempts + 1, image_id = %s WHERE photo_id = %s""",
                (image_id, photo_id),
            )
            # The dataset knows where and by whom a photo was taken; the image row shows it.
            cur.execute(
                """UPDATE images i SET country = COALESCE(i.country, p.country), source = 'unsplash'
                           FROM unsplash_photos p WHERE p.photo_id = %s AND i.id = %s""",
                (photo_id, image_id),
            )

    def mark_failed(self, photo_id: str, reason: str) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                """UPDATE unsplash_photos SET download_status = 'failed', download_error = %s,
                           download_attempts = download_attempts + 1 WHERE photo_id = %s""",
                (reason, photo_id),
            )

    def download_counts(self) -> dict[str, int]:
        with self.db.cursor() as cur:
            cur.execute("SELECT download_status, count(*) AS n FROM unsplash_photos GROUP BY download_status")
            counts = {"pending": 0, "stored": 0, "failed": 0}
            counts.update({r["download_status"]: r["n"] for r in cur.fetchall()})
            return counts

    def failures(self, limit: int = 20) -> list[dict]:
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT photo_id, download_error AS reason, download_attempts AS attempts
                           FROM unsplash_photos WHERE download_status = 'failed' ORDER BY photo_id LIMIT %s""",
                (limit,),
            )
            return cur.fetchall()

    def keywords_of_image(self, image_id: str, limit: int = 30) -> list[str]:
        """The dataset's keywords for a downloaded photo, most confident first."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT k.keyword FROM unsplash_keywords k JOIN unsplash_photos p USING (photo_id)
                           WHERE p.image_id = %s
                           ORDER BY greatest(k.ai_service_1_confidence, k.ai_service_2_confidence, 0) DESC, k.keyword
                           LIMIT %s""",
                (image_id, limit),
            )
            return [r["keyword"] for r in cur.fetchall()]

    def keywords_of_images(self, image_ids: list[str], limit: int = 30) -> dict[str, list[str]]:
        """`keywords_of_image` for many images in one query."""
        if not image_ids:
            return {}
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT image_id, keyword FROM (
                       SELECT p.image_id, k.keyword, row_number() OVER (
                           PARTITION BY p.image_id
                           ORDER BY greatest(k.ai_service_1_confidence, k.ai_service_2_confidence, 0) DESC, k.keyword
                       ) AS n
                       FROM unsplash_keywords k JOIN unsplash_photos p USING (photo_id)
                       WHERE p.image_id = ANY(%s)) ranked
                   WHERE n <= %s ORDER BY image_id, n""",
                (image_ids, limit),
            )
            out: dict[str, list[str]] = {}
            for r in cur.fetchall():
                out.setdefault(r["image_id"], []).append(r["keyword"])
            return out

    def common_keywords(self, limit: int) -> list[str]:
        """The dataset's most used keywords: the vocabulary free-text tags may resolve to."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT keyword FROM unsplash_keywords GROUP BY keyword ORDER BY count(*) DESC, keyword
                           LIMIT %s""",
                (limit,),
            )
            return [r["keyword"] for r in cur.fetchall()]

    def described(self, text: str, limit: int) -> list[str]:
        """Stored photos whose description or AI description matches ``text`` (full-text, English)."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT p.image_id
                   FROM unsplash_photos p,
                        to_tsvector('english', coalesce(p.description, '') || ' ' || coalesce(p.ai_description, ''))
                            AS doc,
                        plainto_tsquery('english', %(q)s) AS q
                   WHERE p.image_id IS NOT NULL AND doc @@ q
                   ORDER BY ts_rank(doc, q) DESC, p.image_id LIMIT %(limit)s""",
                {"q": text, "limit": limit},
            )
            return [r["image_id"] for r in cur.fetchall()]

    def searches(self, limit: int, keywords: list[str] | None = None) -> dict[str, set[str]]:
        """keyword → the stored images downloaded after searching it (the dataset's conversions),
        most searched keywords first (or only ``keywords``)."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT c.keyword, array_agg(DISTINCT p.image_id) AS images
                           FROM unsplash_conversions c JOIN unsplash_photos p USING (photo_id)
                           JOIN images i ON i.id = p.image_id AND i.status = 'enriched'
                           WHERE c.keyword IS NOT NULL AND (%(only)s::text[] IS NULL OR c.keyword = ANY(%(only)s))
                           GROUP BY c.keyword ORDER BY count(*) DESC, c.keyword LIMIT %(limit)s""",
                {"only": keywords, "limit": limit},
            )
            return {r["keyword"]: set(r["images"]) for r in cur.fetchall()}

    def most_popular(self, k: int) -> list[str]:
        """The enriched images the dataset's users downloaded (then viewed) most."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT p.image_id FROM unsplash_photos p JOIN images i ON i.id = p.image_id
                           WHERE i.status = 'enriched' ORDER BY p.downloads DESC NULLS LAST, p.views DESC NULLS LAST,
                           p.image_id LIMIT %s""",
                (k,),
            )
            return [r["image_id"] for r in cur.fetchall()]
