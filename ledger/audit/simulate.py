"""`ledger simulate`: what the history would have given under a change, never written.

The period's commands are re-decided by the live handlers on the replayed past, with
the change laid over the aggregates they load (a mission's points, a campaign's
multiplier). The recorded history and the re-decided one are each projected into a
scratch in-memory database, and the same queries as the API compare them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.aggregates.award import PointsAwarded
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.campaign import Campaign
from ledger.aggregates.completion import Completion, CompletionRecorded
from ledger.aggregates.mission import Mission
from ledger.aggregates.strategy import target_weights
from ledger.aggregates.tenant import Tenant
from ledger.audit.redecide import (
    RecordedCommand,
    decide,
    decided_events,
    invocation_of,
    reconstruct,
    recorded_commands,
)
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.recognitions import GiveRecognition
from ledger.envelope import envelope_of
from ledger.errors import NotFound
from ledger.ids import tenant_aggregate_id
from ledger.periods import local_midnight
from ledger.personal_data import PersonalData
from ledger.projections import queries
from ledger.projections.projection import Projection
from ledger.replay import ReplayedState
from ledger.store import EventStore

# The commands whose points a change can alter (adjustments are amounts set by a person).
SCORED = (CompleteMission, VerifyCompletion, GiveRecognition)
PAGE = 5_000


class MissionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: int = Field(ge=0, le=1000)


class CampaignChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: float = Field(ge=1.0, le=5.0, allow_inf_nan=False)


class StrategyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: datetime
    goals: list[dict[str, Any]] = Field(min_length=1)


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    missions: dict[str, MissionChange] = {}
    campaigns: dict[str, CampaignChange] = {}
    strategy: StrategyChange | None = None

    def overlay(self, aggregate: LedgerAggregate) -> LedgerAggregate:
        """The aggregate as the change has it (loaded by a re-decided handler)."""
        if isinstance(aggregate, Mission) and aggregate.definition is not None:
            change = self.missions.get(aggregate.definition.mission_id)
            if change is not None:
                aggregate.definition = aggregate.definition.model_copy(
                    update={"points": change.points}
                )
        if isinstance(aggregate, Campaign) and aggregate.definition is not None:
            found = self.campaigns.get(aggregate.definition.campaign_id)
            if found is not None:
                aggregate.definition = aggregate.definition.model_copy(
                    update={"multiplier": found.multiplier}
                )
        return aggregate


def simulate_change(
    store: EventStore,
    personal: PersonalData,
    tenant_id: str,
    change: Change,
    start: date | None,
    end: date | None,
    now: datetime,
) -> dict[str, Any]:
    tenant = store.load(Tenant, tenant_aggregate_id(tenant_id))
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    tz = tenant.settings.timezone
    lo = local_midnight(start, tz) if start else None
    hi = local_midnight(end, tz) if end else None
    patches = _redecide(store, tenant_id, change, lo, hi)
    before = Projection(":memory:", decrypt=personal.decrypt)
    after = Projection(":memory:", decrypt=personal.decrypt)
    try:
        _project(store, tenant_id, before, after, patches, change, now)
        return {
            "tenant_id": tenant_id,
            "awards_changed": len(patches),
            "winners": _winners(before, after, tenant_id, now),
            "leaderboard": {
                side: _all_time(projection, tenant_id, now)
                for side, projection in (("before", before), ("after", after))
            },
            "alignment": {
                side: projection.run(
                    queries.alignment, tenant_id, scope="tenant", period="month", now=now
                )
                for side, projection in (("before", before), ("after", after))
            },
        }
    finally:
        before.close()
        after.close()


def _redecide(
    store: EventStore,
    tenant_id: str,
    change: Change,
    lo: datetime | None,
    hi: datetime | None,
) -> dict[str, dict[str, Any]]:
    """Recorded award event id -> the points and rule the changed rules give instead."""
    patches: dict[str, dict[str, Any]] = {}
    # A pending completion repriced when recorded is approved at its new price.
    repriced: dict[uuid.UUID, dict[str, Any]] = {}

    def overlay(aggregate: LedgerAggregate) -> LedgerAggregate:
        aggregate = change.overlay(aggregate)
        if isinstance(aggregate, Completion) and aggregate.recorded is not None:
            price = repriced.get(aggregate.recorded.completion_id)
            if price is not None:
                aggregate.recorded = aggregate.recorded.model_copy(update=price)
        return aggregate

    state = ReplayedState()
    for recorded in recorded_commands(store):
        command = reconstruct(recorded)
        if (
            isinstance(command, SCORED)
            and recorded.first.tenant_id == tenant_id
            and _in_period(recorded, lo, hi)
        ):
            state.position = recorded.position - 1
            outcome = decide(state, command, invocation_of(recorded), overlay)
            if not isinstance(outcome, Exception):
                decided = decided_events(outcome)
                for mine_c, new_c in zip(
                    recorded.of(CompletionRecorded),
                    [e for e in decided if isinstance(e, CompletionRecorded)],
                    strict=False,
                ):
                    price = {"points": new_c.points, "rule": new_c.rule}
                    repriced[mine_c.completion_id] = price
                theirs = [e for e in decided if isinstance(e, PointsAwarded)]
                for mine, new in zip(recorded.of(PointsAwarded), theirs, strict=False):
                    if (mine.points, mine.rule) != (new.points, new.rule):
                        patches[str(mine.event_id)] = {"points": new.points, "rule": new.rule}
        for event, position in zip(recorded.events, recorded.positions, strict=True):
            state.apply(event, position)
    return patches


def _in_period(recorded: RecordedCommand, lo: datetime | None, hi: datetime | None) -> bool:
    awards = recorded.of(PointsAwarded)
    moment = awards[0].occurred_at if awards else recorded.first.timestamp
    return (lo is None or moment >= lo) and (hi is None or moment < hi)


def _project(
    store: EventStore,
    tenant_id: str,
    before: Projection,
    after: Projection,
    patches: dict[str, dict[str, Any]],
    change: Change,
    now: datetime,
) -> None:
    after_cursor = 0
    last = None
    while True:
        page = store.select(after_cursor, PAGE)
        envelopes = [e for n in page if (e := envelope_of(n)) and e["tenant_id"] == tenant_id]
        before.apply(envelopes, defer=True)
        after.apply([_patched(e, patches) for e in envelopes], defer=True)
        if envelopes:
            last = envelopes[-1]
        if len(page) < PAGE:
            break
        after_cursor = page[-1].id
    if change.strategy is not None and last is not None:
        after.apply([_revision(last, after, tenant_id, change.strategy, now)], defer=True)
    before.finish()
    after.finish()


def _patched(envelope: dict[str, Any], patches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    patch = patches.get(envelope["event_id"])
    if patch is None:
        return envelope
    return {**envelope, "payload": {**envelope["payload"], **patch}}


def _revision(
    last: dict[str, Any], after: Projection, tenant_id: str, strategy: StrategyChange, now: datetime
) -> dict[str, Any]:
    """The changed strategy as one more revision, recorded after everything else."""
    version = after.run(
        lambda con: con.execute(
            "SELECT coalesce(max(version), 0) FROM strategy_revisions WHERE tenant_id = ?",
            [tenant_id],
        ).fetchall()[0][0]
    )
    effective = strategy.effective_from.isoformat()
    return {
        **last,
        "event_id": str(uuid.uuid4()),
        "event_type": "StrategyRevised",
        "schema_version": 1,
        "aggregate_id": str(uuid.uuid4()),
        "aggregate_version": 1,
        "position": last["position"] + 1,
        "occurred_at": now.isoformat(),
        "recorded_at": now.isoformat(),
        "payload": {
            "version": int(version) + 1,
            "effective_from": effective,
            "goals": strategy.goals,
            "targets": target_weights(strategy.goals),
            "note": "simulated",
        },
    }


def _all_time(projection: Projection, tenant_id: str, now: datetime) -> list[dict[str, Any]]:
    board = projection.run(
        queries.leaderboard, tenant_id, period="all", at=None, now=now, limit=1_000_000
    )
    return [
        {"member_id": e["member_id"], "rank": e["rank"], "points": e["points"]}
        for e in board["entries"]
    ]


def _winners(
    before: Projection, after: Projection, tenant_id: str, now: datetime
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    campaigns = before.run(
        lambda con: con.execute(
            "SELECT campaign_id, winners FROM campaigns WHERE tenant_id = ? AND ends_at <= ? "
            "ORDER BY campaign_id",
            [tenant_id, now],
        ).fetchall()
    )
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for campaign_id, count in campaigns:
        sides = {}
        for side, projection in (("before", before), ("after", after)):
            board = projection.run(
                queries.leaderboard,
                tenant_id,
                period="campaign",
                campaign_id=campaign_id,
                at=None,
                now=now,
                limit=1_000_000,
            )
            sides[side] = [
                {"member_id": e["member_id"], "rank": e["rank"], "points": e["points"]}
                for e in board["entries"]
                if e["rank"] <= count
            ]
        result[campaign_id] = sides
    return result
