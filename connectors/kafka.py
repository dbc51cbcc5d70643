"""confluent-kafka for the publishers outside the Faust worker (uploads, re-drives) and for
creating topics up front with the partition count from settings."""

from __future__ import annotations

import json
import logging

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from core.settings import Settings
from schemas.pipeline import TOPICS

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, partitions: int, timeout: float = 30) -> dict[str, int]:
    """Every topic of the pipeline with at least ``partitions`` partitions: missing ones are
    created, smaller ones grown where the broker can (Apache Kafka can; the embedded tansu
    cannot, and keeps its topics in memory, so they are new each start). Returns the topics
    still short of ``partitions``, with what they have, for the caller to say so."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = {name: len(meta.partitions) for name, meta in admin.list_topics(timeout=timeout).topics.items()}
    missing = [
        NewTopic(t.name, num_partitions=partitions, replication_factor=1) for t in TOPICS if t.name not in existing
    ]
    for future in admin.create_topics(missing, request_timeout=timeout).values() if missing else ():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    short = {t.name: existing[t.name] for t in TOPICS if existing.get(t.name, partitions) < partitions}
    if short:
        grown = admin.create_partitions([NewPartitions(name, partitions) for name in short], request_timeout=timeout)
        for name, future in grown.items():
            try:
                future.result(timeout)
                del short[name]
            except KafkaException as exc:
                log.warning("cannot grow topic %s to %d partitions: %s", name, partitions, exc)
    return short


def forget_group(bootstrap: str, group: str, timeout: float = 30) -> None:
    """Drop ``group``'s committed offsets (a group the broker does not know is already so)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_consumer_groups([group], request_timeout=timeout).values():
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.GROUP_ID_NOT_FOUND:
                raise


def ping(bootstrap: str, timeout: float = 3) -> None:
    AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout)


class EventPublisher:
    """Publishes Faust records so Faust agents can read them.

    `murmur2_random` is the partitioner Java clients and Faust use, so an image id lands
    on the same partition whichever side produced it.
    """

    def __init__(self, bootstrap: str):
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "partitioner": "murmur2_random",
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": 30000,
            }
        )

    def publish(self, topic: str, key: str, record) -> None:
        self.producer.produce(
            topic, key=key.encode(), value=json.dumps(record.to_representation()).encode(), on_delivery=self._delivered
        )
        self.producer.poll(0)

    def flush(self, timeout: float = 30) -> None:
        remaining = self.producer.flush(timeout)
        if remaining:
            raise KafkaException(f"{remaining} events not delivered within {timeout}s")

    def purge(self) -> None:
        """Drop every event not yet delivered (their senders are told they failed)."""
        self.producer.purge()
        self.producer.flush(0)

    def close(self, timeout: float = 5) -> None:
        """Flush what is pending, then close: a producer left open keeps calling a broker that may be gone."""
        try:
            self.producer.flush(timeout)
        finally:
            self.producer.close()

    @staticmethod
    def _delivered(err, msg) -> None:
        if err is not None:
            log.error("event for %s not delivered: %s", msg.key(), err)


def open_publisher(settings: Settings) -> EventPublisher:
    if not settings.broker:
        raise RuntimeError("no broker configured: set VIEWFINDER_BROKER (or run `viewfinder up`)")
    return EventPublisher(settings.broker)
