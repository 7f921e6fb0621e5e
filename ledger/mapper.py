"""Maps pydantic events to stored events and back, keeping the upcast loop.

The library's pydantic example maps with `model_dump`/`model_validate` and
skips upcasting; this mapper stores `schema_version` in the state and upcasts
on read. State is JSON via orjson (fast, and readable by any consumer).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from ledger.events import LedgerEvent, upcast_state


def encode_event(event: LedgerEvent) -> bytes:
    state = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    state["schema_version"] = type(event).schema_version
    return orjson.dumps(state)


def decode_state(cls: type[LedgerEvent], raw: bytes) -> dict[str, Any]:
    """Stored bytes to a dict at the class's current schema version."""
    return upcast_state(cls, orjson.loads(raw))


def event_from_state(
    topic: str, originator_id: Any, originator_version: int, state: dict[str, Any]
) -> LedgerEvent:
    """The event of a stored state already parsed (an audit reads each row's JSON once).
    `state` is not changed."""
    cls = cast(type[LedgerEvent], resolve_topic(topic))
    fields = upcast_state(cls, dict(state))
    fields["originator_id"] = originator_id
    fields["originator_version"] = originator_version
    return cls.model_validate(fields)


class LedgerMapper(Mapper[Any]):
    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        event = cast(LedgerEvent, domain_event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=encode_event(event),
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        cls = cast(type[LedgerEvent], resolve_topic(stored_event.topic))
        state = decode_state(cls, stored_event.state)
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return cls.model_validate(state)
