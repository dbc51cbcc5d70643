"""The `dataset_runs` table: each run's progress, saved by the gateway process that runs it and
read by any; one run at a time across processes, by an advisory lock on a connection the
running process holds (a process that dies drops its connection, and with it the lock)."""

from __future__ import annotations

import json

_RUN_LOCK = 0x5646_5255  # arbitrary constant for pg_try_advisory_lock: one dataset run at a time
FINAL = ("done", "failed", "interrupted")
STALE_S = 15  # a run whose holder has not saved for this long has lost its holder


class Lease:
    """The right to run, held on one pooled connection until released."""

    def __init__(self, db, conn):
        self.db, self.conn = db, conn

    def release(self) -> None:
        if self.conn is not None:
            try:
                with self.conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (_RUN_LOCK,))
            finally:
                self.conn.autocommit = False
                self.db.pool.putconn(self.conn)
                self.conn = None


class Runs:
    def __init__(self, db):
        self.db = db

    def claim(self) -> Lease | None:
        """The lease to run a dataset, or None while another process holds it."""
        conn = self.db.pool.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (_RUN_LOCK,))
                if cur.fetchone()[0]:
                    return Lease(self.db, conn)
        except BaseException:
            self.db.pool.putconn(conn)
            raise
        conn.autocommit = False
        self.db.pool.putconn(conn)
        return None

    def begin(self, dataset: str, holder: str, progress: dict) -> int:
        with self.db.cursor() as cur:
            cur.execute(
                "INSERT INTO dataset_runs (dataset, holder, progress) VALUES (%s, %s, %s) RETURNING id",
                (dataset, holder, json.dumps(progress, default=str)),
            )
            return cur.fetchone()["id"]

    def save(self, run_id: int, progress: dict) -> None:
        with self.db.cursor() as cur:
            cur.execute(
                "UPDATE dataset_runs SET progress = %s, updated_at = now() WHERE id = %s",
                (json.dumps(progress, default=str), run_id),
            )

    def latest(self) -> dict | None:
        """The latest run's progress; a run whose holder stopped saving is `interrupted`."""
        with self.db.cursor() as cur:
            cur.execute(
                """SELECT progress, holder, extract(epoch FROM now() - updated_at) AS silent
                   FROM dataset_runs ORDER BY id DESC LIMIT 1"""
            )
            row = cur.fetchone()
        if row is None:
            return None
        progress = {**row["progress"], "holder": row["holder"]}
        if progress.get("phase") not in FINAL and float(row["silent"]) > STALE_S:
            progress.update(
                phase="interrupted",
                error=f"the gateway running it ({row['holder']}) stopped; start it again to resume where it was",
            )
        return progress
