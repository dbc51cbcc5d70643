"""In-process agent tests: the worker's real agents run in Faust's test context, reading and
writing in-memory channels instead of Kafka topics, against real stores of their own (started
like the embedded stack's, without its processes), so that what they store never shows in the
session stack's collection."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import faust
import pytest

from schemas.pipeline import TOPICS
from streams import stages
from streams.resources import Resources
from tests.support import stack_settings
from viewfinder.stack import Stack


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
def stores(tiny_detr, tiny_clip):
    """PostgreSQL, S3 and the vector index for the agent tests (the broker too: `prepare` makes topics)."""
    data_dir = Path(tempfile.mkdtemp(prefix="viewfinder-agents-"))
    data_dir.chmod(0o755)
    stack = Stack(
        stack_settings(
            data_dir, detr_model=str(tiny_detr), detr_threshold=0.0, detr_size=128, clip_model=str(tiny_clip)
        )
    )
    try:
        yield stack.start(with_app=False)
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def worker(stores):
    w = Worker(stores)
    yield w
    w.close()
