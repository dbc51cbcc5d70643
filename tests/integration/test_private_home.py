"""The embedded PostgreSQL under root, whether or not the `postgres` user it runs as can reach
the data dir: a clone in root's private /root (0700) must work as it is."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest

from viewfinder.embedded import postgres


def _postgres_user() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root: PostgreSQL runs as the `postgres` user only under root"),
    pytest.mark.skipif(not _postgres_user(), reason="no `postgres` system user (Debian's postgresql package)"),
]


@pytest.fixture
def parent(request):
    path = Path(tempfile.mkdtemp(prefix="viewfinder-pghome-"))
    path.chmod(request.param)
    homes = []  # clusters outside the parent, removed even when a test fails before it does
    yield path, homes
    for home in homes:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def make_data_dir(path: Path) -> Path:
    path.mkdir()
    path.chmod(0o755)  # not the umask's say: only the parent decides what `postgres` can reach here
    return path


def query(dsn: str, sql: str):
    conn = psycopg2.connect(dsn, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()  # a smart shutdown (SIGTERM) waits for open sessions


def started(data_dir: Path, homes: list):
    try:
        return postgres.start(data_dir, "127.0.0.1")
    finally:
        homes.append(postgres.cluster_home(data_dir))


def check_home(data_dir: Path, outside: bool) -> Path:
    home = postgres.cluster_home(data_dir)
    assert (home / "cluster" / "PG_VERSION").is_file()
    if outside:
        assert not home.is_relative_to(data_dir.parent.resolve()), home
        assert home.owner() == "postgres" and home.stat().st_mode & 0o777 == 0o700
    else:
        assert home == data_dir.resolve() / "postgres"
    password = home / "password"
    assert password.owner() == "postgres" and password.stat().st_mode & 0o777 == 0o600
    return home


@pytest.mark.parametrize("parent", [0o700, 0o755], indirect=True, ids=["private-parent", "open-parent"])
def test_cluster_starts_persists_and_is_found(parent):
    path, homes = parent
    outside = path.stat().st_mode & 0o777 == 0o700
    data_dir = make_data_dir(path / "data")

    proc, dsn = started(data_dir, homes)
    try:
        home = check_home(data_dir, outside)
        query(dsn, "CREATE TABLE kept (word text); INSERT INTO kept VALUES ('persisted')")
        assert query(dsn, "SELECT word FROM kept") == [("persisted",)]
        assert postgres.running_dsn(data_dir) == dsn
        assert query(postgres.running_dsn(data_dir), "SELECT count(*) FROM kept") == [(1,)]
        # Written by the server through the file handle its parent opened, wherever the cluster is.
        assert "ready to accept connections" in (data_dir / "logs" / "postgres.log").read_text()
    finally:
        proc.stop()
    assert postgres.running_dsn(data_dir) is None

    proc, again = started(data_dir, homes)
    try:
        assert postgres.cluster_home(data_dir) == home
        assert again.split("@")[0] == dsn.split("@")[0]  # same password
        assert query(again, "SELECT word FROM kept") == [("persisted",)]
    finally:
        proc.stop()

    # Deleted and made again at the same path: a fresh cluster, not the old one's rows.
    shutil.rmtree(data_dir)
    make_data_dir(data_dir)
    proc, fresh = started(data_dir, homes)
    try:
        assert check_home(data_dir, outside) == home
        assert fresh.split("@")[0] != dsn.split("@")[0]  # a new password
        assert query(fresh, "SELECT to_regclass('kept') IS NULL") == [(True,)]
    finally:
        proc.stop()

    postgres.remove(data_dir)
    assert not home.exists() and not (data_dir / "postgres").exists()
    assert data_dir.is_dir()  # the rest of the data dir is the caller's


@pytest.mark.parametrize("parent", [0o700], indirect=True, ids=["private-parent"])
def test_side_by_side_data_dirs_have_their_own_clusters(parent):
    path, homes = parent
    first, second = make_data_dir(path / "one"), make_data_dir(path / "two")
    proc1, dsn1 = started(first, homes)
    try:
        proc2, dsn2 = started(second, homes)
        try:
            homes = {check_home(first, True), check_home(second, True)}
            assert len(homes) == 2
            query(dsn1, "CREATE TABLE only_in_one (x int)")
            assert query(dsn2, "SELECT to_regclass('only_in_one') IS NULL") == [(True,)]
            assert postgres.running_dsn(first) == dsn1 and postgres.running_dsn(second) == dsn2
        finally:
            proc2.stop()
    finally:
        proc1.stop()


@pytest.mark.parametrize("parent", [0o700], indirect=True, ids=["private-parent"])
def test_the_stack_starts_with_its_data_dir_under_a_private_folder(parent):
    """What `./scripts/demo` does in a clone in /root: the default data dir inside it."""
    from tests.support import stack_settings
    from viewfinder.stack import Stack

    path, homes = parent
    data_dir = path / ".viewfinder-data"  # not made beforehand: the stack makes it, with the umask's mode
    stack = Stack(stack_settings(data_dir))
    try:
        settings = stack.start(with_app=False)  # every store, migrations, topics, bucket, collection
        homes.append(postgres.cluster_home(data_dir))
        check_home(data_dir, outside=True)
        tables = {row[0] for row in query(settings.database_url, "SELECT tablename FROM pg_tables")}
        assert {"images", "dead_letters", "users", "schema_migrations"} <= tables
        assert postgres.running_dsn(data_dir) == settings.database_url
    finally:
        stack.stop()
