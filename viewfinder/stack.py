"""The embedded default stack: every server Viewfinder needs, on 127.0.0.1 and free ports.

A service whose address is already configured (VIEWFINDER_BROKER, _DATABASE_URL,
_S3_ENDPOINT, _QDRANT_URL) is used as it is and not started.
"""

from __future__ import annotations

import collections
import json
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
    prepare_topics(settings)
    open_store(settings).ensure_bucket()
    vectors = open_index(settings)
    try:
        vectors.ensure()
    finally:
        vectors.close()


def prepare_topics(settings: Settings) -> None:
    """Every topic, with a partition for each worker at least (or a warning saying how many short)."""
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
        for _ in range(self.settings.workers):
            self.start_worker()
        self.start_dashboard()
        for _ in range(self.settings.gateways):
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
        """One more gateway process on the one port (SO_REUSEPORT): ready once it answers health."""
        n = sum(p.name.startswith("gateway") for p in self.apps) + 1
        gateway = self._child(f"gateway {n} (aiohttp)", "api", f"gateway-{n}.log")
        health = f"{self.settings.gateway_url}/api/v1/health"

        def answers() -> bool:
            # The kernel spreads connections over the processes on the port: ask until this one answers.
            with httpx.Client(timeout=5) as client:
                return any(
                    client.get(health, headers={"Connection": "close"}).json().get("process") == gateway.pid
                    for _ in range(8)
                )

        gateway.wait_until(answers, 60, "answering health on the port")
        return gateway

    def start_dashboard(self) -> ManagedProcess:
        dashboard = self._child("dashboard (bokeh)", "dashboard", "dashboard.log")
        dashboard.wait_port(self.settings.host, self.settings.dashboard_port, timeout=60)
        return dashboard

    def start_worker(self) -> ManagedProcess:
        n = sum(p.name.startswith("enrichment worker") for p in self.apps) + 1
        return self._child(f"enrichment worker {n} (faust)", "worker", f"worker-{n}.log")

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


class Supervisor:
    """Keeps a stack running: a child that dies is restarted (the same command, port and data)
    after a capped backoff, and said why; a broker that comes back empty gets its topics and the
    unfinished images again. One that dies GIVE_UP times within WINDOW_S stops it all."""

    GIVE_UP, WINDOW_S = 5, 120.0
    FIRST_DELAY_S, MAX_DELAY_S = 1.0, 30.0

    def __init__(self, stack: Stack):
        self.stack = stack
        self.failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.restarts: collections.Counter = collections.Counter()
        self.reasons: dict[str, str] = {}
        self.due: dict[ManagedProcess, float] = {}
        self.report()

    def tick(self) -> None:
        now = time.monotonic()
        for proc in list(self.stack.processes):
            if proc.alive() or proc in self.due:
                continue
            failures = self.failures[proc.name]
            failures.append(now)
            while failures and now - failures[0] > self.WINDOW_S:
                failures.popleft()
            if len(failures) >= self.GIVE_UP:
                raise ServiceFailed(
                    f"{proc.name} stopped {len(failures)} times within {self.WINDOW_S:.0f} s (last exit "
                    f"{proc.returncode}); giving up. Its log:\n{proc.tail()}"
                )
            delay = min(self.MAX_DELAY_S, self.FIRST_DELAY_S * 2 ** (len(failures) - 1))
            self.reasons[proc.name] = f"exit {proc.returncode}"
            log.error(
                "%s stopped (exit %s); restarting it in %.0f s. Its log:\n%s",
                proc.name,
                proc.returncode,
                delay,
                proc.tail(),
            )
            self.due[proc] = now + delay
        for proc, when in list(self.due.items()):
            if now >= when:
                del self.due[proc]
                self.restart(proc)

    def restart(self, proc: ManagedProcess) -> None:
        try:
            proc.restart()
        except ServiceFailed as exc:  # it died again while starting: the next tick counts it
            log.error("%s did not come back: %s", proc.name, exc)
            return
        self.restarts[proc.name] += 1
        log.warning("%s restarted (%d restart(s) so far)", proc.name, self.restarts[proc.name])
        if proc.name.startswith("kafka broker"):
            # The embedded broker keeps its log in memory: it is back empty. The workers would seek
            # to offsets of the old log (far past the new one's end), so they start afresh too,
            # and the unfinished images are announced again. Stopping, they commit their old
            # offsets to the new broker: those are forgotten before any starts again.
            settings = self.stack.settings
            prepare_topics(settings)
            workers = [p for p in self.stack.apps if p.name.startswith("enrichment worker")]
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait_stopped()
            kafka.forget_group(settings.broker, settings.consumer_group)
            for worker in workers:
                worker.restart()
                self.restarts[worker.name] += 1
                self.reasons[worker.name] = "the broker restarted empty"
            log.warning("re-driving %d unfinished image(s) after the broker's restart", redrive(settings))
        self.report()

    def report(self) -> None:
        """Restarts per service, for the gateway's health and the status page."""
        status = {
            p.name: {"restarts": self.restarts[p.name], "last_failure": self.reasons.get(p.name)}
            for p in self.stack.processes
        }
        path = Path(self.stack.settings.data_dir) / "supervisor.json"
        partial = path.with_name(".supervisor.json.partial")
        partial.write_text(json.dumps(status, indent=1))
        partial.replace(path)

    def run(self, stop_requested, interval: float = 0.5) -> None:
        while not stop_requested():
            self.tick()
            time.sleep(interval)


def sample_images() -> list[Path]:
    """Real photos that ship inside installed wheels (scikit-learn)."""
    import sklearn

    folder = Path(sklearn.__file__).parent / "datasets" / "images"
    return sorted(folder.glob("*.jpg"))
