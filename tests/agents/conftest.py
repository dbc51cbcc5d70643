"""In-process agent tests: the worker's real agents run in Faust's test context, reading and
writing in-memory channels instead of Kafka topics, against real stores of their own (a
database, a bucket and an index beside the session stack's), so that what they store never
shows in the session stack's collection."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import faust
import psycopg2
import pytest

from schemas.pipeline import TOPICS
from schemas.vectors import collection_vectors
from streams import stages
from streams.resources import Resources
from viewfinder.embedded import index
from viewfinder.stack import prepare


class Worker:
    """The worker's agents on in-memory channels: ``put`` an event into a stage, ``take`` what
    it sent on."""

    def __init__(self, settings):
        # Never started: the test context runs each agent alone, and nothing here reaches a broker.
        self.app = faust.App(
            "viewfinder-agent-tests",
            broker="kafka://127.0.0.1:9",
            store="memory://",
            autodiscover=False,
            web_enabled=False,
        )
        self.app.finalize()
        self.app.flow_control.resume()
        self.channels = {t.name: self.app.channel(value_type=t.record, key_type=str) for t in TOPICS}
        # A channel hands an event only to the readers it has when the event is sent.
        self.sent = {name: channel.clone(is_iterator=True) for name, channel in self.channels.items()}
        self.resources = Resources(settings)
        self.agents = stages.register(self.app, self.channels, self.resources)

    def nothing_sent(self, topic: str) -> bool:
        return self.sent[topic].empty()

    async def take(self, topic: str, timeout: float = 60):
        """The next event a stage sent to ``topic``."""
        event = await self.sent[topic].get(timeout=timeout)
        return event.key, event.value

    def close(self) -> None:
        self.resources.close()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 300))


@pytest.fixture(scope="session")
def stores(stack):
    """A database, a bucket and a vector index of the agent tests' own, on the session stack's
    servers (an index service of their own: the embedded one serves one collection)."""
    admin = psycopg2.connect(stack.database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'viewfinder_agents'")
        if cur.fetchone() is None:
            cur.execute("CREATE DATABASE viewfinder_agents")
    admin.close()
    data_dir = Path(tempfile.mkdtemp(prefix="viewfinder-agents-"))
    proc, index_url = index.start(data_dir, collection_vectors(stack.clip_dim))
    settings = stack.replace(
        database_url=stack.database_url.rsplit("/", 1)[0] + "/viewfinder_agents",
        s3_bucket="viewfinder-agents",
        index_url=index_url,
    )
    try:
        prepare(settings)  # migrations, bucket, collection
        yield settings
    finally:
        proc.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def worker(stores):
    w = Worker(stores)
    yield w
    w.close()
