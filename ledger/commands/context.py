"""The narrow port every handler decides through: `handle(cmd, ctx) -> Decision`.

A handler never sees the service or the event store. The live ledger implements
this over the store as it is now; an audit can implement it over the store as it
stood at a position, and a simulation over changed facts, and re-run the very
same handler code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

from ledger.aggregates.api_key import ApiKey
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.member import Member
from ledger.aggregates.strategy import Strategy
from ledger.aggregates.tenant import Tenant
from ledger.commands.base import Invocation
from ledger.errors import Invalid, MemberForgotten, NotFound
from ledger.ids import tenant_aggregate_id

A = TypeVar("A", bound=LedgerAggregate)


class Context(Protocol):
    """What a handler may know and do while it decides one command."""

    @property
    def invocation(self) -> Invocation:
        """Who sent the command, when it was received, and its ids (provenance)."""

    def tenant(self) -> Tenant:
        """The caller's tenant (NotFound if it does not exist)."""

    def tenant_named(self, tenant_id: str) -> Tenant:
        """Any tenant by its id, blank if it does not exist (the operator creates tenants)."""

    def strategy(self) -> Strategy:
        """The tenant's value catalogue and strategy revisions (blank if none)."""

    def load(self, kind: type[A], *key: str) -> A | None:
        """The aggregate of `kind` with natural key `key` in the tenant, or None."""

    def load_or_blank(self, kind: type[A], *key: str) -> A:
        """The aggregate, or a blank one with its deterministic id (to create it)."""

    def load_by_id(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        """An aggregate of the tenant by its id (random ids: completions)."""

    def member_in_body(self, member_id: str, field: str) -> Member:
        """A member named in the body: unknown or forgotten is invalid input (422)."""

    def member_in_path(self, member_id: str) -> Member:
        """A member named in the path: unknown is NotFound (404)."""

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        """(position, every award of the tenant recorded up to it): campaign winners."""

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        """Personal text sealed with the member's key (made on first use)."""

    def forget(self, member_id: str) -> None:
        """Destroy the member's key: everything sealed with it becomes unreadable."""

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        """A fresh key (shown once) and its aggregate (only its hash is recorded)."""


class AggregateContext:
    """The rules every context shares, over one way to find an aggregate by id.

    Subclasses give `_get` (the live store, or a replayed history) and the rest of
    the Context (invocation, award_history, encrypt, forget, new_api_key).
    """

    tenant_id: str

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        raise NotImplementedError

    def tenant(self) -> Tenant:
        tenant = self._get(Tenant, tenant_aggregate_id(self.tenant_id))
        if tenant is None:
            raise NotFound(f"no tenant {self.tenant_id!r}")
        return tenant

    def tenant_named(self, tenant_id: str) -> Tenant:
        found = self._get(Tenant, tenant_aggregate_id(tenant_id))
        return found if found is not None else Tenant(tenant_aggregate_id(tenant_id), tenant_id)

    def strategy(self) -> Strategy:
        return self.load_or_blank(Strategy)

    def load(self, kind: type[A], *key: str) -> A | None:
        return self._get(kind, kind.id_for(self.tenant_id, *key))

    def load_or_blank(self, kind: type[A], *key: str) -> A:
        aggregate_id = kind.id_for(self.tenant_id, *key)
        found = self._get(kind, aggregate_id)
        return found if found is not None else kind(aggregate_id, self.tenant_id)

    def load_by_id(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        found = self._get(kind, aggregate_id)
        return found if found is not None and found.tenant_id == self.tenant_id else None

    def member_in_body(self, member_id: str, field: str) -> Member:
        member = self.load(Member, member_id)
        if member is None:
            raise Invalid(f"unknown member {member_id!r}", field=field)
        if member.forgotten:
            # Erasure means the person is out of the ledger: no new data about them.
            raise MemberForgotten(
                f"member {member_id!r} was forgotten: they can neither act nor receive",
                field=field,
            )
        return member

    def member_in_path(self, member_id: str) -> Member:
        member = self.load(Member, member_id)
        if member is None:
            raise NotFound(f"no member {member_id!r}")
        return member
