"""Event base: pydantic models with a schema version, envelope metadata and upcasting.

Every event type registers itself by class name (its `event_type`, the name
on the Kafka header and in DuckDB). Older stored versions are upcast on read
by `upcast_vN_vN+1` static methods working on the stored dict, so the event
store mapper and the projector's fast decoder share one upcast path.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

EVENT_TYPES: dict[str, type[LedgerEvent]] = {}

# Envelope fields every event carries besides its payload.
METADATA_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "tenant_id",
        "event_id",
        "causation_id",
        "correlation_id",
        "seal",
    }
)


class LedgerEvent(BaseModel):
    """Immutable fact. `timestamp` is recorded_at (server time, UTC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: ClassVar[int] = 1
    # Internal events (idempotency records, API keys) stay out of Kafka and feeds.
    internal: ClassVar[bool] = False

    originator_id: uuid.UUID
    originator_version: int
    timestamp: datetime
    tenant_id: str
    event_id: uuid.UUID
    causation_id: str | None = None
    correlation_id: str | None = None
    # {"prev", "hash"}: the event's link in its stream's hash chain (ledger.seal).
    seal: dict[str, str] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        if name in EVENT_TYPES and EVENT_TYPES[name] is not cls:
            raise TypeError(f"event type {name} defined twice")
        EVENT_TYPES[name] = cls

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__

    def apply(self, aggregate: Any) -> None:  # the aggregate this event belongs to
        """Evolve the aggregate's state. Events that change nothing keep this."""

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=set(METADATA_FIELDS))

    @property
    def business_time(self) -> datetime:
        """occurred_at for behaviors and awards, recorded_at for everything else."""
        occurred = getattr(self, "occurred_at", None)
        return occurred if isinstance(occurred, datetime) else self.timestamp


def upcast_state(cls: type[LedgerEvent], state: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored event dict from its schema version to the class's current one."""
    version = int(state.pop("schema_version", 1))
    while version < cls.schema_version:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


@dataclass(frozen=True)
class EventMetadata:
    """What the command runner stamps on every event it causes."""

    recorded_at: datetime
    causation_id: str | None = None
    correlation_id: str | None = None
    # A re-decision (verify, simulate) compares events it never stores: no seals needed.
    sealed: bool = True


_metadata: contextvars.ContextVar[EventMetadata | None] = contextvars.ContextVar(
    "ledger_event_metadata", default=None
)


def current_metadata() -> EventMetadata:
    return _metadata.get() or EventMetadata(recorded_at=datetime.now(UTC))


@contextlib.contextmanager
def event_metadata(meta: EventMetadata) -> Iterator[None]:
    token = _metadata.set(meta)
    try:
        yield
    finally:
        _metadata.reset(token)
