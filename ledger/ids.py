"""The one id generator. Aggregate ids are uuid5 of (tenant, kind, natural key).

Deterministic ids make "at most one" invariants hold by construction: two
requests that would create the same slot, allowance or idempotency record
race on the same aggregate id and the event store lets exactly one win. The
tenant is part of every name, so no id can collide across tenants.
"""

from __future__ import annotations

import functools
import uuid

LEDGER_NAMESPACE = uuid.UUID("6f1c2d0e-8a54-4c1b-9f3e-2b7d5a9c4e10")


@functools.lru_cache(maxsize=65_536)  # a command names the same few aggregates again and again
def aggregate_id(tenant_id: str, kind: str, *key: str) -> uuid.UUID:
    """Deterministic id of the aggregate `kind` with natural key `key` in a tenant."""
    return uuid.uuid5(LEDGER_NAMESPACE, "/".join((tenant_id, kind, *key)))


@functools.lru_cache(maxsize=4_096)
def tenant_aggregate_id(tenant_id: str) -> uuid.UUID:
    return uuid.uuid5(LEDGER_NAMESPACE, f"tenant/{tenant_id}")


def derived_id(parent: uuid.UUID, label: str) -> uuid.UUID:
    """An id that follows from another one (the award of a cause event)."""
    return uuid.uuid5(parent, label)
