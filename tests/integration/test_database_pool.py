"""The connection pool after the server dropped its connections (a PostgreSQL restart, an
administrator's pg_terminate_backend): the next caller gets a live connection, not the dead one."""

from __future__ import annotations

import select

import psycopg2

from connectors.postgres import Database
from tests.support import poll


def test_a_connection_the_server_dropped_is_never_handed_out(stack):
    db = Database(stack.database_url, maxconn=2)
    admin = psycopg2.connect(stack.database_url)
    admin.autocommit = True
    try:
        with db.cursor() as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            pid = cur.fetchone()["pid"]
        idle = db.pool._pool[0]  # the connection just returned, idle in the pool
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        poll(lambda: bool(select.select([idle], [], [], 0)[0]), 10, what="the server's goodbye on the idle socket")
        for _ in range(3):  # each call succeeds, the first included
            with db.cursor() as cur:
                cur.execute("SELECT pg_backend_pid() AS pid")
                assert cur.fetchone()["pid"] != pid
        assert idle.closed
    finally:
        admin.close()
        db.close()
