"""`ledger simulate`: what the history would have given under a change, never written.

The window's completions the change can touch are re-priced by the live handlers on
the past just before each (ledger.audit.reprice). The recorded history and the
re-priced one are each projected into a scratch in-memory database, and the same
queries as the API compare them. "Before" is the recorded history exactly: the
winners a campaign declared are the winners recorded then; "after" re-decides that
declaration on the re-priced awards recorded before it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import orjson

from ledger.aggregates.award import PointsAwarded
from ledger.aggregates.campaign import Campaign, CampaignWinnersDeclared
from ledger.aggregates.strategy import target_weights
from ledger.aggregates.tenant import Tenant
from ledger.audit.positioned import PositionContext, Streams
from ledger.audit.redecide import decided_events, invocation_of, reconstruct, redecide
from ledger.audit.reprice import (
    Change,
    Repricing,
    StrategyChange,
    command_at,
    commands_of,
    reprice,
)
from ledger.envelope import envelope_of
from ledger.errors import Invalid
from ledger.history import award_facts
from ledger.ids import tenant_aggregate_id
from ledger.periods import local_midnight
from ledger.personal_data import PersonalData
from ledger.projections import queries
from ledger.projections.projection import Projection
from ledger.recalibration import window
from ledger.store import EventStore, topic_of

PAGE = 5_000
FOREVER = (datetime.fromisoformat("1970-01-01T00:00:00+00:00"), None)


def simulate_change(
    store: EventStore,
    personal: PersonalData,
    tenant_id: str,
    change: Change,
    start: date | None,
    end: date | None,
    now: datetime,
    team: str | None = None,
) -> dict[str, Any]:
    streams = Streams(store)
    change.check_known(streams, tenant_id)
    tenant = streams.at(Tenant, tenant_aggregate_id(tenant_id), 2**62)
    assert tenant is not None
    tz = tenant.settings.timezone
    start = start or (change.window.start if change.window else None)
    end = end or (change.window.end if change.window else None)
    team = team or change.team
    lo = local_midnight(start, tz) if start else FOREVER[0]
    hi = local_midnight(end, tz) if end else None
    positions = awards_in(store, tenant_id, lo, hi)
    repricing = reprice(store, tenant_id, change, commands_of(store, positions, streams), streams)
    before = Projection(":memory:", decrypt=personal.decrypt)
    after = Projection(":memory:", decrypt=personal.decrypt)
    try:
        _project(store, tenant_id, before, after, repricing.patches, change, now)
        if team is not None and not before.run(_team_known, tenant_id, team):
            raise Invalid(f"unknown team {team!r}", field="team")
        return {
            "tenant_id": tenant_id,
            "window": {
                "from": start.isoformat() if start else None,
                "to": end.isoformat() if end else None,
                "team": team,
            },
            "awards_changed": len(repricing.patches),
            "commands_redecided": repricing.redecided,
            **_window_figures(before, after, tenant_id, lo, hi or now, team),
            "winners": _winners(store, streams, before, after, tenant_id, repricing, change, now),
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


def awards_in(store: EventStore, tenant_id: str, lo: datetime, hi: datetime | None) -> list[int]:
    """Positions of the tenant's awards that occurred in [lo, hi), from the store."""
    found: list[int] = []
    after = 0
    topics = [topic_of(PointsAwarded)]
    while True:
        page = store.select(after, PAGE, topics=topics)
        for notification in page:
            state = orjson.loads(notification.state)
            if state["tenant_id"] != tenant_id:
                continue
            occurred = datetime.fromisoformat(state["occurred_at"])
            if lo <= occurred and (hi is None or occurred < hi):
                found.append(notification.id)
        if len(page) < PAGE:
            return found
        after = page[-1].id


def _team_known(con: Any, tenant_id: str, team: str) -> bool:
    return bool(
        con.execute(
            "SELECT 1 FROM team_history WHERE tenant_id = ? AND team = ? LIMIT 1", [tenant_id, team]
        ).fetchall()
    )


def _window_figures(
    before: Projection,
    after: Projection,
    tenant_id: str,
    lo: datetime,
    hi: datetime,
    team: str | None,
) -> dict[str, Any]:
    """Points and the incentive score of the window's behaviors in scope, recorded and
    re-priced (adjustments are a person's amounts: no change moves them)."""
    sides = {}
    for side, projection in (("before", before), ("after", after)):
        rows = projection.run(window.behaviors, tenant_id, lo, hi, team)
        weights = projection.run(window.targets, tenant_id)
        incentive = window.distributions(rows, weights, lambda b: float(b.points))
        sides[side] = (sum(b.points for b in rows), window.score(incentive))
    return {
        "points": {
            "before": sides["before"][0],
            "after": sides["after"][0],
            "extra": sides["after"][0] - sides["before"][0],
        },
        "incentive_score": {
            "before": window.rounded(sides["before"][1]),
            "after": window.rounded(sides["after"][1]),
        },
    }


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
    if envelope["event_type"] != "PointsAwarded":
        return envelope
    patch = patches.get(envelope["aggregate_id"])
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
    store: EventStore,
    streams: Streams,
    before: Projection,
    after: Projection,
    tenant_id: str,
    repricing: Repricing,
    change: Change,
    now: datetime,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per campaign that ended: its winners recorded (or, undeclared, those a declaration
    would give now) and those the change gives: a declaration re-decided on the re-priced
    awards recorded before it."""
    campaigns = before.run(
        lambda con: con.execute(
            "SELECT campaign_id, winners FROM campaigns WHERE tenant_id = ? AND ends_at <= ? "
            "ORDER BY campaign_id",
            [tenant_id, now],
        ).fetchall()
    )
    result: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for campaign_id, count in campaigns:
        declared = streams.position_of(
            Campaign.id_for(tenant_id, campaign_id), CampaignWinnersDeclared
        )
        if declared is not None:
            result[campaign_id] = _declared(store, streams, tenant_id, declared, repricing, change)
            continue
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


def _declared(
    store: EventStore,
    streams: Streams,
    tenant_id: str,
    position: int,
    repricing: Repricing,
    change: Change,
) -> dict[str, list[dict[str, Any]]]:
    """A declared campaign: the winners as recorded, and as the re-priced awards recorded
    before the declaration would have made them (the declaration's handler, re-run)."""
    recorded = command_at(store, position)
    declared = recorded.of(CampaignWinnersDeclared)[0]
    command = reconstruct(recorded)
    assert command is not None

    def awards(through: int) -> list[dict[str, Any]]:
        return [
            {**a, **repricing.patches.get(a["award_id"], {})}
            for a in award_facts(store, tenant_id, through)
        ]

    context = PositionContext(
        streams,
        invocation_of(recorded, command),
        recorded.position - 1,
        change.overlay(tenant_id),
        awards,
    )
    outcome = redecide(command, context)
    after = declared.winners
    if not isinstance(outcome, Exception):
        decided = [e for e in decided_events(outcome) if isinstance(e, CampaignWinnersDeclared)]
        after = decided[0].winners if decided else after
    return {"before": list(declared.winners), "after": list(after)}
