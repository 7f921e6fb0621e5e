"""The public event envelope (API.md "Kafka record"), built from a stored notification.

One decoder for the relay, the embedded projector and the events feed:
orjson on the stored bytes and the dict upcast path; no pydantic validation
of data the store already validated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from ledger.events import EVENT_TYPES, LedgerEvent, upcast_state


class UndecodableRecord(ValueError):
    """A record that is not a ledger envelope (goes to the dead-letter topic)."""


@lru_cache(maxsize=256)
def event_class(topic: str) -> type[LedgerEvent]:
    cls: type[LedgerEvent] = resolve_topic(topic)
    return cls


def envelope_of(notification: Notification) -> dict[str, Any] | None:
    """The envelope of a stored event, or None for internal events."""
    return envelope_of_row(
        (
            notification.id,
            notification.originator_id,
            notification.originator_version,
            notification.topic,
            notification.state,
        )
    )


def envelope_of_row(row: tuple[int, Any, int, str, bytes]) -> dict[str, Any] | None:
    """The envelope of a stored row (position, stream, version, topic, state), or None
    for internal events."""
    position, stream_id, version, topic, raw = row
    cls = event_class(topic)
    if cls.internal:
        return None
    state = upcast_state(cls, orjson.loads(raw))
    state.pop("seal", None)  # tamper evidence stays in the store (ledger verify)
    recorded_at = state.pop("timestamp")
    return {
        "event_id": state.pop("event_id"),
        "event_type": cls.__name__,
        "schema_version": cls.schema_version,
        "tenant_id": state.pop("tenant_id"),
        "aggregate_id": str(stream_id),
        "aggregate_version": version,
        "position": position,
        "occurred_at": state.get("occurred_at") or recorded_at,
        "recorded_at": recorded_at,
        "causation_id": state.pop("causation_id", None),
        "correlation_id": state.pop("correlation_id", None),
        "payload": state,
    }


# The envelope's fields in the contract's order (API.md "Kafka record").
ENVELOPE_FIELDS = (
    "event_id",
    "event_type",
    "schema_version",
    "tenant_id",
    "aggregate_id",
    "aggregate_version",
    "position",
    "occurred_at",
    "recorded_at",
    "causation_id",
    "correlation_id",
    "payload",
)
# What a received record must carry to be applied (the ids may be null).
ENVELOPE_KEYS = tuple(k for k in ENVELOPE_FIELDS if k not in ("causation_id", "correlation_id"))


def parse_envelope(raw: bytes) -> dict[str, Any]:
    """A received envelope, checked and upcast to the current schema; else UndecodableRecord."""
    try:
        envelope = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UndecodableRecord(f"not JSON: {error}") from error
    if not isinstance(envelope, dict) or any(k not in envelope for k in ENVELOPE_KEYS):
        raise UndecodableRecord("missing envelope fields")
    cls = EVENT_TYPES.get(envelope["event_type"])
    if cls is None:
        raise UndecodableRecord(f"unknown event type {envelope['event_type']!r}")
    if not isinstance(envelope["position"], int) or not isinstance(envelope["payload"], dict):
        raise UndecodableRecord("bad position or payload")
    version = envelope["schema_version"]
    if not isinstance(version, int) or version > cls.schema_version:
        raise UndecodableRecord(f"unsupported schema_version {version!r}")
    if version < cls.schema_version:
        envelope["payload"] = upcast_state(cls, {**envelope["payload"], "schema_version": version})
        envelope["schema_version"] = cls.schema_version
    return envelope
