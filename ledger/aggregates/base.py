"""A small mutable aggregate base for pydantic events.

The library's own `Aggregate` builds dataclass events; ours are pydantic
models, so the aggregate only needs: an id, a version, pending events, and
`trigger` which stamps envelope metadata and applies the event at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any, Self, TypeVar

from ledger.events import LedgerEvent, current_metadata

E = TypeVar("E", bound=LedgerEvent)
A = TypeVar("A", bound="LedgerAggregate")


class LedgerAggregate:
    """Consistency boundary. Subclasses declare their state in `init_state`."""

    def __init__(self, id: uuid.UUID, tenant_id: str) -> None:
        self.id = id
        self.tenant_id = tenant_id
        self.version = 0
        self._pending: list[LedgerEvent] = []
        self.init_state()

    def init_state(self) -> None:
        """Set the attributes of a blank aggregate."""

    @property
    def exists(self) -> bool:
        return self.version > 0

    def trigger(self, event_cls: type[E], **payload: Any) -> E:
        meta = current_metadata()
        event = event_cls(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=meta.recorded_at,
            tenant_id=self.tenant_id,
            event_id=uuid.uuid4(),
            causation_id=meta.causation_id,
            correlation_id=meta.correlation_id,
            **payload,
        )
        self.apply(event)
        self._pending.append(event)
        return event

    def apply(self, event: LedgerEvent) -> None:
        event.apply(self)
        self.version = event.originator_version

    def collect_events(self) -> list[LedgerEvent]:
        pending, self._pending = self._pending, []
        return pending

    @property
    def pending(self) -> list[LedgerEvent]:
        return list(self._pending)

    @classmethod
    def projector(cls) -> Callable[[Self | None, Iterable[LedgerEvent]], Self | None]:
        """The projector function the event-sourcing repository replays events with."""

        def project(aggregate: Self | None, events: Iterable[LedgerEvent]) -> Self | None:
            for event in events:
                if aggregate is None:
                    aggregate = cls(event.originator_id, event.tenant_id)
                aggregate.apply(event)
            return aggregate

        return project
