"""History replayed in memory: every aggregate as it stood at a position, and the handlers'
context over it.

`ledger verify` and `ledger simulate` re-run the very handlers the live ledger runs,
against the state just before each recorded command; the rule tests run them against a
few given events. Nothing here reads or writes the event store.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
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
    """Every aggregate of a history, evolved event by event (in position order).

    Memory can be bounded (`capacity` aggregates, least recently used first out): an
    aggregate that was let go is `reload`ed as it stood at the current position, and
    the award facts `award_history` needs are read when asked (`awards_at`) instead of
    kept. Without them, everything stays in memory (a rule test's few events).
    """

    def __init__(
        self,
        capacity: int | None = None,
        reload: Callable[[uuid.UUID, int], LedgerAggregate | None] | None = None,
        awards_at: Callable[[str, int], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.aggregates: OrderedDict[uuid.UUID, LedgerAggregate] = OrderedDict()
        # tenant -> award id -> award facts, as `award_history` gives them (not reversed)
        self.awards: dict[str, dict[str, dict[str, Any]]] = {}
        self.position = 0
        self.capacity = capacity if reload is not None else None
        self.reload = reload
        self.awards_at = awards_at
        self.let_go: set[uuid.UUID] = set()  # ids of aggregates out of memory
        self.reloads = 0

    def lookup(self, aggregate_id: uuid.UUID) -> LedgerAggregate | None:
        """The aggregate as it stands now (reloaded if it was let go), or None."""
        found = self.aggregates.get(aggregate_id)
        if found is not None:
            if self.capacity is not None:
                self.aggregates.move_to_end(aggregate_id)
            return found
        if aggregate_id not in self.let_go or self.reload is None:
            return None
        self.let_go.discard(aggregate_id)
        self.reloads += 1
        found = self.reload(aggregate_id, self.position)
        if found is not None:
            self._keep(aggregate_id, found)
        return found

    def _keep(self, aggregate_id: uuid.UUID, aggregate: LedgerAggregate) -> None:
        self.aggregates[aggregate_id] = aggregate
        if self.capacity is not None:
            while len(self.aggregates) > self.capacity:
                gone, _ = self.aggregates.popitem(last=False)
                self.let_go.add(gone)

    def restore(self, aggregates: dict[uuid.UUID, LedgerAggregate]) -> None:
        """Put these back as the aggregates' current state (a decision's changes undone)."""
        for aggregate_id, aggregate in aggregates.items():
            self.let_go.discard(aggregate_id)
            self._keep(aggregate_id, aggregate)

    def apply(self, event: LedgerEvent, position: int = 0) -> None:
        aggregate = self.lookup(event.originator_id)
        if aggregate is None:
            aggregate = AGGREGATE_OF[type(event)](event.originator_id, event.tenant_id)
            self._keep(event.originator_id, aggregate)
        aggregate.apply(event)
        self.position = max(self.position, position)
        if self.awards_at is not None:
            return
        if isinstance(event, PointsAwarded):
            self.awards.setdefault(event.tenant_id, {})[str(event.originator_id)] = award_facts_of(
                event, position
            )
        elif isinstance(event, AwardReversed):
            self.awards.get(event.tenant_id, {}).pop(str(event.originator_id), None)

    def apply_all(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            self.apply(event)

    def get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        """A private copy (a handler changes what it loads), or None."""
        found = self.lookup(aggregate_id)
        if found is None or not isinstance(found, kind):
            return None
        return found.private_copy()

    def award_history(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's awards not reversed as of the current position."""
        if self.awards_at is not None:
            return self.awards_at(tenant_id, self.position)
        return list(self.awards.get(tenant_id, {}).values())


def award_facts_of(event: PointsAwarded, position: int) -> dict[str, Any]:
    """An award as `award_history` gives it."""
    facts = event.model_dump(exclude={"originator_version", "seal"})
    facts["position"] = position
    facts["award_id"] = str(event.originator_id)
    return facts


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
        self._handed: list[LedgerAggregate] = []
        self._saved: dict[uuid.UUID, LedgerAggregate] = {}

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        if self.overlay is not None:
            found = self.state.get(kind, aggregate_id)
            if found is None:
                return None
            changed = self.overlay(found)
            assert isinstance(changed, kind)
            return changed
        # Copy on write: the handler gets the replayed aggregate itself (as the live
        # store hands out its cached one), and the first event it triggers on it saves
        # a copy of it as it was; `settle` puts those copies back. Most loads only read.
        live = self.state.lookup(aggregate_id)
        if live is None or not isinstance(live, kind):
            return None
        if live._watch is None:
            live._watch = self._before_change
            self._handed.append(live)
        return live

    def _before_change(self, aggregate: LedgerAggregate) -> None:
        if aggregate.id not in self._saved:
            before = aggregate.private_copy()
            before._watch = None
            self._saved[aggregate.id] = before

    def settle(self) -> None:
        """After the decision: the state is again what the history left, whatever the
        handler changed or triggered on what it loaded."""
        for aggregate in self._handed:
            aggregate._watch = None
        self.state.restore(self._saved)
        self._handed.clear()
        self._saved.clear()

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        return self.state.position, iter(self.state.award_history(self.tenant_id))

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        return text

    def forget(self, member_id: str) -> None:
        return None

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        raise NotImplementedError("API keys are not re-issued in a replay")
