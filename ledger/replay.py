"""History replayed in memory: every aggregate as it stood at a position, and the handlers'
context over it.

`ledger verify` and `ledger simulate` re-run the very handlers the live ledger runs,
against the state just before each recorded command; the rule tests run them against a
few given events. Nothing here reads or writes the event store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from ledger.aggregates.adjustment import Adjustment, PointsAdjusted
from ledger.aggregates.allowance import Allowance, AllowanceSpent
from ledger.aggregates.api_key import ApiKey, ApiKeyIssued
from ledger.aggregates.award import Award, AwardReversed, PointsAwarded
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.campaign import Campaign, CampaignLaunched, CampaignWinnersDeclared
from ledger.aggregates.completion import (
    Completion,
    CompletionApproved,
    CompletionRecorded,
    CompletionRejected,
    CompletionSlot,
    SlotClaimed,
    SlotReleased,
)
from ledger.aggregates.idempotency import IdempotencyRecord, IdempotentOutcomeRecorded
from ledger.aggregates.member import (
    Member,
    MemberDeparted,
    MemberForgotten,
    MemberJoined,
    MemberMoved,
)
from ledger.aggregates.mission import Mission, MissionArchived, MissionPublished
from ledger.aggregates.pair_counter import PairCounter, PairRecognitionCounted
from ledger.aggregates.recognition import Recognition, RecognitionGiven
from ledger.aggregates.strategy import Strategy, StrategyRevised, ValueDefined, ValueRetired
from ledger.aggregates.tenant import (
    CampaignScheduled,
    Tenant,
    TenantCreated,
    TenantSettingsChanged,
)
from ledger.commands.base import Invocation
from ledger.commands.context import AggregateContext
from ledger.events import LedgerEvent

A = TypeVar("A", bound=LedgerAggregate)

# Which kind of aggregate each event type belongs to (a stream's kind is its events').
AGGREGATE_OF: dict[type[LedgerEvent], type[LedgerAggregate]] = {
    TenantCreated: Tenant,
    TenantSettingsChanged: Tenant,
    CampaignScheduled: Tenant,
    ApiKeyIssued: ApiKey,
    ValueDefined: Strategy,
    ValueRetired: Strategy,
    StrategyRevised: Strategy,
    MemberJoined: Member,
    MemberMoved: Member,
    MemberDeparted: Member,
    MemberForgotten: Member,
    MissionPublished: Mission,
    MissionArchived: Mission,
    SlotClaimed: CompletionSlot,
    SlotReleased: CompletionSlot,
    CompletionRecorded: Completion,
    CompletionApproved: Completion,
    CompletionRejected: Completion,
    RecognitionGiven: Recognition,
    AllowanceSpent: Allowance,
    PairRecognitionCounted: PairCounter,
    CampaignLaunched: Campaign,
    CampaignWinnersDeclared: Campaign,
    PointsAdjusted: Adjustment,
    PointsAwarded: Award,
    AwardReversed: Award,
    IdempotentOutcomeRecorded: IdempotencyRecord,
}


class ReplayedState:
    """Every aggregate of a history, evolved event by event (in position order)."""

    def __init__(self) -> None:
        self.aggregates: dict[uuid.UUID, LedgerAggregate] = {}
        # tenant -> award id -> award facts, as `award_history` gives them (not reversed)
        self.awards: dict[str, dict[str, dict[str, Any]]] = {}
        self.position = 0

    def apply(self, event: LedgerEvent, position: int = 0) -> None:
        aggregate = self.aggregates.get(event.originator_id)
        if aggregate is None:
            aggregate = AGGREGATE_OF[type(event)](event.originator_id, event.tenant_id)
            self.aggregates[event.originator_id] = aggregate
        aggregate.apply(event)
        self.position = max(self.position, position)
        if isinstance(event, PointsAwarded):
            facts = event.model_dump(exclude={"originator_version", "seal"})
            facts["position"] = position
            facts["award_id"] = str(event.originator_id)
            self.awards.setdefault(event.tenant_id, {})[str(event.originator_id)] = facts
        elif isinstance(event, AwardReversed):
            self.awards.get(event.tenant_id, {}).pop(str(event.originator_id), None)

    def apply_all(self, events: Iterable[LedgerEvent]) -> None:
        for event in events:
            self.apply(event)

    def get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        """A private copy (a handler changes what it loads), or None."""
        found = self.aggregates.get(aggregate_id)
        if found is None or not isinstance(found, kind):
            return None
        return found.private_copy()


class ReplayContext(AggregateContext):
    """The Context over a replayed state. Personal text passes through as recorded
    (it is already sealed), and no key is made or destroyed."""

    def __init__(
        self,
        state: ReplayedState,
        invocation: Invocation,
        overlay: Callable[[LedgerAggregate], LedgerAggregate] | None = None,
    ) -> None:
        self.state = state
        self.invocation = invocation
        self.tenant_id = invocation.tenant_id
        self.overlay = overlay

    def _get(self, kind: type[A], aggregate_id: uuid.UUID) -> A | None:
        found = self.state.get(kind, aggregate_id)
        if found is not None and self.overlay is not None:
            changed = self.overlay(found)
            assert isinstance(changed, kind)
            return changed
        return found

    def award_history(self) -> tuple[int, Iterator[dict[str, Any]]]:
        awards = self.state.awards.get(self.tenant_id, {})
        return self.state.position, iter(list(awards.values()))

    def encrypt(self, member_id: str, text: str | None) -> str | None:
        return text

    def forget(self, member_id: str) -> None:
        return None

    def new_api_key(self, tenant_id: str, role: str, label: str) -> tuple[str, ApiKey]:
        raise NotImplementedError("API keys are not re-issued in a replay")
