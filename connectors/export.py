"""The collection as a file (Parquet or CSV): one row per image, for pandas and notebooks.

Rows travel from a server-side cursor in batches straight into a pyarrow writer, so a
large collection is never in memory whole. The file appears under its name only once it
is complete (written beside it, then renamed).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa

from connectors.postgres import Database, brand_key_sql

FORMATS = ("parquet", "csv")
STATUSES = ("enriched", "all")
BATCH_ROWS = 5000
COLORS = 4
CSV_TAG_SEPARATOR = "|"  # CSV has no lists: tags become "dog|person"

_UTC = pa.timestamp("us", tz="UTC")

# (column, type, SQL over `images i`), in file order.
_COLUMNS: list[tuple[str, pa.DataType, str]] = [
    ("id", pa.string(), "i.id"),
    ("source", pa.string(), "i.source"),
    ("filename", pa.string(), "i.filename"),
    ("content_type", pa.string(), "i.content_type"),
    ("size_bytes", pa.int64(), "i.size_bytes"),
    ("status", pa.string(), "i.status"),
    ("error", pa.string(), "i.error"),
    ("arrived_at", _UTC, "i.arrived_at"),
    ("enriched_at", _UTC, "i.enriched_at"),
    ("width", pa.int32(), "i.width"),
    ("height", pa.int32(), "i.height"),
    ("orientation", pa.string(), "i.orientation"),
    ("make", pa.string(), "i.make"),
    ("brand", pa.string(), brand_key_sql("i.make")),  # the key the brand graph groups by
    ("model", pa.string(), "i.model"),
    ("taken_at", pa.timestamp("us"), "i.taken_at"),  # camera local time, no zone (EXIF has none)
    ("iso", pa.int32(), "i.iso"),
    ("latitude", pa.float64(), "i.latitude"),
    ("longitude", pa.float64(), "i.longitude"),
    ("altitude", pa.float64(), "i.altitude"),
    ("country", pa.string(), "i.country"),
    ("tags_status", pa.string(), "i.tags_status"),
    ("embedding_status", pa.string(), "i.embedding_status"),
    ("tags", pa.list_(pa.string()),
     "ARRAY(SELECT t.label FROM image_tags t WHERE t.image_id = i.id ORDER BY t.score DESC, t.label)"),
]
for _k in range(COLORS):  # colours are stored largest coverage first
    _COLUMNS += [
        (f"color{_k + 1}_hex", pa.string(), f"i.colors->{_k}->>'hex'"),
        (f"color{_k + 1}_coverage", pa.float64(), f"(i.colors->{_k}->>'coverage')::float8"),
        (f"color{_k + 1}_name", pa.string(), f"i.colors->{_k}->>'name'"),
    ]

SCHEMA = pa.schema([(name, kind) for name, kind, _ in _COLUMNS])
CSV_SCHEMA = pa.schema([(f.name, pa.string()) if f.name == "tags" else f for f in SCHEMA])


def _where(status: str) -> tuple[str, dict]:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return ("WHERE i.status = %(status)s", {"status": status}) if status != "all" else ("", {})


def count(db: Database, status: str = "enriched") -> int:
    clause, params = _where(status)
    with db.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM images i {clause}", params)
        return int(cur.fetchone()["n"])


def batches(db: Database, status: str = "enriched", batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    clause, params = _where(status)
    sql = f"SELECT {', '.join(expr for _, _, expr in _COLUMNS)} FROM images i {clause} ORDER BY i.id"
    for rows in db.stream(sql, params, batch_rows):
        columns = list(zip(*rows))
        yield pa.RecordBatch.from_arrays([pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA)],
                                         schema=SCHEMA)


def read_table(db: Database, status: str = "enriched") -> pa.Table:
    """The whole export in memory, for a notebook reading PostgreSQL directly."""
    return pa.Table.from_batches(list(batches(db, status)), schema=SCHEMA)


def read_file(path: Path) -> pa.Table:
    """An exported file back, with the export's column types whichever the format (CSV tags
    split back into lists)."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.read_table(path, schema=SCHEMA)
    if path.suffix != ".csv":
        raise ValueError(f"not a .parquet or .csv export: {path}")
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
        column_types=CSV_SCHEMA, strings_can_be_null=True, include_columns=CSV_SCHEMA.names))
    tags = pc.fill_null(table.column("tags"), "")  # an image without tags wrote an empty field
    split = pc.if_else(pc.equal(tags, ""), pa.scalar([], pa.list_(pa.string())),
                       pc.split_pattern(tags, CSV_TAG_SEPARATOR))
    return table.set_column(table.schema.get_field_index("tags"), "tags", split).cast(SCHEMA)


def _for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    tags = [None if labels is None else CSV_TAG_SEPARATOR.join(labels) for labels in batch.column("tags").to_pylist()]
    arrays = [pa.array(tags, pa.string()) if f.name == "tags" else batch.column(f.name) for f in SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=CSV_SCHEMA)


def export(db: Database, path: Path, fmt: str, status: str = "enriched", batch_rows: int = BATCH_ROWS,
           progress: Callable[[int, int], None] | None = None) -> int:
    """Write the images (``status``: "enriched" or "all") to ``path``; returns the rows written.
    ``progress(done, total)`` is called after each batch (total is counted first, so it is an
    estimate while images keep arriving)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    total = count(db, status)
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    written = 0
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq
            writer = pq.ParquetWriter(partial, SCHEMA, compression="zstd")
        else:
            import pyarrow.csv as pcsv
            writer = pcsv.CSVWriter(partial, CSV_SCHEMA)
        with writer:
            for batch in batches(db, status, batch_rows):
                writer.write_batch(batch if fmt == "parquet" else _for_csv(batch))
                written += batch.num_rows
                if progress is not None:
                    progress(written, max(total, written))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return written
