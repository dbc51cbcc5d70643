"""The fault-injection suite: `viewfinder up --workers 2 --gateways 2` itself, as a user runs it
(its supervisor included), streamed images while one of its processes is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from connectors.postgres import Database
from tests.support import ARTIFACTS, TINY_CLIP_DIM, poll
from viewfinder.embedded.postgres import running_dsn
from viewfinder.embedded.process import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ARTIFACTS / "reliability.json"


@dataclass
class Up:
    """A running `viewfinder up`, its data dir, and a client carrying its admin key."""

    proc: subprocess.Popen
    data_dir: Path
    url: str
    client: httpx.Client
    db: Database
    results: list = field(default_factory=list)

    def children(self, of: int | None = None) -> dict[int, str]:
        """pid → command line of every process `up` started (they are its children), or ``of``'s."""
        parent = self.proc.pid if of is None else of
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == parent:
                    found[int(entry.name)] = (entry / "cmdline").read_text().replace("\0", " ")
            except (OSError, IndexError, ValueError):
                continue
        return found

    def pid_of(self, needle: str) -> int:
        matches = [pid for pid, cmd in self.children().items() if needle in cmd]
        assert matches, f"no child of `up` runs {needle!r}: {self.children()}"
        return matches[0]

    def supervised(self) -> dict:
        return json.loads((self.data_dir / "supervisor.json").read_text())

    def restarts(self) -> int:
        return sum(s["restarts"] for s in self.supervised().values())

    def healthy(self) -> bool:
        try:
            return self.client.get("/api/v1/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="session")
def up(tiny_detr, tiny_clip):
    data_dir = Path(tempfile.mkdtemp(prefix="viewfinder-faults-"))
    data_dir.chmod(0o755)
    port = free_port()
    env = {
        **os.environ,
        "VIEWFINDER_DATA_DIR": str(data_dir),
        "VIEWFINDER_PORT": str(port),
        "VIEWFINDER_DETR_MODEL": str(tiny_detr),
        "VIEWFINDER_DETR_THRESHOLD": "0",
        "VIEWFINDER_DETR_SIZE": "128",
        "VIEWFINDER_CLIP_MODEL": str(tiny_clip),
        "VIEWFINDER_CLIP_DIM": str(TINY_CLIP_DIM),
        "VIEWFINDER_BROKER_SESSION_TIMEOUT": "6",
        "VIEWFINDER_AUTH_FAILURES_PER_MINUTE": "10000",
        "VIEWFINDER_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(data_dir / "up.log", "w")  # noqa: SIM115 - the child writes it for the whole session
    proc = subprocess.Popen(
        [sys.executable, "-m", "viewfinder.cli", "up", "--workers", "2", "--gateways", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        poll(
            lambda: proc.poll() is not None or "Viewfinder is up." in (data_dir / "up.log").read_text(),
            180,
            what="`viewfinder up` to be up",
        )
        assert proc.poll() is None, (data_dir / "up.log").read_text()
        key = (data_dir / "admin.key").read_text().strip()
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        db = Database(running_dsn(data_dir), maxconn=2)
        running = Up(proc, data_dir, f"http://127.0.0.1:{port}", client, db)
        yield running
        db.close()
        client.close()
        children = running.children()
        # Ctrl-C: everything `up` started stops, and nothing is left behind.
        proc.send_signal(signal.SIGINT)
        assert proc.wait(90) == 0, (data_dir / "up.log").read_text()[-3000:]
        left = [pid for pid in children if _alive(pid)]
        assert left == [], {pid: children[pid] for pid in left}
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(running.results, indent=1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        if (data_dir / "logs").exists():
            shutil.copytree(data_dir / "logs", ARTIFACTS / "logs-faults", dirs_exist_ok=True)
        if (data_dir / "up.log").exists():
            shutil.copy(data_dir / "up.log", ARTIFACTS / "up-faults.log")
        shutil.rmtree(data_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for every purpose but its exit status
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False


def since(started: float) -> float:
    return round(time.monotonic() - started, 1)
