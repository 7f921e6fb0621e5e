"""Adjustment: a manager's correction of a member's points, with its reason."""

from __future__ import annotations

import uuid
from datetime import datetime

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent


class PointsAdjusted(LedgerEvent):
    adjustment_id: uuid.UUID
    member_id: str
    points: int
    reason: str
    occurred_at: datetime


class Adjustment(LedgerAggregate):
    events = (PointsAdjusted,)

    def adjust(self, **facts: object) -> PointsAdjusted:
        return self.trigger(PointsAdjusted, **facts)
