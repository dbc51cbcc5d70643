"""A private PostgreSQL cluster from the machine's server binaries (Debian's postgresql package).

PostgreSQL refuses to run as root, so under root the cluster belongs to the
`postgres` system user the Debian package creates. The cluster lives in
``<data_dir>/postgres`` when that user can reach it; when it cannot (a clone in root's
private /root), in a folder of its own under that user's home, recorded in the data dir.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import stat
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
    raise ServiceFailed(
        "PostgreSQL server binaries not found: install Debian's `postgresql` package "
        "(scripts/bootstrap does) or set VIEWFINDER_DATABASE_URL"
    )


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceFailed("running as root needs the `postgres` system user (Debian's postgresql package)") from None
    return "postgres"


def _reachable(path: Path, user: str) -> bool:
    # Asked of the kernel as `user` (groups dropped, as the server runs): mode bits, ACLs and
    # every folder above count.
    return (
        subprocess.run(
            ["test", "-x", str(path)], cwd="/", user=user, group=user, extra_groups=[], stdin=subprocess.DEVNULL
        ).returncode
        == 0
    )


def _base(user: str) -> Path:
    """A folder `user` can reach, for clusters whose data dir it cannot: its home (Debian's
    /var/lib/postgresql), else a root-owned 0711 folder of ours."""
    home = Path(pwd.getpwnam(user).pw_dir)
    if home.is_dir() and _reachable(home, user):
        return home
    for base in (Path("/var/lib/viewfinder-postgres"), Path("/tmp/viewfinder-postgres")):
        try:
            base.mkdir(mode=0o711, exist_ok=True)
            st = base.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_uid == 0:  # not a link or a folder planted in /tmp
                base.chmod(0o711)
                if _reachable(base, user):
                    return base
        except OSError:
            continue
    raise ServiceFailed(f"no folder the `{user}` user can reach to keep the PostgreSQL cluster in")


def _folder_name(data_dir: Path) -> str:
    # The hash of the path keeps side-by-side data dirs apart; the hint says whose it is in a listing.
    hint = re.sub(r"[^A-Za-z0-9]+", "-", f"{data_dir.parent.name}-{data_dir.name}").strip("-")[-40:]
    return f"viewfinder-{hint}-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]}"


def _recorded(data_dir: Path) -> Path | None:
    """The folder outside ``data_dir`` its cluster lives in, if one is recorded for this very path
    (a record copied along with a data dir names another path's folder)."""
    try:
        home = Path((data_dir / "postgres" / "location").read_text().strip())
    except OSError:
        return None
    return home if home.is_absolute() and home.name == _folder_name(data_dir) else None


def _outside(data_dir: Path, user: str) -> Path:
    inside = data_dir / "postgres"
    home = _recorded(data_dir)
    if home is None:
        home = _base(user) / _folder_name(data_dir)
        # No record, yet a folder for this path: it was left by a data dir since deleted and made
        # again here, and belongs with objects and files that are gone. Its rows would point at
        # them, so it goes, and the new data dir gets a fresh cluster. (The password lives beside
        # its cluster, never in the data dir, so the two cannot disagree.)
        if home.exists():
            shutil.rmtree(home)
    if not home.exists():
        home.mkdir(mode=0o700)
        shutil.chown(home, user, user)
    if (inside / "cluster" / "PG_VERSION").exists():  # made while `user` could reach the data dir
        try:
            for name in ("cluster", "password"):
                os.rename(inside / name, home / name)
        except OSError as exc:
            raise ServiceFailed(
                f"cannot move the PostgreSQL cluster in {inside}, which the `{user}` user "
                f"can no longer reach, to {home}: {exc}"
            ) from None
    (inside / "location").write_text(f"{home}\n")
    return home


def _home(data_dir: Path, user: str | None) -> Path:
    """The folder of the cluster and its password: ``data_dir/postgres`` when `user` can reach it,
    else a folder of `user`'s, so that nobody has to move a clone or loosen permissions."""
    inside = data_dir / "postgres"
    inside.mkdir(parents=True, exist_ok=True)
    if not user:
        return inside
    if _recorded(data_dir) is None and _reachable(data_dir, user):
        shutil.chown(inside, user, user)
        return inside
    return _outside(data_dir, user)


def cluster_home(data_dir: Path) -> Path:
    """Where the cluster of ``data_dir`` lives (``cluster/``, ``password``): recorded outside it, or
    its ``postgres`` folder."""
    data_dir = data_dir.resolve()
    return _recorded(data_dir) or data_dir / "postgres"


def remove(data_dir: Path) -> None:
    """Delete the (stopped) cluster of ``data_dir``, wherever it lives; the rest of the data dir stays."""
    shutil.rmtree(cluster_home(data_dir), ignore_errors=True)
    shutil.rmtree(data_dir.resolve() / "postgres", ignore_errors=True)


def start(data_dir: Path, host: str = "127.0.0.1", port: int | None = None) -> tuple[ManagedProcess, str]:
    data_dir = data_dir.resolve()
    user = _run_as()
    root = _home(data_dir, user)
    cluster, pwfile = root / "cluster", root / "password"
    if not (cluster / "PG_VERSION").exists():
        pwfile.write_text(secrets.token_urlsafe(24))
        pwfile.chmod(0o600)
        if user:
            shutil.chown(pwfile, user, user)
        subprocess.run(
            [
                str(bindir() / "initdb"),
                "-D",
                str(cluster),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            # cwd "/": the caller's (a clone in /root) may be closed to `user`.
            check=True,
            capture_output=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd="/",
        )
    password = pwfile.read_text().strip()
    port = port or free_port(host)
    proc = ManagedProcess(
        "postgresql",
        [
            str(bindir() / "postgres"),
            "-D",
            str(cluster),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={host}",
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=on",
            "-c",
            "max_connections=200",
        ],
        data_dir / "logs" / "postgres.log",
        user=user,
        cwd=Path("/"),
        # SIGINT is PostgreSQL's fast shutdown: clients are disconnected, not waited for.
        stop_signal=signal.SIGINT,
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
    root = cluster_home(data_dir)
    try:
        port = int((root / "cluster" / "postmaster.pid").read_text().splitlines()[3])
        password = (root / "password").read_text().strip()
    except (OSError, IndexError, ValueError):
        return None
    return f"postgresql://{SUPERUSER}:{password}@{host}:{port}/{DATABASE}"
