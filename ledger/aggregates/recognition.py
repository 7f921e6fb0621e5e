"""Recognition: peer kudos, one value, points from the giver's allowance."""

from __future__ import annotations

import uuid
from datetime import datetime

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent


class RecognitionGiven(LedgerEvent):
    recognition_id: uuid.UUID
    from_member: str
    to_member: str
    value: str
    points: int
    message: str | None = None  # ciphertext under the recipient's key
    occurred_at: datetime


class Recognition(LedgerAggregate):
    events = (RecognitionGiven,)

    def give(self, **facts: object) -> RecognitionGiven:
        return self.trigger(RecognitionGiven, **facts)
