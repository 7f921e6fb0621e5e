"""The past at a position, one stream at a time: the handlers' context for re-deciding a
window of commands without replaying the history.

`ledger verify` replays everything (it must check everything). Re-pricing a window
(`ledger simulate --from --to`, recalibration) needs only the aggregates the window's
commands load, each as it stood just before its command: so each stream is read once
from the store with its positions, and an aggregate at position P is its events up to P.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ledger.aggregates.api_key import ApiKey
from ledger.aggregates.base import LedgerAggregate
from ledger.commands.base import Invocation
from ledger.commands.context import AggregateContext
from ledger.events import LedgerEvent
from ledger.store import EventStore

A = TypeVar("A", bound=LedgerAggregate)
# What a change makes of an aggregate a handler loads: (kind, id, as it stood) -> as changed.
Overlay = Callable[[type[LedgerAggregate], uuid.UUID, LedgerAggregate | None], Any]


class Streams:
    """Aggregates as they stood at a position, read from the store stream by stream."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._streams: dict[uuid.UUID, list[tuple[int, LedgerEvent]]] = {}

    def events(self, aggregate_id: uuid.UUID) -> list[tuple[int, LedgerEvent]]:
        found = self._streams.get(aggregate_id)
        if found is None:
            found = self._streams[aggregate_id] = self.store.stream(aggregate_id)
        return found

    def at(self, kind: type[A], aggregate_id: uuid.UUID, position: int) -> A | None:
        """The aggregate with every event recorded at or before `position` (a fresh object:
        a handler may change it)."""
        events = [e for p, e in self.events(aggregate_id) if p <= position]
        if not events:
            return None
        aggregate = kind.projector()(None, events)
        return aggregate if isinstance(aggregate, kind) else None

    def position_of(self, aggregate_id: uuid.UUID, event_type: type[LedgerEvent]) -> int | None:
        """Where the stream's first event of `event_type` was recorded."""
        for position, event in self.events(aggregate_id):
            if isinstance(event, event_type):
                return position
        return None


class PositionContext(AggregateContext):
    """The handlers' Context at a position of the history, with a change laid over what
    they load. Personal text passes through as recorded (it is sealed already); no key
    is made or destroyed."""

    def __init__(
        self,
        streams: Streams,
        invocation: Invocation,
        position: int,
        overlay: Overlay | None = None,
        awards: Callable[[int], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.streams = streams
        self.invocation = invocation
        self.tenant_id = invocation.tenant_id
        self.position = position
        self.overlay = overlay
        self.awards = awards

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        found = self.streams.at(kind, aggregate_id, self.position)
        if self.overlay is None:
            return found
        changed = self.overlay(kind, aggregate_id, found)
        return changed if changed is None or isinstance(changed, kind) else None

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        if self.awards is None:
            raise NotImplementedError("this re-decision reads no award history")
        return self.position, iter(self.awards(self.position))

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        return text

    def forget(self, member_id: str) -> None:
        return None

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        raise NotImplementedError("API keys are not issued in a re-decision")
