"""Where the projector reads (position, envelope) batches from.

The embedded source follows the event store's notification log. SQLite has
no push subscription, so it polls the log in large pages of plain rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from consumers import kafka_io
from ledger.config import Settings
from ledger.envelope import UndecodableRecord, envelope_of, envelope_of_row, parse_envelope
from ledger.store import EventStore


@dataclass
class SourceBatch:
    envelopes: list[dict[str, Any]]
    # Where to resume from after this batch, stored in the same transaction as it.
    resume_at: list[tuple[str, int]] = field(default_factory=list)
    # Called after the batch is committed to DuckDB (Kafka group offsets).
    commit: Callable[[], None] | None = None


class Source(Protocol):
    def batches(self, start: int) -> Iterator[SourceBatch]: ...


class StoreSource:
    """Follows the notification log from a position; ends when caught up."""

    name = "store"

    def __init__(self, store: EventStore, page: int = 5_000) -> None:
        self.store = store
        self.page = page

    def batches(self, start: int) -> Iterator[SourceBatch]:
        after = start
        while True:
            rows = self.store.page(after, self.page)
            if not rows:
                return
            envelopes: list[dict[str, Any]] = []
            for row in rows:
                envelope = envelope_of_row(row)
                if envelope is not None:
                    envelopes.append(envelope)
            after = rows[-1][0]
            yield SourceBatch(envelopes, [(self.name, after)])
            if len(rows) < self.page:
                return


class NotificationsSource:
    """Notifications already read (an audit reads only what it explains), as one batch."""

    name = "store"

    def __init__(self, notifications: list[Any]) -> None:
        self.notifications = sorted(notifications, key=lambda n: n.id)

    def batches(self, start: int) -> Iterator[SourceBatch]:
        fresh = [n for n in self.notifications if n.id > start]
        if not fresh:
            return
        envelopes = [e for n in fresh if (e := envelope_of(n)) is not None]
        yield SourceBatch(envelopes, [(self.name, fresh[-1].id)])


def _after(recorded_at: str, moment: datetime) -> bool:
    return datetime.fromisoformat(recorded_at.replace("Z", "+00:00")) > moment


class KafkaSource:
    """Reads envelopes from the Kafka topic.

    Offsets are stored in the projection's own transaction (`kafka:<topic>:<partition>`)
    and every (re)start resumes from them, or from offset 0: a projection file started
    afresh, or a batch that failed, is never skipped over. Group mode (`group_id`):
    partitions are shared among the group's projectors, and offsets are also committed
    to Kafka after the batch is in DuckDB. Assigned mode (no group): every partition.
    With `until_end`, it reads at least up to the end offsets seen when it started (a
    rebuild). Undecodable records go to the dead-letter topic with the error, and the
    projector goes on.
    """

    def __init__(
        self,
        settings: Settings,
        stored_offset: Callable[[str], int],
        group_id: str | None = None,
        until_end: bool = False,
        poll_ms: int = 300,
    ) -> None:
        self.settings = settings
        self.topic = settings.kafka_topic
        self.stored_offset = stored_offset
        self.group_id = group_id
        self.until_end = until_end
        self.poll_ms = poll_ms
        self.consumer: Any = None
        self.dlq: Any = None
        self.ends: dict[Any, int] = {}
        self.dead_letters = 0

    def _connect(self) -> Any:
        from kafka import ConsumerRebalanceListener, TopicPartition

        kafka_io.ensure_topics(self.settings)
        consumer = kafka_io.consumer(self.settings, self.group_id)
        if self.group_id:
            source = self

            class SeekStored(ConsumerRebalanceListener):
                """The projection file, not the group's offsets, says where to resume."""

                def on_partitions_revoked(self, revoked: Any) -> None:
                    return None

                def on_partitions_assigned(self, assigned: Any) -> None:
                    source._seek_stored(consumer, assigned)

            consumer.subscribe([self.topic], listener=SeekStored())
            return consumer
        partitions = None
        for _ in range(100):
            partitions = consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            time.sleep(0.1)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions or ())]
        consumer.assign(assigned)
        self._seek_stored(consumer, assigned)
        if self.until_end:
            self.ends = consumer.end_offsets(assigned)
        return consumer

    def _seek_stored(self, consumer: Any, partitions: Any) -> None:
        """Resume every partition from the offset stored with the projection's last batch.

        Also after a failed batch: the consumer had read past it, the projection had not.
        """
        for tp in partitions:
            offset = self.stored_offset(self.offset_key(tp.partition))
            if offset > 0:
                consumer.seek(tp, offset)
            else:
                consumer.seek_to_beginning(tp)

    def offset_key(self, partition: int) -> str:
        return f"kafka:{self.topic}:{partition}"

    def _reached_end(self) -> bool:
        return all(self.consumer.position(tp) >= end for tp, end in self.ends.items())

    def batches(self, start: int = 0) -> Iterator[SourceBatch]:
        if self.consumer is None:
            self.consumer = self._connect()
        else:
            self._seek_stored(self.consumer, self.consumer.assignment())
        while True:
            polled = self.consumer.poll(timeout_ms=self.poll_ms)
            if not polled:
                # Some brokers (Tansu) report the last batch's base offset + 1 as the end
                # offset: the end offsets seen at start are a lower bound, and the replay
                # ends at the first empty poll after reaching them.
                if self.until_end and not self._reached_end():
                    continue
                return
            envelopes: list[dict[str, Any]] = []
            resume: list[tuple[str, int]] = []
            for tp, records in polled.items():
                for record in records:
                    try:
                        envelopes.append(parse_envelope(record.value))
                    except UndecodableRecord as error:
                        self._dead_letter(record, error)
                resume.append((self.offset_key(tp.partition), records[-1].offset + 1))
            if self.dlq is not None:
                self.dlq.flush(timeout=30)
            # Offsets travel with the batch into DuckDB in both modes; the group's own
            # commit only shows the group's progress to Kafka's tools.
            yield SourceBatch(envelopes, resume, self.consumer.commit if self.group_id else None)
            full = self.consumer.config["max_poll_records"]
            if not self.until_end and sum(map(len, polled.values())) < full:
                # Caught up: the pass ends here, as the store's does at a short page. A
                # live pass that polled until a poll came back empty never ended under a
                # steady trickle, and paid a whole batch's fixed cost for every poll.
                return

    def _dead_letter(self, record: Any, error: Exception) -> None:
        if self.dlq is None:
            self.dlq = kafka_io.producer(self.settings)
        self.dead_letters += 1
        self.dlq.send(
            kafka_io.dlq_topic(self.settings),
            key=record.key,
            value=record.value,
            headers=[
                ("error", str(error).encode()),
                ("source", f"{record.topic}:{record.partition}:{record.offset}".encode()),
            ],
        )

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        if self.dlq is not None:
            self.dlq.close(timeout=5)


class RecordedUntil:
    """Wraps a source, keeping only events recorded at or before a moment (--as-of)."""

    def __init__(self, source: Any, moment: datetime) -> None:
        self.source = source
        self.moment = moment

    def batches(self, start: int = 0) -> Iterator[SourceBatch]:
        for batch in self.source.batches(start):
            batch.envelopes = [
                e for e in batch.envelopes if not _after(e["recorded_at"], self.moment)
            ]
            yield batch
