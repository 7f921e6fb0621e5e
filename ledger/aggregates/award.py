"""Award: points given (or taken) to a member, always with full provenance.

Saved atomically with its cause. Its id follows from the cause event's id,
so an award can never be recorded twice for one cause.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent


class PointsAwarded(LedgerEvent):
    member_id: str
    points: int
    kind: str  # "completion", "recognition" or "adjustment"
    occurred_at: datetime
    values: list[str]  # the behavior's values; empty for adjustments
    source: dict[str, str]  # {"type", "id"} of the behavior or adjustment
    cause_event_id: str
    rule: dict[str, Any]  # {"name", "version", "inputs"}
    command: dict[str, Any]  # {"command_id", "key_label", "idempotency_key", "received_at"}


class Award(LedgerAggregate):
    def grant(self, **facts: Any) -> PointsAwarded:
        return self.trigger(PointsAwarded, **facts)
