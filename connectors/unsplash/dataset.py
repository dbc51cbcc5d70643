"""Reading the Lite dataset's TSV files: split parts, header checks, typed and cleaned rows.

Pure: files in, rows out. Each table's columns are declared once with a converter; a value
that does not convert becomes NULL and is counted, it never stops the load.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

csv.field_size_limit(sys.maxsize)


class DatasetError(ValueError):
    """The dataset cannot be read; the message says which file and what is wrong."""


def text(value: str) -> str | None:
    value = value.strip()
    return value or None


def words(value: str) -> str | None:
    """Keywords come with stray spaces and embedded newlines."""
    return " ".join(value.split()).lower() or None


def integer(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    return int(float(value)) if re.fullmatch(r"-?\d+(\.0*)?", value) else _bad(value)


def number(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        result = float(value)
    except ValueError:
        return _bad(value)
    return result if result == result and abs(result) != float("inf") else _bad(value)


def boolean(value: str) -> bool | None:
    value = value.strip().lower()
    if not value:
        return None
    if value in ("t", "true", "1", "yes"):
        return True
    if value in ("f", "false", "0", "no"):
        return False
    return _bad(value)


def timestamp(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return _bad(value)


class _Unparsable(Exception):
    pass


def _bad(value):
    raise _Unparsable(value)


PHOTOS = {
    "photo_id": text,
    "photo_url": text,
    "photo_image_url": text,
    "photo_submitted_at": timestamp,
    "photo_featured": boolean,
    "photo_width": integer,
    "photo_height": integer,
    "photo_aspect_ratio": number,
    "photo_description": text,
    "photographer_username": text,
    "photographer_first_name": text,
    "photographer_last_name": text,
    "exif_camera_make": text,
    "exif_camera_model": text,
    "exif_iso": integer,
    "exif_aperture_value": number,
    "exif_focal_length": number,
    "exif_exposure_time": text,
    "photo_location_name": text,
    "photo_location_latitude": number,
    "photo_location_longitude": number,
    "photo_location_country": text,
    "photo_location_city": text,
    "stats_views": integer,
    "stats_downloads": integer,
    "ai_description": text,
    "ai_primary_landmark_name": text,
    "ai_primary_landmark_latitude": number,
    "ai_primary_landmark_longitude": number,
    "ai_primary_landmark_confidence": number,
    "blur_hash": text,
}
KEYWORDS = {
    "photo_id": text,
    "keyword": words,
    "ai_service_1_confidence": number,
    "ai_service_2_confidence": number,
    "suggested_by_user": boolean,
    "user_suggestion_source": text,
    "suggested_by_ai_service_3": boolean,
    "confirmed_by_ai_service_3": boolean,
}
COLORS = {
    "photo_id": text,
    "hex": text,
    "red": integer,
    "green": integer,
    "blue": integer,
    "keyword": words,
    "coverage": number,
    "score": number,
}
COLLECTIONS = {
    "photo_id": text,
    "collection_id": text,
    "collection_title": text,
    "photo_collected_at": timestamp,
    "collection_type": text,
}
CONVERSIONS = {
    "converted_at": timestamp,
    "conversion_type": text,
    "keyword": words,
    "photo_id": text,
    "anonymous_user_id": text,
    "conversion_country": text,
    "device_type": text,
    "search_orientation_filter": text,
    "search_ordering": text,
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Callable]
    key: tuple[str, ...]  # rows repeating a key are duplicates; () means "the whole row"
    required: tuple[str, ...]  # rows without these are dropped


TABLES = {
    "photos": Table("photos", PHOTOS, ("photo_id",), ("photo_id", "photo_image_url")),
    "keywords": Table("keywords", KEYWORDS, ("photo_id", "keyword"), ("photo_id", "keyword")),
    "colors": Table("colors", COLORS, ("photo_id", "hex"), ("photo_id", "hex")),
    "collections": Table("collections", COLLECTIONS, ("photo_id", "collection_id"), ("photo_id", "collection_id")),
    "conversions": Table("conversions", CONVERSIONS, (), ("photo_id",)),
}


@dataclass
class Report:
    """What reading one table found, for the operator."""

    table: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> rows
    nulled: Counter = field(default_factory=Counter)  # column -> values that did not parse
    extra_columns: list[str] = field(default_factory=list)
    inserted: int | None = None  # rows new to the database

    def as_dict(self) -> dict:
        return {
            "table": self.table,
            "files": self.files,
            "rows": self.rows,
            "inserted": self.inserted,
            "dropped": dict(self.dropped),
            "unparsable_values": dict(self.nulled),
            "extra_columns": self.extra_columns,
        }


def parts(folder: Path, table: str) -> list[Path]:
    """`photos.tsv`, or its split parts `photos.tsv000`, `photos.tsv001`, … in order."""
    found = [p for p in folder.iterdir() if p.is_file() and re.fullmatch(rf"{table}\.(tsv|csv)(\d{{3}})?", p.name)]
    return sorted(found, key=lambda p: p.name)


def dataset_version(folder: Path) -> tuple[int, ...] | None:
    """From the folder's name or its documentation, e.g. "unsplash-research-dataset-lite-1.2.0"."""
    texts = [folder.name] + [p.read_text(errors="replace")[:4000] for p in sorted(folder.glob("*.md"))]
    for t in texts:
        match = re.search(r"(?<![\d.])(\d+)\.(\d+)\.(\d+)(?![\d.])", t)
        if match:
            return tuple(int(g) for g in match.groups())
    return None


