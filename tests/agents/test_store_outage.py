"""Nothing is acknowledged before it is stored: with PostgreSQL down for longer than the old
retry window (three tries over ~7 s, after which the event was dropped), dead letters and
likes in flight wait in their agents and are all stored once it is back."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.postgres import Database
from schemas.records import DeadLetter, Feedback
from tests.agents.conftest import Worker, run
from tests.support import poll
from viewfinder.embedded import postgres
from viewfinder.embedded.process import free_port

OLD_TRIES = 3  # what _persist used to allow before it let the event go


@pytest.fixture
def own_postgres():
    """A PostgreSQL cluster this test may stop and start: (data dir, port, DSN, process box)."""
    data_dir = Path(tempfile.mkdtemp(prefix="viewfinder-outage-"))
    data_dir.chmod(0o755)
    port = free_port()
    proc, dsn = postgres.start(data_dir, "127.0.0.1", port)
    box = {"proc": proc}
    db = Database(dsn, maxconn=1)
    db.migrate()
    db.users.save("outage-user", {})
    db.close()
    yield data_dir, port, dsn, box
    box["proc"].stop()
    postgres.remove(data_dir)
    shutil.rmtree(data_dir, ignore_errors=True)


def test_dead_letters_and_likes_survive_postgres_being_down(stores, own_postgres, caplog):
    data_dir, port, dsn, box = own_postgres
    worker = Worker(stores.replace(database_url=dsn))
    now = datetime.now(UTC).isoformat()
    letters = [
        DeadLetter(image_id=uuid.uuid4().hex, stage="colors", reason=f"outage {n}", event={}, failed_at=now)
        for n in range(3)
    ]
    likes = [
        Feedback(event_id=str(uuid.uuid4()), user="outage-user", image_id=uuid.uuid4().hex, signal="like", at=now)
        for _ in range(3)
    ]
    caplog.set_level(logging.ERROR, logger="viewfinder.stages")

    def failures(what: str) -> int:
        return sum(1 for r in caplog.records if r.getMessage().startswith(f"cannot store {what}"))

    async def go():
        box["proc"].stop()  # PostgreSQL goes down with everything still to store
        async with (
            worker.agents["deadletters"].test_context() as dead,
            worker.agents["feedback"].test_context() as feedback,
        ):
            for letter in letters:
                await dead.put(key=letter.image_id, value=letter, wait=False)
            for like in likes:
                await feedback.put(key=like.user, value=like, wait=False)
            # Both agents are still on their first item, past the tries that used to be all it got.
            await asyncio.to_thread(
                poll,
                lambda: failures("dead letter") > OLD_TRIES and failures("feedback") > OLD_TRIES,
                60,
                0.2,
                "retries past the old window",
            )
            box["proc"], _ = await asyncio.to_thread(postgres.start, data_dir, "127.0.0.1", port)
            db = Database(dsn, maxconn=1)
            try:

                def all_stored():
                    with db.cursor() as cur:
                        cur.execute(
                            "SELECT count(*) AS n FROM dead_letters WHERE image_id = ANY(%s)",
                            ([x.image_id for x in letters],),
                        )
                        stored_letters = cur.fetchone()["n"]
                    opinions = db.users.get("outage-user")["likes"]
                    return stored_letters == len(letters) and sorted(opinions) == sorted(x.image_id for x in likes)

                await asyncio.to_thread(poll, all_stored, 90, 0.5, "every dead letter and like to be stored")
            finally:
                db.close()

    try:
        run(go())
    finally:
        worker.close()
