"""Kafka clients, configured in one place (kafka-python)."""

from __future__ import annotations

import contextlib
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ledger.config import Settings

# kafka-python joins groups quickly with these (DESIGN.md).
GROUP_TIMINGS = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
    "max_poll_interval_ms": 10000,
}


def dlq_topic(settings: Settings) -> str:
    return f"{settings.kafka_topic}.dlq"


def ensure_topics(settings: Settings) -> None:
    """Create the event topic (infinite retention) and its dead-letter topic when missing."""
    assert settings.kafka_bootstrap
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=1,
                topic_configs={"retention.ms": "-1"},
            )
            for name, partitions in (
                (settings.kafka_topic, settings.kafka_partitions),
                (dlq_topic(settings), 1),
            )
            if name not in existing
        ]
        if wanted:
            # Another process may create it meanwhile.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
    finally:
        admin.close()


def producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """Idempotent producer, acks from all replicas, bounded blocking when the broker is down."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_block_ms": 10_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
    }
    return KafkaProducer(**(options | overrides))


def consumer(settings: Settings, group_id: str | None, **overrides: Any) -> KafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 5000,
        **(GROUP_TIMINGS if group_id else {}),
    }
    return KafkaConsumer(**(options | overrides))
