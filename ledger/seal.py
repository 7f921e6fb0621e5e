"""Tamper evidence: every event is sealed into a hash chain over its own stream.

An event's seal is `{"prev", "hash"}`: `hash = sha256(prev || canonical(stream id,
version, event type, stored state without the seal))`, and `prev` is the hash of the
stream's previous event (a fixed genesis value for version 1). Chains are per
aggregate stream, so sealing never serializes a tenant's writes: a stream's writers
are already serialized by its version. A digest over every stream's head at a
position (`ledger digest`) pins the whole history up to it; see ADR 0009.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson


def genesis(stream_id: uuid.UUID) -> str:
    """The `prev` of a stream's first event."""
    return hashlib.sha256(b"ledger-stream\0" + stream_id.bytes).hexdigest()


def seal_hash(
    prev: str, stream_id: uuid.UUID, version: int, event_type: str, state: dict[str, Any]
) -> str:
    """The hash that seals one event; `state` is its stored state without the seal."""
    body = orjson.dumps([str(stream_id), version, event_type, state], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(prev.encode() + body).hexdigest()


def digest_of(heads: dict[uuid.UUID, tuple[int, str]]) -> str:
    """One hash over every stream's head (version and chain hash) at a position."""
    h = hashlib.sha256()
    for stream_id in sorted(heads):
        version, head = heads[stream_id]
        h.update(f"{stream_id}:{version}:{head}\n".encode())
    return h.hexdigest()
