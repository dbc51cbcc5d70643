"""A private PostgreSQL cluster from the machine's server binaries (Debian's postgresql package).

PostgreSQL refuses to run as root, so under root the cluster belongs to the
`postgres` system user the Debian package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg2

from .process import ManagedProcess, ServiceFailed, free_port

DATABASE = "viewfinder"
SUPERUSER = "viewfinder"


def bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServiceFailed("PostgreSQL server binaries not found: install Debian's `postgresql` package "
                        "(scripts/bootstrap does) or set VIEWFINDER_DATABASE_URL")


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceFailed("running as root needs the `postgres` system user (Debian's postgresql package)") from None
    return "postgres"


def _check_reachable(path: Path, user: str) -> None:
    for parent in [path, *path.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001) and parent.owner() != user:
            raise ServiceFailed(f"{parent} is not traversable by the `{user}` user that runs PostgreSQL; "
                                f"choose a VIEWFINDER_DATA_DIR outside it or `chmod o+x {parent}`")


def start(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> tuple[ManagedProcess, str]:
    root = (data_dir / "postgres").resolve()
    cluster, pwfile = root / "cluster", root / "password"
    user = _run_as()
    root.mkdir(parents=True, exist_ok=True)
    if user:
        _check_reachable(root, user)
        shutil.chown(root, user, user)
    if not (cluster / "PG_VERSION").exists():
        pwfile.write_text(secrets.token_urlsafe(24))
        pwfile.chmod(0o600)
        if user:
            shutil.chown(pwfile, user, user)
        subprocess.run(
            [str(bindir() / "initdb"), "-D", str(cluster), "-U", SUPERUSER, "--pwfile", str(pwfile),
             "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, user=user, group=user,
        )
    password = pwfile.read_text().strip()
    port = port or free_port(host)
    proc = ManagedProcess(
        "postgresql",
        [str(bindir() / "postgres"), "-D", str(cluster), "-p", str(port), "-c", f"listen_addresses={host}",
         "-c", "unix_socket_directories=", "-c", "fsync=on", "-c", "max_connections=200"],
        data_dir / "logs" / "postgres.log", user=user,
    ).start()
    admin = f"host={host} port={port} user={SUPERUSER} password={password} dbname=postgres"
    proc.wait_until(lambda: psycopg2.connect(admin, connect_timeout=2).close() is None, 30, "accepting connections")
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    return proc, f"postgresql://{SUPERUSER}:{password}@{host}:{port}/{DATABASE}"


def running_dsn(data_dir: Path, host: str = "127.0.0.1") -> str | None:
    """The DSN of the embedded cluster `viewfinder up` runs in ``data_dir``, if it is running
    (its postmaster.pid names the port); None otherwise."""
    root = (data_dir / "postgres").resolve()
    try:
        port = int((root / "cluster" / "postmaster.pid").read_text().splitlines()[3])
        password = (root / "password").read_text().strip()
    except (OSError, IndexError, ValueError):
        return None
    return f"postgresql://{SUPERUSER}:{password}@{host}:{port}/{DATABASE}"
