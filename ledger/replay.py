"""History replayed in memory: every aggregate as it stood at a position, and the handlers'
context over it.

`ledger verify` and `ledger simulate` re-run the very handlers the live ledger runs,
against the state just before each recorded command; the rule tests run them against a
few given events. Nothing here reads or writes the event store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import ledger.commands.handlers  # noqa: F401  (every aggregate, so every event type, is known)
from ledger.aggregates.api_key import ApiKey
from ledger.aggregates.award import AwardReversed, PointsAwarded
from ledger.aggregates.base import AGGREGATE_OF, LedgerAggregate
from ledger.commands.base import Invocation
from ledger.commands.context import AggregateContext
from ledger.events import LedgerEvent

A = TypeVar("A", bound=LedgerAggregate)


class ReplayedState:
    """Every aggregate of a history, evolved event by event (in position order)."""

    def __init__(self) -> None:
        self.aggregates: dict[uuid.UUID, LedgerAggregate] = {}
        # tenant -> award id -> award facts, as `award_history` gives them (not reversed)
        self.awards: dict[str, dict[str, dict[str, Any]]] = {}
        self.position = 0

    def apply(self, event: LedgerEvent, position: int = 0) -> None:
        aggregate = self.aggregates.get(event.originator_id)
        if aggregate is None:
            aggregate = AGGREGATE_OF[type(event)](event.originator_id, event.tenant_id)
            self.aggregates[event.originator_id] = aggregate
        aggregate.apply(event)
        self.position = max(self.position, position)
        if isinstance(event, PointsAwarded):
            facts = event.model_dump(exclude={"originator_version", "seal"})
            facts["position"] = position
            facts["award_id"] = str(event.originator_id)
            self.awards.setdefault(event.tenant_id, {})[str(event.originator_id)] = facts
        elif isinstance(event, AwardReversed):
            self.awards.get(event.tenant_id, {}).pop(str(event.originator_id), None)

    def apply_all(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            self.apply(event)

    def get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        """A private copy (a handler changes what it loads), or None."""
        found = self.aggregates.get(aggregate_id)
        if found is None or not isinstance(found, kind):
            return None
        return found.private_copy()


class ReplayContext(AggregateContext):
    """The Context over a replayed state. Personal text passes through as recorded
    (it is already sealed), and no key is made or destroyed."""

    def __init__(
        self,
        state: ReplayedState,
        invocation: Invocation,
        overlay: Callable[[LedgerAggregate], LedgerAggregate] | None = None,
    ) -> None:
        self.state = state
        self.invocation = invocation
        self.tenant_id = invocation.tenant_id
        self.overlay = overlay

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        found = self.state.get(kind, aggregate_id)
        if found is not None and self.overlay is not None:
            changed = self.overlay(found)
            assert isinstance(changed, kind)
            return changed
        return found

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        awards = self.state.awards.get(self.tenant_id, {})
        return self.state.position, iter(list(awards.values()))

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        return text

    def forget(self, member_id: str) -> None:
        return None

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        raise NotImplementedError("API keys are not re-issued in a replay")
