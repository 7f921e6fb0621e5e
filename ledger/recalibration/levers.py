"""Recalibration (RULES.md "Recalibration"): for each under-served value of a scope, the
levers that could bring it back, what each costs exactly, and what it may do.

Exact: each lever is re-priced over the last 4 complete weeks by the same machinery as
`ledger simulate` (ledger.audit.reprice), so its extra points and the incentive score
after it are what the rules would have given. Assumed, and said so: how people respond.
That is an elasticity learned from the tenant's own past campaigns (how the share of a
campaign's values moved per unit of multiplier) or, with fewer than two of them, the
stated assumption 0 / 0.2 / 0.5, turned into a range of behavior scores, never one number.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from ledger.audit.positioned import Streams
from ledger.audit.reprice import Change, commands_of, reprice
from ledger.drift.watch import WEEK
from ledger.errors import Invalid
from ledger.periods import local_date, local_midnight, round_half_up, week_start
from ledger.projections import drift, known
from ledger.projections.queries import as_of_position, tenant_timezone
from ledger.recalibration.window import (
    Behavior,
    Distributions,
    behaviors,
    distributions,
    jsd,
    rounded,
    targets,
)
from ledger.store import EventStore

WINDOW_WEEKS = 4
UNDER_SERVED = -0.05  # a gap this far below the target (or an open alert)
ASSUMED = (0.0, 0.2, 0.5)  # the elasticity when the tenant's campaigns teach too little
MIN_BEHAVIORS = 20  # in each window of a past campaign, to learn from it
CAMPAIGN_LEVERS = (1.5, 2.0)
MISSION_FACTOR = Decimal("1.5")


@dataclass(frozen=True)
class Elasticity:
    source: str  # past_campaigns or assumed
    campaigns: list[str]
    low: float
    central: float
    high: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "campaigns": self.campaigns,
            "low": round(self.low, 4),
            "central": round(self.central, 4),
            "high": round(self.high, 4),
        }


def recalibrate(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    store: EventStore,
    now: datetime,
    scope: str = "tenant",
    team: str | None = None,
) -> dict[str, Any]:
    """GET /v1/recalibration: the window, and each under-served value with its levers."""
    if scope == "team" and team is None:
        raise Invalid("scope=team needs team", field="team")
    team = team if scope == "team" else None
    known.require(con, tenant_id, team=team)
    tz = tenant_timezone(con, tenant_id)
    end_day = week_start(local_date(now, tz))
    start_day = end_day - WINDOW_WEEKS * WEEK
    lo, hi = local_midnight(start_day, tz), local_midnight(end_day, tz)
    window = behaviors(con, tenant_id, lo, hi, team)
    weights = targets(con, tenant_id)
    counted = distributions(window, weights)
    alerts = _open_alerts(con, tenant_id, now, scope, team)
    elasticity = learn(con, tenant_id, now)
    streams = Streams(store)
    values = []
    for value in sorted(set(counted.target) | set(counted.observed)):
        target = counted.target.get(value, 0.0)
        observed = counted.observed.get(value, 0.0)
        gap = observed - target
        if target <= 0 or (round(gap, 9) > UNDER_SERVED and value not in alerts):
            continue
        levers = _levers(
            con,
            store,
            streams,
            tenant_id,
            value,
            window,
            weights,
            counted,
            elasticity,
            (lo, hi, start_day, end_day),
            team,
            now,
        )
        values.append(
            {
                "value": value,
                "target": round(target, 4),
                "observed": round(observed, 4),
                "gap": round(gap, 4),
                "alert_id": alerts.get(value),
                "levers": levers,
            }
        )
    return {
        "scope": scope,
        "team": team,
        "window": {"from": start_day.isoformat(), "to": end_day.isoformat()},
        "behaviors": counted.behaviors,
        "score": rounded(_score(counted)),
        "values": values,
        "as_of_position": as_of_position(con, tenant_id, None),
    }


def _open_alerts(
    con: duckdb.DuckDBPyConnection, tenant_id: str, now: datetime, scope: str, team: str | None
) -> dict[str, str]:
    """value -> id of the scope's current alert no one has acknowledged yet."""
    watched = drift.drift(con, tenant_id, now=now, scope=scope, team=team)
    return {
        a["value"]: a["alert_id"]
        for a in watched["alerts"]
        if a["current"] and a["acknowledged"] is None and a["team"] == team
    }


def learn(con: duckdb.DuckDBPyConnection, tenant_id: str, now: datetime) -> Elasticity:
    """e_c = (s_during / s_before - 1) / (multiplier - 1) over the tenant's ended campaigns
    with a multiplier above 1 and at least 20 behaviors and a share above 0 in both
    windows; min / median / max, or the assumption with fewer than 2 of them."""
    rows = con.execute(
        'SELECT campaign_id, starts_at, ends_at, multiplier, "values" FROM campaigns '
        "WHERE tenant_id = ? AND ends_at <= ? AND multiplier > 1 ORDER BY starts_at, campaign_id",
        [tenant_id, now],
    ).fetchall()
    weights = targets(con, tenant_id)
    learned: list[tuple[str, float]] = []
    for campaign_id, starts_at, ends_at, multiplier, campaign_values in rows:
        during = distributions(behaviors(con, tenant_id, starts_at, ends_at), weights)
        before_from = starts_at - (ends_at - starts_at)
        before = distributions(behaviors(con, tenant_id, before_from, starts_at), weights)
        s_during = sum(during.observed.get(v, 0.0) for v in campaign_values)
        s_before = sum(before.observed.get(v, 0.0) for v in campaign_values)
        if (
            min(during.behaviors, before.behaviors) >= MIN_BEHAVIORS
            and s_during > 0
            and s_before > 0
        ):
            learned.append((campaign_id, (s_during / s_before - 1) / (float(multiplier) - 1)))
    if len(learned) < 2:
        return Elasticity("assumed", [c for c, _ in learned], *ASSUMED)
    figures = [e for _, e in learned]
    return Elasticity(
        "past_campaigns",
        [c for c, _ in learned],
        min(figures),
        statistics.median(figures),
        max(figures),
    )


