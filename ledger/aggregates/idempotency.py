"""IdempotencyRecord: the first outcome of a command sent with an Idempotency-Key.

Its id is uuid5(tenant, key) and it is saved in the same atomic save as the
command's events, so two racing requests with one key cannot both record.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent

RETENTION = timedelta(hours=24)


class IdempotentOutcomeRecorded(LedgerEvent):
    internal = True
    key: str
    fingerprint: str
    received_at: datetime
    outcome: dict[str, Any]  # {"ok": {...}} or {"refused": {...}}


class IdempotencyRecord(LedgerAggregate):
    events = (IdempotentOutcomeRecorded,)
    kind = "idempotency"

    def init_state(self) -> None:
        self.last: IdempotentOutcomeRecorded | None = None

    def apply(self, event: LedgerEvent) -> None:
        super().apply(event)
        assert isinstance(event, IdempotentOutcomeRecorded)
        self.last = event

    def live_outcome(self, now: datetime) -> IdempotentOutcomeRecorded | None:
        """The recorded outcome if it is still within the 24 h window."""
        if self.last is not None and now - self.last.received_at < RETENTION:
            return self.last
        return None

    def record(
        self, key: str, fingerprint: str, received_at: datetime, outcome: dict[str, Any]
    ) -> None:
        self.trigger(
            IdempotentOutcomeRecorded,
            key=key,
            fingerprint=fingerprint,
            received_at=received_at,
            outcome=outcome,
        )
