"""Kill -9 each part of a running `viewfinder up --workers 2 --gateways 2` while 200 images
stream in, one case each, and stop PostgreSQL for 30 s with likes and dead letters in flight.
After each, with no manual step: every image enriched exactly once, exactly one vector per
image, every like and dead letter stored once, the stack running and healthy.

The cases and their recovery times are written to test-artifacts/reliability.json
(docs/reliability.md is made from it)."""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import psycopg2
import pytest

from connectors.vectors import IndexServiceClient
from tests.faults.conftest import Up, since
from tests.support import poll
from tests.support.photos import Photo, jpeg

IMAGES = 200
BATCH = 10
KILL_AFTER = 60  # images uploaded before the fault: some enriched, many in flight
OUTAGE_S = 30  # how long PostgreSQL stays stopped


def photos(case: str, n: int = IMAGES) -> list[tuple[str, bytes]]:
    tag = uuid.uuid4().int
    return [
        (f"{case}-{i}.jpg", jpeg(Photo(f"{case}-{i}", ((tag >> 3) % 256, i % 256, (i * 7) % 256), (0, 0, 0), (64, 48))))
        for i in range(n)
    ]


def stream(up: Up, files: list[tuple[str, bytes]], fault, deadline_s: float = 240) -> tuple[list[str], float]:
    """Upload ``files`` in batches, as a client would: a refusal (503, a reset connection) is
    tried again after a pause. ``fault()`` runs once KILL_AFTER images are in. Returns the ids
    and when the fault happened."""
    ids: list[str] = []
    fault_at = None
    end = time.monotonic() + deadline_s
    for start in range(0, len(files), BATCH):
        if fault_at is None and len(ids) >= KILL_AFTER:
            fault_at = time.monotonic()
            fault()
        batch = [("files", (n, d, "image/jpeg")) for n, d in files[start : start + BATCH]]

        def accepted(batch=batch):
            try:
                response = up.client.post("/gather/uploads", files=batch)
            except httpx.TransportError:  # a gateway killed mid-request: try again, as clients do
                return None
            assert response.status_code in (202, 502, 503), response.text  # a store down: try again
            return response.json()["ids"] if response.status_code == 202 else None

        ids.extend(poll(accepted, end - time.monotonic(), interval=0.5, what="the uploads to be accepted again"))
    assert fault_at is not None
    return ids, fault_at


def enriched_exactly_once(up: Up, ids: list[str], timeout: float = 240) -> None:
    def done():
        try:
            with up.db.cursor() as cur:
                cur.execute("SELECT status, count(*) AS n FROM images WHERE id = ANY(%s) GROUP BY status", (ids,))
                return {r["status"]: r["n"] for r in cur.fetchall()}.get("enriched", 0) == len(set(ids))
        except psycopg2.Error:  # the test's own connections die with a killed PostgreSQL too
            return False

    poll(done, timeout, interval=1, what="every streamed image to be enriched")
    with up.db.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS rows, count(DISTINCT id) AS ids, count(enriched_at) AS stamped "
            "FROM images WHERE id = ANY(%s)",
            (ids,),
        )
        counts = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM images WHERE status = 'enriched'")
        enriched = cur.fetchone()["n"]
    assert counts["rows"] == counts["ids"] == counts["stamped"] == len(set(ids))
    index = IndexServiceClient(_index_url(up))
    try:
        assert index.count() == enriched  # exactly one vector per enriched image, none twice
        vectors = index.vectors(list(set(ids)), "palette")
        assert set(vectors) == set(ids)
    finally:
        index.close()


def _index_url(up: Up) -> str:
    cmd = up.children()[up.pid_of("viewfinder.cli index")]
    return f"http://127.0.0.1:{cmd.split('--port ')[1].split()[0]}"


def still_healthy(up: Up) -> None:
    assert up.proc.poll() is None, "`viewfinder up` stopped"
    poll(up.healthy, 90, interval=0.5, what="the stack to be healthy again")


def kill(up: Up, needle: str):
    return lambda: os.kill(up.pid_of(needle), signal.SIGKILL)


CASES = [
    ("a worker", "viewfinder.cli worker"),
    ("a gateway process", "viewfinder.cli api"),
    ("the index service", "viewfinder.cli index"),
    ("the broker", "tansu broker"),
    ("PostgreSQL", "postgres -D"),
    ("the S3 server", "weed server"),
]