def _levers(
    con: duckdb.DuckDBPyConnection,
    store: EventStore,
    streams: Streams,
    tenant_id: str,
    value: str,
    window: Sequence[Behavior],
    weights: dict[int, dict[str, float]],
    counted: Distributions,
    elasticity: Elasticity,
    span: tuple[datetime, datetime, date, date],
    team: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    lo, hi, start_day, end_day = span
    # The window and scope travel in the change: `ledger simulate --change` reproduces it.
    scope_window: dict[str, Any] = {
        "window": {"from": start_day.isoformat(), "to": end_day.isoformat()}
    }
    if team is not None:
        scope_window["team"] = team
    changes: list[tuple[str, dict[str, Any]]] = [
        (
            "campaign",
            {
                "new_campaigns": [
                    {
                        "values": [value],
                        "starts_at": lo.isoformat(),
                        "ends_at": hi.isoformat(),
                        "multiplier": multiplier,
                    }
                ],
                **scope_window,
            },
        )
        for multiplier in CAMPAIGN_LEVERS
    ]
    missions = _active_missions(con, tenant_id, value, now)
    if missions:
        priced = {m: {"points": int(round_half_up(p * MISSION_FACTOR))} for m, p in missions}
        changes.append(("mission_points", {"missions": priced, **scope_window}))
    carrying = [b for b in window if value in b.values]
    commands = commands_of(store, [b.position for b in carrying], streams)
    points_v = sum(b.points for b in carrying)
    before = _score(counted)
    by_points = distributions(window, weights, lambda b: float(b.points))
    levers = []
    for order, (kind, change) in enumerate(changes):
        repricing = reprice(store, tenant_id, Change.model_validate(change), commands, streams)
        after_points = {award_id: patch["points"] for award_id, patch in repricing.patches.items()}
        extra = sum(after_points.get(b.award_id, b.points) - b.points for b in window)
        extra_v = sum(after_points.get(b.award_id, b.points) - b.points for b in carrying)
        repriced = [
            b if b.award_id not in after_points else _priced(b, after_points) for b in window
        ]
        incentive_after = distributions(repriced, weights, lambda b: float(b.points))
        scores = {
            name: _responded(counted, value, e * extra_v / points_v if points_v else 0.0)
            for name, e in (
                ("low", elasticity.low),
                ("central", elasticity.central),
                ("high", elasticity.high),
            )
        }
        gain = {
            k: (v - before if v is not None and before is not None else 0.0)
            for k, v in scores.items()
        }
        levers.append(
            {
                "kind": kind,
                "change": change,
                "extra_points": extra,
                "incentive_score": {
                    "before": rounded(_score(by_points)),
                    "after": rounded(_score(incentive_after)),
                },
                "score": {
                    "before": rounded(before),
                    **{k: rounded(v) for k, v in scores.items()},
                },
                "elasticity": elasticity.as_dict(),
                "recommended": round(gain["low"], 9) > 0,
                "_rank": (gain["central"] * 100 / extra if extra > 0 else 0.0, -order),
            }
        )
    levers.sort(key=lambda lever: lever.pop("_rank"), reverse=True)
    return levers


def _priced(behavior: Behavior, points: dict[str, int]) -> Behavior:
    return dataclasses.replace(behavior, points=points[behavior.award_id])


def _active_missions(
    con: duckdb.DuckDBPyConnection, tenant_id: str, value: str, now: datetime
) -> list[tuple[str, int]]:
    """(mission id, points) of every mission open now that is tagged with the value."""
    rows = con.execute(
        "SELECT mission_id, points FROM missions WHERE tenant_id = ? "
        'AND list_contains("values", ?) AND NOT archived '
        "AND (starts_at IS NULL OR starts_at <= ?) AND (ends_at IS NULL OR ? < ends_at) "
        "ORDER BY mission_id",
        [tenant_id, value, now, now],
    ).fetchall()
    return [(str(m), int(p)) for m, p in rows]


def _score(d: Distributions) -> float | None:
    if not d.observed:
        return None
    return 100 * (1 - jsd(d.target, d.observed))


def _responded(counted: Distributions, value: str, rho: float) -> float | None:
    """The behavior score if the value's share grew by (1 + rho), the rest renormalised."""
    if not counted.observed:
        return None
    moved = dict(counted.observed)
    moved[value] = moved.get(value, 0.0) * (1 + rho)
    total = sum(moved.values())
    return 100 * (1 - jsd(counted.target, {v: m / total for v, m in moved.items()}))
