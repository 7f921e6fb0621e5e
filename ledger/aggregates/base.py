"""A small mutable aggregate base for pydantic events.

The library's own `Aggregate` builds dataclass events; ours are pydantic
models, so the aggregate only needs: an id, a version, pending events, and
`trigger` which stamps envelope metadata and applies the event at once.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self, TypeVar

from ledger.events import LedgerEvent, current_metadata
from ledger.ids import aggregate_id
from ledger.seal import genesis, seal_hash

E = TypeVar("E", bound=LedgerEvent)
A = TypeVar("A", bound="LedgerAggregate")

# Which kind of aggregate each event type belongs to: every aggregate declares its own
# events (`events`), so a replay knows what a stream is from its first event.
AGGREGATE_OF: dict[type[LedgerEvent], type[LedgerAggregate]] = {}


class LedgerAggregate:
    """Consistency boundary. Subclasses declare their state in `init_state`."""

    # The id kind of aggregates found by a natural key (ids.aggregate_id); "" if by id only.
    kind: ClassVar[str] = ""
    # Found by a random id (awards, completions): the event types a stream of this kind
    # starts with, so an id of another kind of aggregate is "not found", not misread.
    opened_by: ClassVar[tuple[type[LedgerEvent], ...]] = ()
    # The event types of this aggregate's stream (registered in AGGREGATE_OF).
    events: ClassVar[tuple[type[LedgerEvent], ...]] = ()
    # Told before the aggregate's first change (a replay copies it then: ledger.replay).
    _watch: Callable[[LedgerAggregate], None] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for event in cls.events:
            owner = AGGREGATE_OF.setdefault(event, cls)
            if owner is not cls:
                raise TypeError(f"{event.__name__} belongs to {owner.__name__} already")

    @classmethod
    def id_for(cls, tenant_id: str, *key: str) -> uuid.UUID:
        """The deterministic id of this kind of aggregate with natural key `key`."""
        return aggregate_id(tenant_id, cls.kind, *key)

    def __init__(self, id: uuid.UUID, tenant_id: str) -> None:
        self.id = id
        self.tenant_id = tenant_id
        self.version = 0
        self._pending: list[LedgerEvent] = []
        self.seal_head = genesis(id)  # the chain hash of the last event (tamper evidence)
        self.init_state()

    def init_state(self) -> None:
        """Set the attributes of a blank aggregate."""

    def private_copy(self) -> Self:
        """A copy a decision may change without touching this one (a replay hands one to
        each handler). Events are immutable, so only containers are copied; a subclass
        whose events change objects inside its containers copies those too."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list | dict | set):
                setattr(clone, name, copy.copy(value))
        return clone

    @property
    def exists(self) -> bool:
        return self.version > 0

    def trigger(self, event_cls: type[E], **payload: Any) -> E:
        if self._watch is not None:
            self._watch(self)
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
        if meta.sealed:
            event = event.model_copy(update={"seal": self._seal(event)})
        self.apply(event)
        self._pending.append(event)
        return event

    def _seal(self, event: LedgerEvent) -> dict[str, str]:
        # Hashed exactly as the mapper stores it (without the seal itself).
        state = event.model_dump(
            mode="json", exclude={"originator_id", "originator_version", "seal"}
        )
        state["schema_version"] = type(event).schema_version
        digest = seal_hash(
            self.seal_head, self.id, event.originator_version, type(event).__name__, state
        )
        return {"prev": self.seal_head, "hash": digest}

    def apply(self, event: LedgerEvent) -> None:
        event.apply(self)
        self.version = event.originator_version
        if event.seal is not None:
            self.seal_head = event.seal["hash"]

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
                    if cls.opened_by and not isinstance(event, cls.opened_by):
                        return None
                    aggregate = cls(event.originator_id, event.tenant_id)
                aggregate.apply(event)
            return aggregate

        return project
