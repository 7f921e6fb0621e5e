"""Allowance: the points a giver has given in one local calendar month."""

from __future__ import annotations

import uuid

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AllowanceExceeded
from ledger.events import LedgerEvent


class AllowanceSpent(LedgerEvent):
    recognition_id: uuid.UUID
    points: int

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Allowance)
        aggregate.spent += self.points


class Allowance(LedgerAggregate):
    """Keyed by (giver, local month): concurrent gifts race on its version."""

    events = (AllowanceSpent,)

    kind = "allowance"

    def init_state(self) -> None:
        self.spent = 0

    def spend(self, recognition_id: uuid.UUID, points: int, monthly_allowance: int) -> None:
        if self.spent + points > monthly_allowance:
            raise AllowanceExceeded(
                f"monthly allowance exceeded: {self.spent} of {monthly_allowance} "
                f"points already given this month",
                field="points",
            )
        self.trigger(AllowanceSpent, recognition_id=recognition_id, points=points)
