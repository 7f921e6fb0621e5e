"""PairCounter: recognitions from one giver to one recipient in one ISO week."""

from __future__ import annotations

import uuid

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import PairLimitReached
from ledger.events import LedgerEvent


class PairRecognitionCounted(LedgerEvent):
    recognition_id: uuid.UUID

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, PairCounter)
        aggregate.count += 1


class PairCounter(LedgerAggregate):
    events = (PairRecognitionCounted,)
    kind = "pair"

    def init_state(self) -> None:
        self.count = 0

    def count_one(self, recognition_id: uuid.UUID, limit: int) -> None:
        if self.count >= limit:
            raise PairLimitReached(
                f"at most {limit} recognitions per week from the same giver to the same recipient",
                field="to_member",
            )
        self.trigger(PairRecognitionCounted, recognition_id=recognition_id)