@pytest.mark.parametrize("case, needle", CASES, ids=[c for c, _ in CASES])
def test_kill_9_mid_stream_loses_nothing(up, case, needle):
    restarts = up.restarts()
    started = time.monotonic()
    ids, fault_at = stream(up, photos(case.replace(" ", "-")), kill(up, needle))
    poll(lambda: up.restarts() > restarts, 120, interval=0.5, what=f"the supervisor to restart {case}")
    restarted = since(fault_at)
    still_healthy(up)
    healthy = since(fault_at)
    enriched_exactly_once(up, ids)
    up.results.append(
        {
            "case": f"kill -9 {case}",
            "images": len(set(ids)),
            "restarted_s": restarted,
            "healthy_s": healthy,
            "all_enriched_s": since(fault_at),
            "stream_s": since(started),
        }
    )


def test_postgresql_stopped_30s_with_likes_and_dead_letters_in_flight(up):
    restarts = up.restarts()
    good = photos("pg-stop")
    # Whole headers, cut bodies: accepted at the door, dead-lettered by the colours stage.
    truncated = [
        (f"pg-stop-truncated-{i}.jpg", jpeg(Photo(f"t{i}", (i * 20, 90, 200), (0, 0, 0), (500, 400)))[:1500])
        for i in range(10)
    ]
    user = f"fault-{uuid.uuid4().hex[:8]}"
    assert up.client.put(f"/recommend/users/{user}", json={}).status_code == 200
    with up.db.cursor() as cur:
        cur.execute("SELECT id FROM images WHERE status = 'enriched' ORDER BY id LIMIT 20")
        to_like = [r["id"] for r in cur.fetchall()]
    assert len(to_like) == 20
    postgres = up.pid_of("postgres -D")
    events = []

    def stop_postgres():
        for image in to_like:  # in flight on the broker when PostgreSQL stops
            response = up.client.post("/recommend/feedback", json={"user": user, "image": image, "signal": "like"})
            assert response.status_code == 202, response.text
            events.append(response.json()["event_id"])
        stopped = time.monotonic()
        # The server and every backend: stopping the server alone leaves open connections working.
        os.kill(postgres, signal.SIGSTOP)
        backends = list(up.children(of=postgres))
        for pid in backends:
            os.kill(pid, signal.SIGSTOP)
        try:
            poll(lambda: not up.healthy(), 30, what="the health check to report PostgreSQL stopped")

            def outage_over():  # the outage lasts OUTAGE_S; all along, the health check must say so
                assert not up.healthy(), "healthy while PostgreSQL is stopped"
                return time.monotonic() - stopped >= OUTAGE_S

            poll(outage_over, OUTAGE_S + 30, interval=1, what=f"{OUTAGE_S} s of outage")
        finally:
            for pid in backends:
                os.kill(pid, signal.SIGCONT)
            os.kill(postgres, signal.SIGCONT)

    # The cut files go in before the stop, so their dead letters are in flight during it.
    ids, fault_at = stream(up, good[:50] + truncated + good[50:], stop_postgres, deadline_s=300)
    assert up.restarts() == restarts  # a stopped store is waited for, not restarted
    still_healthy(up)
    healthy = since(fault_at)
    good_ids = [i for i in ids if i not in _ids_of(up, [n for n, _ in truncated])]
    enriched_exactly_once(up, good_ids)
    with up.db.cursor() as cur:
        cur.execute(
            "SELECT count(*) AS n, count(DISTINCT image_id) AS images FROM dead_letters "
            "WHERE image_id IN (SELECT id FROM images WHERE filename LIKE 'pg-stop-truncated-%%')"
        )
        letters = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM feedback WHERE event_id = ANY(%s::uuid[])", (events,))
        feedback = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM opinions WHERE user_name = %s AND signal = 'like'", (user,))
        opinions = cur.fetchone()["n"]
    assert letters["n"] == letters["images"] == len(truncated)  # each dead letter stored once
    assert feedback == len(events) == 20 and opinions == 20  # each like stored once
    up.results.append(
        {
            "case": "PostgreSQL stopped (SIGSTOP, server and backends) 30 s, 20 likes and 10 dead letters in flight",
            "images": len(set(good_ids)),
            "restarted_s": None,
            "healthy_s": healthy,
            "all_enriched_s": since(fault_at),
            "stream_s": since(fault_at),
        }
    )


def _ids_of(up: Up, filenames: list[str]) -> set[str]:
    with up.db.cursor() as cur:
        cur.execute("SELECT id FROM images WHERE filename = ANY(%s)", (filenames,))
        return {r["id"] for r in cur.fetchall()}
