"""ApiKey: a tenant key with one role. Only the key's hash is ever stored."""

from __future__ import annotations

import hashlib

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent

ROLES = ("admin", "manager", "service", "analyst")


def hash_key(key: str) -> str:
    # Keys are 32 random bytes, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyIssued(LedgerEvent):
    internal = True
    role: str
    label: str
    key_hash: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, ApiKey)
        aggregate.role = self.role
        aggregate.label = self.label


class ApiKey(LedgerAggregate):
    events = (ApiKeyIssued,)

    def init_state(self) -> None:
        self.role = ""
        self.label = ""

    def issue(self, role: str, label: str, key_hash: str) -> None:
        self.trigger(ApiKeyIssued, role=role, label=label, key_hash=key_hash)
