"""Award: points given (or taken) to a member, always with full provenance.

Saved atomically with its cause. Its id follows from the cause event's id,
so an award can never be recorded twice for one cause. An admin may reverse
it once (RULES.md "Reversals"): a new event on the same stream, nothing deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone
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

    def apply(self, aggregate: Award) -> None:
        aggregate.member_id = self.member_id
        aggregate.points = self.points
        aggregate.award_kind = self.kind
        aggregate.occurred_at = self.occurred_at


class AwardReversed(LedgerEvent):
    """The award counts nowhere from now on; what it was is repeated for readers."""

    member_id: str
    points: int  # the reversed award's points (the balance drops by them)
    award_kind: str
    occurred_at: datetime  # the award's: the periods whose figures change
    reason: str | None  # encrypted with the member's key; None if they were forgotten
    command: dict[str, Any]

    def apply(self, aggregate: Award) -> None:
        aggregate.reversed = True


class Award(LedgerAggregate):
    events = (PointsAwarded, AwardReversed)
    opened_by = (PointsAwarded,)

    def init_state(self) -> None:
        self.member_id = ""
        self.points = 0
        self.award_kind = ""
        self.occurred_at: datetime | None = None
        self.reversed = False

    @property
    def granted(self) -> bool:
        """An award's stream (an id of another kind of aggregate replays as not granted)."""
        return bool(self.award_kind)

    def grant(self, **facts: Any) -> PointsAwarded:
        return self.trigger(PointsAwarded, **facts)

    def reverse(self, reason: str | None, command: dict[str, Any]) -> AwardReversed:
        if self.reversed:
            raise AlreadyDone("the award is already reversed", field="award_id")
        assert self.occurred_at is not None
        return self.trigger(
            AwardReversed,
            member_id=self.member_id,
            points=self.points,
            award_kind=self.award_kind,
            occurred_at=self.occurred_at,
            reason=reason,
            command=command,
        )
