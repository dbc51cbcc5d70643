"""The Faust worker, built by `create_app(settings)`: the app, a topic per entry of
`schemas.pipeline.TOPICS`, and the agents of `streams.stages`. Nothing is read at import."""

from __future__ import annotations

import faust

from core.settings import Settings
from schemas.pipeline import TOPICS

from . import stages
from .resources import Resources


def create_app(settings: Settings, resources: Resources | None = None) -> faust.App:
    _cap_fetch_wait(settings.broker_fetch_wait)
    app = faust.App(
        settings.consumer_group,
        broker=[f"kafka://{server}" for server in settings.broker.split(",") if server] or "kafka://localhost:9092",
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,  # `viewfinder up`/`migrate` create topics with the configured partitions
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=1.0,
        broker_commit_every=50,
        broker_commit_interval=1.0,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        datadir=str(settings.data_dir / "faust"),
    )
    topics = {t.name: app.topic(t.name, value_type=t.record, key_type=str, internal=False) for t in TOPICS}
    stages.register(app, topics, resources or Resources(settings))
    return app


def _cap_fetch_wait(seconds: float) -> None:
    """Faust builds its consumer with fetch_max_wait_ms=1500 and no setting to change it. A broker
    that answers a fetch only when its wait is over, even once events have arrived (tansu, the
    embedded one, does), then adds up to 1.5 s to every hop of an image's way through the stages:
    3.2 s from upload to enriched on an idle stack, against 0.4 s with a 0.1 s wait. Kafka itself
    answers as soon as events arrive, so there a short wait costs only more empty fetches when idle."""
    from faust.transport.drivers import aiokafka as driver

    base = getattr(driver.aiokafka.AIOKafkaConsumer, "_viewfinder_base", driver.aiokafka.AIOKafkaConsumer)

    class Consumer(base):  # type: ignore[misc, valid-type]
        _viewfinder_base = base

        def __init__(self, *args, **kwargs):
            kwargs["fetch_max_wait_ms"] = round(seconds * 1000)
            super().__init__(*args, **kwargs)

    driver.aiokafka.AIOKafkaConsumer = Consumer


def run_worker(settings: Settings) -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    level = {"warning": "warn", "critical": "crit"}.get(settings.log_level.lower(), settings.log_level.lower())
    app = create_app(settings)
    faust.Worker(app, loglevel=level, quiet=True).execute_from_commandline()
