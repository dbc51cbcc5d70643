"""The Faust application and its topics. Agents live in `streams.stages`."""
from __future__ import annotations

import faust

from schemas.records import TOPICS
from viewfinder.settings import Settings

settings = Settings.from_env()

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

topics = {name: app.topic(name, value_type=record, key_type=str, internal=False)
          for name, record in TOPICS.items()}
arrived = topics["viewfinder.images.arrived"]
exif_extracted = topics["viewfinder.images.exif"]
objects_detected = topics["viewfinder.images.detected"]
colors_extracted = topics["viewfinder.images.colors"]
enriched = topics["viewfinder.images.enriched"]
dead_letters = topics["viewfinder.deadletter"]
feedback = topics["viewfinder.feedback"]
