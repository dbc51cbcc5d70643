"""The connection pool and the migrations; the table families hang off it."""

from __future__ import annotations

import select
import uuid
from contextlib import contextmanager
from importlib import resources

import psycopg2
import psycopg2.extras
import psycopg2.pool

from core.settings import Settings

from .images import Images
from .keys import Keys
from .runs import Runs
from .unsplash import Unsplash
from .users import Users

_MIGRATION_LOCK = 0x5646_4D49  # arbitrary constant for pg_advisory_lock: one migrator at a time


class Database:
    def __init__(self, dsn: str, maxconn: int = 8):
        self.maxconn = maxconn
        self.pool = psycopg2.pool.ThreadedConnectionPool(1, maxconn, dsn)
        self.images = Images(self)
        self.users = Users(self)
        self.unsplash = Unsplash(self)
        self.keys = Keys(self)
        self.runs = Runs(self)

    def close(self) -> None:
        self.pool.closeall()

    def _checkout(self):
        """A pooled connection that is not known dead. An idle connection has nothing to read: one
        whose socket is readable holds the server's goodbye (a restart, pg_terminate_backend), and
        would fail the request it is given, so it is closed and another taken."""
        for _ in range(self.maxconn):
            conn = self.pool.getconn()
            if not conn.closed and not select.select([conn], [], [], 0)[0]:
                return conn
            self.pool.putconn(conn, close=True)
        return self.pool.getconn()

    @contextmanager
    def cursor(self):
        conn = self._checkout()
        lost = False
        try:
            with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                yield cur
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            lost = bool(conn.closed)
            raise
        finally:
            self.pool.putconn(conn, close=lost)
            if lost:
                self._drop_idle()

    def _drop_idle(self) -> None:
        """A connection found dead means the server went away: the idle ones died with it, and
        would each fail one more caller. (psycopg2's pool has no public way to do this.)"""
        with self.pool._lock:
            for conn in self.pool._pool:
                conn.close()
            self.pool._pool.clear()

    def stream(self, sql: str, params=None, batch_size: int = 5000):
        """A query's rows (tuples) in lists of ``batch_size``, through a server-side cursor, so a
        large result is never in memory whole. Holds one pooled connection until exhausted or closed."""
        conn = self._checkout()
        try:
            with conn, conn.cursor(name=f"stream_{uuid.uuid4().hex}") as cur:
                cur.itersize = batch_size
                cur.execute(sql, params)
                while batch := cur.fetchmany(batch_size):
                    yield batch
        finally:
            self.pool.putconn(conn)

    def ping(self) -> None:
        with self.cursor() as cur:
            cur.execute("SELECT 1")

    def migrate(self) -> list[str]:
        files = sorted(
            (f for f in resources.files("schemas").joinpath("sql").iterdir() if f.name.endswith(".sql")),
            key=lambda f: f.name,
        )
        applied = []
        with self.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT name FROM schema_migrations")
            done = {row["name"] for row in cur.fetchall()}
            for f in files:
                if f.name not in done:
                    cur.execute(f.read_text())
                    cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (f.name,))
                    applied.append(f.name)
        return applied


def open_database(settings: Settings, maxconn: int = 8) -> Database:
    if not settings.database_url:
        raise RuntimeError("no database configured: set VIEWFINDER_DATABASE_URL (or run `viewfinder up`)")
    return Database(settings.database_url, maxconn)
