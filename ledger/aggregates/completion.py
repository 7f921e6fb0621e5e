"""Completions: the slot that makes "once per period" hold, and the completion itself.

A CompletionSlot's id is uuid5(tenant, mission, member, cadence period), so
two concurrent completions of one period race on one aggregate version and
the event store lets exactly one claim it. A rejection releases the slot.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, SlotTaken
from ledger.events import LedgerEvent


class SlotClaimed(LedgerEvent):
    completion_id: uuid.UUID

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, CompletionSlot)
        aggregate.holder = self.completion_id


class SlotReleased(LedgerEvent):
    completion_id: uuid.UUID

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, CompletionSlot)
        aggregate.holder = None


class CompletionSlot(LedgerAggregate):
    events = (SlotClaimed, SlotReleased)
    kind = "slot"

    def init_state(self) -> None:
        self.holder: uuid.UUID | None = None

    def claim(self, completion_id: uuid.UUID) -> None:
        if self.holder is not None:
            raise SlotTaken(
                "the member already completed this mission in this period", field="occurred_at"
            )
        self.trigger(SlotClaimed, completion_id=completion_id)

    def release(self, completion_id: uuid.UUID) -> None:
        self.trigger(SlotReleased, completion_id=completion_id)


class CompletionRecorded(LedgerEvent):
    completion_id: uuid.UUID
    mission_id: str
    member_id: str
    values: list[str]
    occurred_at: datetime
    status: str  # "counted" or "pending"
    points: int
    # The inputs the points were decided from, kept for the award's provenance.
    rule: dict[str, Any]
    slot_id: uuid.UUID
    note: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Completion)
        aggregate.recorded = self
        aggregate.status = self.status


class CompletionApproved(LedgerEvent):
    decided_by: str
    reason: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Completion)
        aggregate.status = "counted"


class CompletionRejected(LedgerEvent):
    decided_by: str
    reason: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Completion)
        aggregate.status = "rejected"


class Completion(LedgerAggregate):
    events = (CompletionRecorded, CompletionApproved, CompletionRejected)
    opened_by = (CompletionRecorded,)

    def init_state(self) -> None:
        self.recorded: CompletionRecorded | None = None
        self.status = ""

    @property
    def facts(self) -> CompletionRecorded:
        assert self.recorded is not None
        return self.recorded

    def record(self, **facts: Any) -> CompletionRecorded:
        return self.trigger(CompletionRecorded, **facts)

    def check_pending(self) -> None:
        if self.status != "pending":
            raise AlreadyDone(
                f"only a pending completion can be decided (it is {self.status})", field="decision"
            )

    def approve(self, decided_by: str, reason: str | None) -> CompletionApproved:
        self.check_pending()
        return self.trigger(CompletionApproved, decided_by=decided_by, reason=reason)

    def reject(self, decided_by: str, reason: str | None) -> CompletionRejected:
        self.check_pending()
        return self.trigger(CompletionRejected, decided_by=decided_by, reason=reason)
