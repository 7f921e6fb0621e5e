"""Where the projector reads (position, envelope) batches from.

The embedded source follows the event store's notification log. SQLite has
no push subscription, so it polls `select_notifications` with large pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ledger.envelope import envelope_of
from ledger.store import EventStore


@dataclass
class SourceBatch:
    envelopes: list[dict[str, Any]]
    # Where to resume from after this batch, stored with it (None: source keeps its own).
    resume_at: tuple[str, int] | None


class Source(Protocol):
    def batches(self, start: int) -> Iterator[SourceBatch]: ...


class StoreSource:
    """Follows the notification log from a position; ends when caught up."""

    name = "store"

    def __init__(
        self, store: EventStore, page: int = 5_000, recorded_until: datetime | None = None
    ) -> None:
        self.store = store
        self.page = page
        self.recorded_until = recorded_until

    def batches(self, start: int) -> Iterator[SourceBatch]:
        after = start
        while True:
            notifications = self.store.select(after, self.page)
            if not notifications:
                return
            envelopes: list[dict[str, Any]] = []
            for notification in notifications:
                envelope = envelope_of(notification)
                if envelope is None:
                    continue
                if self.recorded_until and _after(envelope["recorded_at"], self.recorded_until):
                    yield SourceBatch(envelopes, (self.name, notification.id - 1))
                    return
                envelopes.append(envelope)
            after = notifications[-1].id
            yield SourceBatch(envelopes, (self.name, after))
            if len(notifications) < self.page:
                return


def _after(recorded_at: str, moment: datetime) -> bool:
    return datetime.fromisoformat(recorded_at.replace("Z", "+00:00")) > moment
