"""Child-process plumbing shared by the embedded servers."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ServiceFailed(RuntimeError):
    pass


class ManagedProcess:
    """One server process with its own log file, stopped with SIGTERM then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict | None = None,
        user: str | None = None,
        cwd: Path | None = None,
        stop_timeout: float = 10,
        stop_signal: int = signal.SIGTERM,
        killed_as_usual: bool = False,
    ):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.stop_timeout, self.stop_signal = stop_timeout, stop_signal
        self.killed_as_usual = killed_as_usual  # a server that never stops on a signal: its kill is no news
        self.env, self.user, self.cwd = env, user, cwd
        self.proc: subprocess.Popen | None = None
        self._ready: tuple | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict = {}
        if self.user:
            kwargs.update(user=self.user, group=self.user, extra_groups=[])
        # The child keeps its own copy of the descriptor; ours closes with the block.
        with open(self.log_path, "ab") as logfile:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,
                **kwargs,
            )
        log.info("started %s (pid %s)", self.name, self.proc.pid)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def restart(self) -> ManagedProcess:
        """The same command again, waited for as it was the first time (the same port, data, checks)."""
        self.start()
        if self._ready is not None:
            self.wait_until(*self._ready)
        return self

    def wait_until(self, ready, timeout: float, what: str) -> None:
        self._ready = (ready, timeout, what)  # a restart waits the same way
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceFailed(f"{self.name} exited with {self.returncode}; last log lines:\n{self.tail()}")
            try:
                if ready():
                    return
            except Exception:  # not ready yet
                pass
            time.sleep(0.1)
        raise ServiceFailed(f"{self.name} did not become ready ({what}) within {timeout:.0f}s; log:\n{self.tail()}")

    def wait_port(self, host: str, port: int, timeout: float = 30) -> None:
        self.wait_until(lambda: port_open(host, port), timeout, f"port {port}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        """Ask it to stop (its stop signal to its process group); `wait_stopped` sees it through."""
        if self.proc is not None and self.alive():
            try:
                os.killpg(self.proc.pid, self.stop_signal)
            except ProcessLookupError:
                pass

    def wait_stopped(self) -> None:
        """Wait up to its stop timeout since asked, then kill it."""
        if self.proc is None:
            return
        try:
            self.proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            level = logging.INFO if self.killed_as_usual else logging.WARNING
            log.log(level, "%s did not stop in %ss; killing it", self.name, self.stop_timeout)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
