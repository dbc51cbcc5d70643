"""The worker's Faust app: what it asks of the broker."""

from __future__ import annotations

import asyncio

from faust.transport.drivers import aiokafka as driver

from core.settings import Settings
from streams.app import create_app


def test_a_fetch_waits_at_the_broker_no_longer_than_the_setting(tmp_path):
    async def consumer_wait(seconds: float) -> int:
        settings = Settings.from_env({}).replace(data_dir=tmp_path, broker="127.0.0.1:1", broker_fetch_wait=seconds)
        create_app(settings)
        # Built as Faust's driver builds it, with its hard-coded 1500 ms.
        consumer = driver.aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=1500)
        return consumer._fetch_max_wait_ms

    assert asyncio.run(consumer_wait(0.1)) == 100
    assert asyncio.run(consumer_wait(0.25)) == 250  # set again, not wrapped twice
