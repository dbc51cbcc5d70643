"""The collection as a file (Parquet or CSV): one row per image, for pandas and notebooks.

Rows travel from a server-side cursor in batches straight into a pyarrow writer, so a
large collection is never in memory whole. The file appears under its name only once it
is complete (written beside it, then renamed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from connectors.postgres import Database
from connectors.postgres.images import COLORS, EXPORT_COLUMNS

FORMATS = ("parquet", "csv")
BATCH_ROWS = 5000
CSV_TAG_SEPARATOR = "|"  # CSV has no lists: tags become "dog|person"

_UTC = pa.timestamp("us", tz="UTC")
_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "source": pa.string(),
    "filename": pa.string(),
    "content_type": pa.string(),
    "size_bytes": pa.int64(),
    "status": pa.string(),
    "error": pa.string(),
    "arrived_at": _UTC,
    "enriched_at": _UTC,
    "width": pa.int32(),
    "height": pa.int32(),
    "orientation": pa.string(),
    "make": pa.string(),
    "brand": pa.string(),
    "model": pa.string(),
    "taken_at": pa.timestamp("us"),  # camera local time, no zone (EXIF has none)
    "iso": pa.int32(),
    "latitude": pa.float64(),
    "longitude": pa.float64(),
    "altitude": pa.float64(),
    "country": pa.string(),
    "tags_status": pa.string(),
    "embedding_status": pa.string(),
    "tags": pa.list_(pa.string()),
    **{
        f"color{k + 1}_{part}": kind
        for k in range(COLORS)
        for part, kind in (("hex", pa.string()), ("coverage", pa.float64()), ("name", pa.string()))
    },
}
# In the column order of the query (connectors.postgres.images.EXPORT_COLUMNS).
SCHEMA = pa.schema([(name, _TYPES[name]) for name in EXPORT_COLUMNS])
CSV_SCHEMA = pa.schema([(f.name, pa.string()) if f.name == "tags" else f for f in SCHEMA])


def count(db: Database, status: str = "enriched") -> int:
    return db.images.export_count(status)


def batches(db: Database, status: str = "enriched", batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    for rows in db.images.export_rows(status, batch_rows):
        columns = list(zip(*rows))
        yield pa.RecordBatch.from_arrays(
            [pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA)], schema=SCHEMA
        )


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

    table = pcsv.read_csv(
        path,
        convert_options=pcsv.ConvertOptions(
            column_types=CSV_SCHEMA, strings_can_be_null=True, include_columns=CSV_SCHEMA.names
        ),
    )
    tags = pc.fill_null(table.column("tags"), "")  # an image without tags wrote an empty field
    split = pc.if_else(
        pc.equal(tags, ""), pa.scalar([], pa.list_(pa.string())), pc.split_pattern(tags, CSV_TAG_SEPARATOR)
    )
    return table.set_column(table.schema.get_field_index("tags"), "tags", split).cast(SCHEMA)


def _for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    tags = [None if labels is None else CSV_TAG_SEPARATOR.join(labels) for labels in batch.column("tags").to_pylist()]
    arrays = [pa.array(tags, pa.string()) if f.name == "tags" else batch.column(f.name) for f in SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=CSV_SCHEMA)


def export(
    db: Database,
    path: Path,
    fmt: str,
    status: str = "enriched",
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> int:
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