def read(folder: Path, table_name: str, report: Report | None = None) -> Iterator[dict]:
    """Typed, cleaned rows of one table, duplicates and unusable rows dropped (and counted)."""
    table = TABLES[table_name]
    report = report if report is not None else Report(table_name)
    files = parts(folder, table_name)
    if not files:
        raise DatasetError(f"{folder}: no {table_name}.tsv file (or parts {table_name}.tsv000, …)")
    seen: set = set()
    for path in files:
        report.files.append(path.name)
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter="\t" if ".tsv" in path.name else ",")
            try:
                header = [h.strip().lstrip("\ufeff") for h in next(reader)]
            except StopIteration:
                raise DatasetError(f"{path.name}: empty file, expected a header row") from None
            missing = [c for c in table.columns if c not in header]
            if missing:
                raise DatasetError(
                    f"{path.name}: not a {table_name} file; missing column(s) "
                    f"{', '.join(missing)} (header has: {', '.join(header[:12])}…)"
                )
            report.extra_columns = sorted(set(report.extra_columns) | (set(header) - set(table.columns)))
            index = [header.index(c) for c in table.columns]
            for fields in reader:
                if not fields or fields == [""]:
                    continue
                if len(fields) != len(header):
                    report.dropped[f"{len(fields)} fields instead of {len(header)}"] += 1
                    continue
                row = {}
                for column, i in zip(table.columns, index):
                    try:
                        row[column] = table.columns[column](fields[i])
                    except _Unparsable:
                        row[column] = None
                        report.nulled[column] += 1
                absent = [c for c in table.required if row[c] is None]
                if absent:
                    report.dropped[f"no {absent[0]}"] += 1
                    continue
                if table.key:
                    key = tuple(row[c] for c in table.key)
                    if key in seen:
                        report.dropped["duplicate"] += 1
                        continue
                    seen.add(key)
                else:  # large and keyless: PostgreSQL drops repeats by this hash, memory here stays flat
                    row["row_hash"] = _row_hash(row)
                report.rows += 1
                yield row


def _row_hash(row: dict) -> str:
    return hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).hexdigest()


def fix_coordinates(row: dict, swapped: bool) -> dict:
    """Datasets before 1.3.0 have latitude and longitude swapped; impossible values are dropped."""
    lat, lon = row["photo_location_latitude"], row["photo_location_longitude"]
    if swapped:
        lat, lon = lon, lat
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    row["photo_location_latitude"], row["photo_location_longitude"] = lat, lon
    return row
