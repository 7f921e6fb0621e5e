"""The handlers' context over the event store as it is now (the live ledger)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ledger.aggregates.api_key import ApiKey
from ledger.aggregates.base import LedgerAggregate
from ledger.commands.base import Invocation
from ledger.commands.context import AggregateContext
from ledger.history import award_facts
from ledger.personal_data import PersonalData
from ledger.store import EventStore

A = TypeVar("A", bound=LedgerAggregate)


class LiveContext(AggregateContext):
    """Implements ledger.commands.context.Context for one invocation."""

    def __init__(
        self,
        store: EventStore,
        personal: PersonalData,
        invocation: Invocation,
        key_issuer: Callable[[str, str, str], tuple[str, ApiKey]],
    ) -> None:
        self.store = store
        self.personal = personal
        self.key_issuer = key_issuer
        self.invocation = invocation
        self.tenant_id = invocation.tenant_id
        # What this invocation loaded: the cache hands out its own objects (no copies), so
        # a command that fails after changing them evicts them (Ledger._attempt).
        self.loaded: list[LedgerAggregate] = []

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        aggregate = self.store.load(kind, aggregate_id)
        if aggregate is not None:
            self.loaded.append(aggregate)
        return aggregate

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        through = self.store.max_position()
        return through, iter(award_facts(self.store, self.tenant_id, through))

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        return self.personal.encrypt(self.tenant_id, member_id, text)

    def forget(self, member_id: str) -> None:
        self.personal.forget(self.tenant_id, member_id)

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        return self.key_issuer(tenant_id, role, label)
