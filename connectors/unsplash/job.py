"""A dataset run: the dataset's metadata into PostgreSQL, then its photos through the
ingestor, with progress a person can follow; `DatasetRun` keeps one at a time. The dataset and
its photos come only from where `Sources` allows (sources.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

from connectors.postgres.unsplash import TARGETS
from core.images import BadImage

from . import dataset
from .download import Fetcher, FetchFailed, checked_get, checked_session, sized
from .sources import SourceRefused, Sources

log = logging.getLogger("viewfinder.gather")
SWAPPED_BEFORE = (1, 3, 0)  # datasets older than 1.3.0 swapped latitude and longitude


@dataclass
class Progress:
    dataset: str
    phase: str = "starting"  # starting → metadata → downloading → done | failed
    total: int = 0  # photos this run is responsible for
    already_stored: int = 0  # of those, stored by an earlier run
    stored: int = 0
    failed: int = 0
    retries: int = 0
    bytes: int = 0
    error: str | None = None
    tables: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    downloading_since: float | None = None
    finished: float | None = None

    @property
    def done(self) -> int:
        return self.already_stored + self.stored + self.failed

    def snapshot(self) -> dict:
        out = asdict(self)
        now = self.finished or time.time()
        elapsed = now - (self.downloading_since or now)
        rate = self.stored / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self.total - self.done)
        out.update(
            done=self.done,
            remaining=remaining,
            rate_per_s=round(rate, 2),
            eta_s=round(remaining / rate, 1) if rate > 0 and remaining else (0.0 if not remaining else None),
            elapsed_s=round(now - self.started, 1),
        )
        return out


async def fetch_dataset(location: str, workdir: Path, sources: Sources) -> Path:
    """A folder as it is, or the URL of the dataset's zip, downloaded and unpacked once; only
    where ``sources`` allows (SourceRefused before any request otherwise)."""
    source = sources.dataset(location)
    if isinstance(source, Path):
        if not source.is_dir():
            raise dataset.DatasetError(f"{location}: no such folder")
        return source
    name = Path(source.path).stem
    if not name or name.startswith("."):
        name = "dataset"
    target = workdir / name
    if (target / ".complete").exists():
        return _content_root(target)
    workdir.mkdir(parents=True, exist_ok=True)
    archive = workdir / f"{name}.zip.part"
    rules = sources.dataset_hosts
    timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
    try:
        async with checked_session(rules) as session, checked_get(session, source, rules, timeout) as response:
            if response.status != 200:
                raise dataset.DatasetError(f"{location}: HTTP {response.status}")
            with open(archive, "wb") as out:
                async for chunk in response.content.iter_chunked(1 << 20):
                    out.write(chunk)
    except FetchFailed as exc:  # too many redirects
        raise dataset.DatasetError(f"{location}: {exc}") from None

    def unpack():
        shutil.rmtree(target, ignore_errors=True)
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        except zipfile.BadZipFile:
            raise dataset.DatasetError(f"{location}: not a zip archive") from None
        finally:
            archive.unlink(missing_ok=True)
        (target / ".complete").touch()

    await asyncio.to_thread(unpack)
    return _content_root(target)


def _content_root(folder: Path) -> Path:
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def load_metadata(
    db, folder: Path, version: tuple[int, ...] | None = None
) -> tuple[dict[str, dataset.Report], list[str]]:
    """All five tables (the four beside photos when present), and the dataset's photo ids.
    Coordinates are swapped back for datasets older than 1.3.0."""
    version = version or dataset.dataset_version(folder)
    swapped = version is not None and version < SWAPPED_BEFORE
    reports, photo_ids = {}, []

    def photos(rows):
        for row in rows:
            photo_ids.append(row["photo_id"])
            yield dataset.fix_coordinates(row, swapped)

    for name in TARGETS:
        if name != "photos" and not dataset.parts(folder, name):
            continue
        report = reports[name] = dataset.Report(name)
        rows = dataset.read(folder, name, report)
        report.inserted = db.unsplash.copy(name, photos(rows) if name == "photos" else rows)
    return reports, photo_ids


class GatherJob:
    def __init__(
        self,
        db,
        ingestor,
        workdir: Path,
        location: str,
        limit: int | None = None,
        width: int = 1080,
        concurrency: int = 16,
        fetcher_options: dict | None = None,
        on_metadata=None,
        sources: Sources | None = None,
    ):
        self.db, self.ingestor, self.workdir = db, ingestor, workdir
        self.sources = sources if sources is not None else Sources()  # by default, nothing is allowed
        self.location, self.limit, self.width, self.concurrency = location, limit, width, concurrency
        self.fetcher_options = fetcher_options or {}
        self.on_metadata = on_metadata  # awaited once the dataset's metadata is in PostgreSQL
        self.progress = Progress(dataset=location)

    async def run(self) -> Progress:
        p = self.progress
        try:
            folder = await fetch_dataset(self.location, self.workdir, self.sources)
            p.phase = "metadata"
            reports, photo_ids = await asyncio.to_thread(load_metadata, self.db, folder)
            p.tables = {name: r.as_dict() for name, r in reports.items()}
            if self.on_metadata is not None:
                await self.on_metadata()
            # A run killed between storing a photo and flushing its event left it 'arrived'.
            await asyncio.to_thread(self.ingestor.redrive)
            pending, p.already_stored = await asyncio.to_thread(self.db.unsplash.photos_to_fetch, photo_ids, self.limit)
            p.total = len(pending) + p.already_stored
            p.phase, p.downloading_since = "downloading", time.time()
            async with checked_session(self.sources.image_hosts) as session:
                await self._download(session, pending)
            p.phase = "done"
        except (dataset.DatasetError, SourceRefused) as exc:
            p.phase, p.error = "failed", str(exc)
        except Exception as exc:
            log.exception("gathering %s failed", self.location)
            p.phase, p.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            p.finished = time.time()
            await asyncio.to_thread(self.ingestor.publisher.flush)
        return p

    async def _download(self, session, pending: list[dict]) -> None:
        options = {"max_bytes": self.ingestor.max_bytes, **self.fetcher_options}
        fetcher = Fetcher(session, hosts=self.sources.image_hosts, **options)
        queue: asyncio.Queue = asyncio.Queue()
        for row in pending:
            queue.put_nowait(row)

        async def worker():
            while not queue.empty():
                row = queue.get_nowait()
                await self._one(fetcher, row)
                self.progress.retries = fetcher.retries

        await asyncio.gather(*(worker() for _ in range(max(1, self.concurrency))))

    async def _one(self, fetcher: Fetcher, row: dict) -> None:
        photo_id = row["photo_id"]
        reason: str | None = None
        try:
            data = await fetcher.get(sized(row["photo_image_url"], self.width))
            await asyncio.to_thread(
                self.ingestor.accept,
                data,
                f"{photo_id}.jpg",
                "unsplash",
                lambda image_id: self.db.unsplash.mark_stored(photo_id, image_id),
            )
        except (FetchFailed, BadImage) as exc:
            reason = str(exc)
        except SourceRefused as exc:  # never fetched: the reason names the rule
            reason = f"refused: {exc}"
        except Exception as exc:  # one photo's trouble never stops the run
            log.warning("photo %s: %s", photo_id, exc)
            reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            await asyncio.to_thread(self.db.unsplash.mark_failed, photo_id, reason)
            self.progress.failed += 1
            return
        self.progress.stored += 1
        self.progress.bytes += len(data)


class RunInProgress(RuntimeError):
    def __init__(self, progress: dict):
        super().__init__("a gathering run is in progress")
        self.progress = progress


class DatasetRun:
    """A gateway process's handle on dataset runs: start one, ask how the latest goes (whichever
    process runs it: the progress lives in PostgreSQL), cancel this process's own. One run at a
    time across every process. A cancelled or crashed run loses nothing: a re-run skips what is
    stored."""

    SAVE_EVERY_S = 1.0

    def __init__(self, db, ingestor, workdir: Path, on_metadata=None, sources: Sources | None = None):
        self.db, self.ingestor, self.workdir, self.on_metadata = db, ingestor, workdir, on_metadata
        self.sources = sources if sources is not None else Sources()  # by default, nothing is allowed
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def start(self, location: str, limit: int | None = None, width: int = 1080, concurrency: int = 16) -> dict:
        """Start a run and return its first progress snapshot; SourceRefused (a ValueError naming
        the rule) if ``location`` is not allowed, RunInProgress while one runs anywhere."""
        self.sources.dataset(location)  # refused here, before a run starts, so the gateway can say 400
        lease = await asyncio.to_thread(self.db.runs.claim)
        if lease is None:
            latest = await asyncio.to_thread(self.status)
            raise RunInProgress(latest or {})
        try:
            job = GatherJob(
                self.db,
                self.ingestor,
                self.workdir,
                location,
                limit=limit,
                width=width,
                concurrency=concurrency,
                on_metadata=self.on_metadata,
                sources=self.sources,
            )
            run_id = await asyncio.to_thread(self.db.runs.begin, location, self.holder, job.progress.snapshot())
        except BaseException:
            lease.release()
            raise
        self.task = asyncio.create_task(self._run(job, run_id, lease))
        return {**job.progress.snapshot(), "holder": self.holder}

    async def _run(self, job: GatherJob, run_id: int, lease) -> None:
        async def save_while_running():
            while True:
                await asyncio.sleep(self.SAVE_EVERY_S)
                await asyncio.to_thread(self.db.runs.save, run_id, job.progress.snapshot())

        saver = asyncio.create_task(save_while_running())
        try:
            await job.run()
        finally:
            saver.cancel()
            if job.progress.phase not in ("done", "failed"):  # cancelled: this process is stopping
                job.progress.phase, job.progress.error = "interrupted", "the gateway stopped; start it again"
            try:
                await asyncio.shield(asyncio.to_thread(self.db.runs.save, run_id, job.progress.snapshot()))
            finally:
                await asyncio.to_thread(lease.release)

    def status(self) -> dict | None:
        """The latest run's progress, whichever process runs it (None before the first)."""
        return self.db.runs.latest()

    async def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
