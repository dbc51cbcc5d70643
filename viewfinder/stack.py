"""The embedded default stack: every server Viewfinder needs, on 127.0.0.1 and free ports.

A service whose address is already configured (VIEWFINDER_BROKER, _DATABASE_URL,
_S3_ENDPOINT, _QDRANT_URL) is used as it is and not started.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from connectors import kafka
from connectors.credentials import create_link, ensure_admin_key, server_secret
from connectors.ingest import Ingestor
from connectors.objectstore import open_store
from connectors.postgres import open_database
from connectors.vectors import open_index
from core.settings import Settings
from core.tokens import token_hash
from schemas.vectors import collection_vectors

from .embedded import broker, index, objectstore, postgres
from .embedded.process import ManagedProcess, ServiceFailed, free_port

log = logging.getLogger("viewfinder.stack")


def prepare(settings: Settings) -> None:
    """Idempotent set-up of every store: migrations, topics, bucket, collection."""
    db = open_database(settings, maxconn=1)
    try:
        db.migrate()
    finally:
        db.close()
    partitions = max(settings.topic_partitions, settings.workers)
    for topic, have in kafka.ensure_topics(settings.broker, partitions).items():
        # Each partition goes to one worker of the group: the rest wait as spares.
        log.warning(
            "topic %s has %d partition(s), fewer than the %d wanted (VIEWFINDER_WORKERS=%d): "
            "only %d worker(s) will share its work",
            topic,
            have,
            partitions,
            settings.workers,
            have,
        )
    open_store(settings).ensure_bucket()
    vectors = open_index(settings)
    try:
        vectors.ensure()
    finally:
        vectors.close()


def redrive(settings: Settings) -> int:
    """Re-publish arrivals of images whose enrichment never finished (see Ingestor.redrive)."""
    db, publisher = open_database(settings, maxconn=1), kafka.open_publisher(settings)
    try:
        return Ingestor(None, db, publisher, settings.max_upload_bytes, settings.max_pixels).redrive()
    finally:
        publisher.close()
        db.close()


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.processes: list[ManagedProcess] = []
        self.apps: list[ManagedProcess] = []  # of those, the worker, dashboard and gateway
        self.admin_key = ""

    def start(self, with_app: bool = True) -> Settings:
        s = self.settings
        data_dir = s.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        s = s.replace(data_dir=data_dir)
        try:
            self.settings = s = self._start_stores(s)
            prepare(s)
            if with_app:
                self.start_app()
        except BaseException:
            self.stop()
            raise
        return self.settings

    def _start_stores(self, s: Settings) -> Settings:
        """Every store whose address is not configured, started at once (each waits for its own
        readiness; one after the other they took twice as long); ``s`` with their addresses."""
        data_dir, host = s.data_dir, s.host
        starts: dict[str, Callable[[], tuple]] = {}
        if not s.broker:
            starts["broker"] = lambda: broker.start(data_dir, host)
        if not s.database_url:
            starts["database"] = lambda: postgres.start(data_dir, host)
        if not s.s3_endpoint:
            starts["s3"] = lambda: objectstore.start(data_dir, host)
        if not s.qdrant_url and not s.index_url:
            starts["index"] = lambda: index.start(data_dir, collection_vectors(s.clip_dim), host)
        with ThreadPoolExecutor(max(1, len(starts)), thread_name_prefix="start") as pool:
            futures = {name: pool.submit(start) for name, start in starts.items()}
        started, failures = {}, []
        for name, future in futures.items():
            try:
                started[name] = future.result()
                self.processes.append(started[name][0])  # stopped by stop(), whatever else failed
            except BaseException as exc:
                failures.append(exc)
        if failures:
            raise failures[0]
        if "broker" in started:
            s = s.replace(broker=started["broker"][1])
        if "database" in started:
            s = s.replace(database_url=started["database"][1])
        if "s3" in started:
            _, endpoint, access, secret = started["s3"]
            s = s.replace(s3_endpoint=endpoint, s3_access_key=access, s3_secret_key=secret, s3_secure=False)
        if "index" in started:
            s = s.replace(index_url=started["index"][1])
        return s

    def _child(self, name: str, command: str, log_name: str) -> ManagedProcess:
        env = {**self.settings.to_env(), "PYTHONUNBUFFERED": "1"}
        proc = ManagedProcess(
            name, [sys.executable, "-m", "viewfinder.cli", command], self.settings.data_dir / "logs" / log_name, env=env
        ).start()
        self.processes.append(proc)
        self.apps.append(proc)
        return proc

    def start_app(self) -> None:
        if not self.settings.dashboard_port:
            self.settings = self.settings.replace(dashboard_port=free_port(self.settings.host))
        db = open_database(self.settings, maxconn=1)
        try:
            self.admin_key = ensure_admin_key(db, self.settings)
        finally:
            db.close()
        self.start_worker()
        self.start_dashboard()
        self.start_gateway()
        redriven = redrive(self.settings)
        if redriven:
            log.warning("re-driving %d image(s) whose enrichment had not finished", redriven)

    def sign_in_link(self) -> str:
        """A one-time link that signs a browser in with the admin key (as Jupyter's token link)."""
        db = open_database(self.settings, maxconn=1)
        try:
            key = db.keys.find(token_hash(server_secret(self.settings), self.admin_key))
            if key is None:
                raise ServiceFailed("the admin key is not in the database")
            return f"{self.settings.gateway_url}/auth/link?token={create_link(db, self.settings, key['id'])}"
        finally:
            db.close()

    def start_gateway(self) -> ManagedProcess:
        gateway = self._child("gateway (aiohttp)", "api", "gateway.log")
        health = f"{self.settings.gateway_url}/api/v1/health"
        gateway.wait_until(lambda: httpx.get(health, timeout=5).status_code == 200, 60, "healthy")
        return gateway

    def start_dashboard(self) -> ManagedProcess:
        dashboard = self._child("dashboard (bokeh)", "dashboard", "dashboard.log")
        dashboard.wait_port(self.settings.host, self.settings.dashboard_port, timeout=60)
        return dashboard

    def start_worker(self) -> ManagedProcess:
        return self._child("enrichment worker (faust)", "worker", "worker.log")

    def failed(self) -> ManagedProcess | None:
        return next((p for p in self.processes if not p.alive()), None)

    def stop(self) -> None:
        # Two waves, each stopped at once: the app's processes (the worker commits its offsets
        # while the broker is still up), then the stores.
        apps = [p for p in self.processes if p in self.apps]
        for wave in (apps, [p for p in self.processes if p not in self.apps]):
            for proc in wave:
                proc.terminate()
            for proc in wave:
                proc.wait_stopped()
        self.processes.clear()
        self.apps.clear()


def wait_for_exit(stack: Stack, stop_requested) -> None:
    while not stop_requested():
        dead = stack.failed()
        if dead is not None:
            raise ServiceFailed(f"{dead.name} stopped unexpectedly (exit {dead.returncode}); log:\n{dead.tail()}")
        time.sleep(0.5)


def sample_images() -> list[Path]:
    """Real photos that ship inside installed wheels (scikit-learn)."""
    import sklearn

    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    return sorted(folder.glob("*.jpg"))
