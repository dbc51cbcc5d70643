"""Gathering speed: photos per second through the real download path (HTTP fetch, S3, PostgreSQL,
Kafka) from a local image server with a fixed per-request delay, concurrent (Viewfinder's
default) against one at a time (the original system's way), in the same run.

    .venv/bin/python -m bench.gather [--photos 200] [--delay 0.1] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from connectors import kafka
from connectors.ingest import Ingestor
from connectors.objectstore import open_store
from connectors.postgres import open_database
from connectors.unsplash.job import GatherJob
from connectors.unsplash.sources import Sources
from core.settings import Settings
from tests.support.dataset import ImageServer, write_dataset
from viewfinder.stack import Stack


def run(settings: Settings, server: ImageServer, tag: str, photos: int, concurrency: int, workdir: Path) -> float:
    folder = write_dataset(workdir / tag, [(f"{tag}{n:05d}", server.url("ok", n)) for n in range(photos)])
    db, publisher = open_database(settings), kafka.open_publisher(settings)
    ingestor = Ingestor(open_store(settings), db, publisher, settings.max_upload_bytes, settings.max_pixels)
    # Datasets from the bench's own folder, photos from its image server on 127.0.0.1 only.
    sources = Sources.from_settings(settings.replace(dataset_dirs=str(workdir), image_hosts=server.address))
    job = GatherJob(db, ingestor, workdir, str(folder), concurrency=concurrency, sources=sources)
    started = time.perf_counter()
    progress = asyncio.run(job.run())
    elapsed = time.perf_counter() - started
    publisher.close()
    db.close()
    assert progress.phase == "done" and progress.stored == photos, progress.snapshot()
    return photos / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.1, help="server latency per request, seconds")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-bench-"))
    workdir.chmod(0o755)
    stack = Stack(Settings.from_env({}).replace(data_dir=workdir / "stack"))
    settings = stack.start(with_app=False)
    try:
        with ImageServer(delay=args.delay) as server:
            # Different photos in each run, so neither finds the other's work done.
            serial = run(settings, server, "serial", args.photos // 4, 1, workdir)
            parallel = run(settings, server, "parallel", args.photos, args.concurrency, workdir)
    finally:
        stack.stop()
    print(f"one at a time:       {serial:7.1f} photos/s")
    print(f"concurrency {args.concurrency:<3}:     {parallel:7.1f} photos/s")
    print(
        f"ratio:               {parallel / serial:7.1f}x  "
        f"({args.photos} photos, {args.delay * 1000:.0f} ms per request)"
    )


if __name__ == "__main__":
    main()
