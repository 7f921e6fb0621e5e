"""The relay: publishes the event store's notification log to Kafka, in position order.

A gateway, not a dual write: the log is the outbox. The relay records its
own tracking position only after the broker acknowledged every record of a
page, so a crash can publish a page twice (consumers drop duplicates by
`position`) but never skips one. While the broker is down it retries with
backoff from the same position; commands keep being accepted meanwhile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from eventsourcing.persistence import Tracking

from consumers import kafka_io
from ledger.config import Settings
from ledger.envelope import envelope_of_row
from ledger.logs import cause, get_logger
from ledger.store import EventStore

log = get_logger("ledger.relay")

# How long a page may wait for the broker's acknowledgement before the producer is
# dropped and the page retried with backoff. Short on purpose: while a broker hangs
# (alive on TCP, answering nothing), kafka-python 3.0's sender thread busy-polls and
# starves every other thread of the process, the API's among them (`ledger serve` runs
# the relay in-process). A healthy broker acknowledges a page in milliseconds.
ACK_SECONDS = 5.0


class Relay:
    def __init__(self, settings: Settings, store: EventStore, page: int = 2_000) -> None:
        self.settings = settings
        self.store = store
        self.page = page
        self.name = f"relay:{settings.kafka_topic}"
        self.tracking = store.tracking_recorder()
        self.producer: Any = None  # created lazily: the broker may be down at start
        self.stopping = threading.Event()
        self.published = 0  # records acknowledged by the broker, since start
        self.failures = 0  # consecutive failed pages
        self.last_ok = time.monotonic()

    def position(self) -> int:
        return int(self.tracking.max_tracking_id(self.name) or 0)

    def publish_page(self) -> int:
        """Publish the next page after the tracking position; returns records sent."""
        after = self.position()
        rows = self.store.page(after, self.page)
        if not rows:
            return 0
        if self.producer is None:
            kafka_io.ensure_topics(self.settings)
            self.producer = kafka_io.producer(self.settings)
        futures = []
        for row in rows:
            envelope = envelope_of_row(row)
            if envelope is None:
                continue  # internal events (keys, idempotency records) stay in the store
            futures.append(
                self.producer.send(
                    self.settings.kafka_topic,
                    key=envelope["tenant_id"].encode(),
                    value=orjson.dumps(envelope),
                    headers=[
                        ("event_type", envelope["event_type"].encode()),
                        ("schema_version", str(envelope["schema_version"]).encode()),
                    ],
                )
            )
        self.producer.flush(timeout=ACK_SECONDS)
        for future in futures:
            future.get(timeout=ACK_SECONDS)  # raises if the broker did not acknowledge
        last = rows[-1][0]
        self.after_acknowledged(last)
        self.tracking.insert_tracking(Tracking(self.name, last))
        self.published += len(futures)
        log.info("page published", records=len(futures), position=last)
        return len(futures)

    def after_acknowledged(self, position: int) -> None:
        """Hook between the broker's ack and the tracking write (tests crash here)."""

    def run(self, on_page: Callable[[int], None] | None = None) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                sent = self.publish_page()
                if self.failures:
                    log.info("publishing resumed", after_failures=self.failures)
                backoff, self.failures, self.last_ok = 0.5, 0, time.monotonic()
                if on_page and sent:
                    on_page(sent)
                if not sent:
                    self.stopping.wait(0.05)
            except Exception as error:  # broker down or timing out: keep the position, retry
                self.failures += 1
                log.warning(
                    "publishing failed; the position is kept and the page retried",
                    error=cause(error),
                    position=self.position_or_none(),
                    retry_in_s=backoff,
                    failures=self.failures,
                )
                self._reset_producer()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)

    def _reset_producer(self) -> None:
        # An idempotent producer that failed a batch may be fenced: start a fresh one.
        if self.producer is not None:
            try:
                self.producer.close(timeout=1)
            except Exception as error:
                # kafka-python's close() flushes first and raises when records are still
                # unacknowledged, before it reaches its own force-close: its sender thread
                # then lives on, busy-polling a broker that does not answer, and starves
                # the process (the API's threads too). Stop it the way close() would have.
                log.debug("closing the failed producer failed", error=cause(error))
                sender = getattr(self.producer, "_sender", None)
                if sender is not None:
                    sender.force_close()
                    sender.join(1)
        self.producer = None

    def position_or_none(self) -> int | None:
        try:
            return self.position()
        except Exception:  # the store itself may be what failed
            return None

    def lag(self) -> int:
        return max(0, self.store.max_position() - self.position())

    def close(self) -> None:
        self.stopping.set()
        self._reset_producer()


def wait_until_published(relay: Relay, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if relay.position() >= relay.store.max_position():
            return True
        time.sleep(0.05)
    return False
