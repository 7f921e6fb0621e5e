"""What each dashboard page (and `ledger report`) shows, read from the projections.

Plain functions of a DuckDB connection and a tenant, like the query functions they
call, so the pages, the CLI pictures and tests read the same figures as the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from ledger.periods import local_date, local_midnight
from ledger.projections import catalog, drift, known, queries, recognition_flow
from ledger.projections.facts import Decrypt
from ledger.projections.queries import period_bounds, tenant_timezone, today
from ledger.projections.sql import team_at
from ledger.recalibration import levers
from ledger.store import EventStore

# Fewer behaviors than this in a period: its alignment figures are shown as a thin
# sample (one behavior moves a score of 5 by 20 points). See ADR 0011.
THIN_SAMPLE = 10
TREND_PERIODS = 12
LEADERBOARD_SIZE = 25


@dataclass(frozen=True)
class Filters:
    """The choices a page offers: the tenant's teams, values and campaigns."""

    teams: list[str]
    values: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]


def filters(con: duckdb.DuckDBPyConnection, tenant_id: str, now: datetime) -> Filters:
    teams = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT team FROM team_history WHERE tenant_id = ? ORDER BY team",
            [tenant_id],
        ).fetchall()
    ]
    values = catalog.values(con, tenant_id, cursor=None, limit=200)["items"]
    campaigns = catalog.campaigns(con, tenant_id, now=now, cursor=None, limit=50)
    return Filters(teams, values, campaigns["items"])


def leaderboard(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    period: str,
    at: date | None,
    team: str | None,
    value: str | None,
    campaign_id: str | None,
    member_id: str | None,
) -> dict[str, Any]:
    """The top of the board, and where `member_id` stands when it is further down."""
    known.require(con, tenant_id, member_id=member_id)
    doc = queries.leaderboard(
        con,
        tenant_id,
        period=period,
        at=at,
        now=now,
        team=team,
        value=value,
        campaign_id=campaign_id,
        limit=1000,
    )
    entries = doc["entries"]
    mine = next((e for e in entries if e["member_id"] == member_id), None) if member_id else None
    top = entries[:LEADERBOARD_SIZE]
    doc |= {
        "entries": top,
        "ranked": len(entries),
        "mine": mine,
        "mine_below": mine is not None and mine not in top,
        "best": max((e["points"] for e in top), default=0),
    }
    return doc


def heatmap(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    date_from: date | None,
    date_to: date | None,
    team: str | None,
    per_person: bool = False,
) -> dict[str, Any]:
    """The API's cells laid out as a grid: a row per (team, value), a column per week;
    `per_person`: each cell shaded and labelled by its points per team member."""
    doc = queries.heatmap(
        con,
        tenant_id,
        now=now,
        date_from=date_from,
        date_to=date_to,
        team=team,
        per_person=per_person,
    )
    cells = doc["cells"]
    for cell in cells:
        cell["shown"] = (cell["points_per_person"] or 0) if per_person else cell["points"]
    weeks = sorted({c["week_start"] for c in cells})
    rows = sorted({(c["team"], c["value"]) for c in cells})
    grid = {(c["team"], c["value"], c["week_start"]): c for c in cells}
    doc |= {
        "weeks": weeks,
        "rows": [
            {"team": t, "value": v, "cells": [grid.get((t, v, w)) for w in weeks]} for t, v in rows
        ],
        "max_points": max((c["shown"] for c in cells), default=0),
        "per_person": per_person,
    }
    return doc


def alignment(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    scope: str,
    team: str | None,
    period: str,
    at: date | None,
) -> dict[str, Any]:
    """The chosen period's figures, and the trend of the periods before it, with the
    periods where the strategy revision changed marked."""
    tz = tenant_timezone(con, tenant_id)
    day = at or today(tz, now)
    trend: list[dict[str, Any]] = []
    for _ in range(TREND_PERIODS):  # the chosen period, then the ones before it
        start, end = period_bounds(period, day)
        point = queries.alignment(
            con, tenant_id, scope=scope, period=period, now=now, at=start, team=team
        )
        # Not over yet: its figures are still coming in, marked so it does not read as a fall.
        point["partial"] = local_midnight(end, tz) > now
        point["covers"] = (start.isoformat(), (end - timedelta(days=1)).isoformat())
        trend.append(point)
        day = start - timedelta(days=1)
    trend.reverse()
    previous = None
    for point in trend:
        point["revision_changed"] = previous is not None and point["strategy_version"] != previous
        point["thin"] = 0 < point["behaviors"] < THIN_SAMPLE
        previous = point["strategy_version"]
    current = dict(trend[-1])
    values = current["values"]
    current |= {
        "under": [v for v in values if v["gap"] is not None and v["gap"] < -0.05],
        "over": [v for v in values if v["gap"] is not None and v["gap"] > 0.05],
        "trend": trend,
    }
    return current


def member(
    con: duckdb.DuckDBPyConnection, tenant_id: str, member_id: str, *, decrypt: Decrypt | None
) -> dict[str, Any]:
    """Who the member is, their points by value and by month, then the API's audit of the
    member in occurred order (as the page says), each entry with a line a person reads."""
    doc = queries.member_points(con, tenant_id, member_id, decrypt=decrypt)
    for entry in doc["awards"]:
        entry["what"], entry["tags"] = _described(entry)
    doc["awards"].sort(key=lambda e: (e["occurred_at"], e.get("position") or 0))
    profile = con.execute(
        "SELECT CASE WHEN p.forgotten THEN NULL ELSE p.display_name END, "  # noqa: S608 (constant SQL; values bound)
        f"{team_at('p.member_id')} FROM member_profiles p "
        "WHERE p.tenant_id = $t AND p.member_id = $m",
        {"t": tenant_id, "m": member_id},
    ).fetchone()
    doc["display_name"], doc["team"] = profile if profile else (None, None)
    # As the heatmap counts: a behavior tagged with several values counts in each.
    doc["by_value"] = con.execute(
        "SELECT value, sum(points)::BIGINT, sum(behaviors)::BIGINT FROM daily_values "
        "WHERE tenant_id = $t AND member_id = $m GROUP BY value ORDER BY 2 DESC, 1",
        {"t": tenant_id, "m": member_id},
    ).fetchall()
    doc["by_month"] = con.execute(
        "SELECT strftime(date_trunc('month', day), '%Y-%m'), sum(points)::BIGINT "
        "FROM daily_points WHERE tenant_id = $t AND member_id = $m GROUP BY 1 ORDER BY 1",
        {"t": tenant_id, "m": member_id},
    ).fetchall()
    return doc


def _described(entry: dict[str, Any]) -> tuple[str, list[str]]:
    behavior = (entry.get("behavior") or {}).get("payload") or {}
    tags = behavior.get("values") or ([behavior["value"]] if behavior.get("value") else [])
    if entry["kind"] == "reversal":
        return f"reversal: {entry['rule']['inputs'].get('reason') or 'no reason given'}", tags
    if "mission_id" in behavior:
        return f"completed mission {behavior['mission_id']}", tags
    if "from_member" in behavior:
        return f"recognized by {behavior['from_member']}", tags
    reason = (entry["rule"].get("inputs") or {}).get("reason")
    return (f"{entry['kind']}: {reason}" if reason else entry["kind"]), tags


def activity(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    member_id: str | None,
    with_messages: bool = False,
    decrypt: Decrypt | None = None,
) -> dict[str, Any]:
    """The recognition feed (messages for the roles that may read them), this month's
    givers' and receivers' boards and the flow between teams, missions open today (for a
    member when one is chosen) and campaigns with their status."""
    return {
        "feed": catalog.recognitions(
            con,
            tenant_id,
            member_id=None,
            with_messages=with_messages,
            decrypt=decrypt if with_messages else None,
            cursor=None,
            limit=20,
        )["items"],
        "flow": recognition_flow.flow(con, tenant_id, period="month", now=now, limit=10),
        "missions": catalog.missions(
            con, tenant_id, now=now, active=True, member_id=member_id, cursor=None, limit=50
        )["items"],
        "campaigns": catalog.campaigns(con, tenant_id, now=now, cursor=None, limit=20)["items"],
        "now": now,
    }


def drift_watch(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    scope: str | None,
    team: str | None,
    store: EventStore | None = None,
    role: str = "analyst",
) -> dict[str, Any]:
    """The watch, alerts in the order a person acts on them: open (current, not yet
    acknowledged), acknowledged, then those the facts no longer give; each with its
    weeks for the chart."""
    doc = drift.drift(con, tenant_id, now=now, scope=scope, team=team, weeks=True)

    def order(alert: dict[str, Any]) -> int:
        if alert["current"] and alert["acknowledged"] is None:
            return 0
        return 1 if alert["current"] else 2

    doc["alerts"].sort(key=order)
    for alert in doc["alerts"]:
        alert["open"] = order(alert) == 0
    for series in doc["series"]:
        cusum = series["cusum"] or 0
        series["closeness"] = min(1.0, cusum / doc["threshold"]) if doc["threshold"] else 0
    doc["can_acknowledge"] = role in ("admin", "manager")
    doc["can_launch"] = role == "admin"
    # What would bring it back: recalibration for each scope with a current alert (and
    # the team chosen), its levers beside the alerts (RULES.md "Recalibration").
    scopes = {(a["scope"], a["team"]) for a in doc["alerts"] if a["current"]}
    if team is not None:
        scopes.add(("team", team))
    doc["recalibration"] = (
        [
            levers.recalibrate(con, tenant_id, store=store, now=now, scope=s, team=t)
            for s, t in sorted(scopes, key=lambda k: (k[0], k[1] or ""))
        ]
        if store is not None
        else []
    )
    doc["draft"] = campaign_draft(now, tenant_timezone(con, tenant_id))
    return doc


def campaign_draft(now: datetime, tz: str) -> dict[str, str]:
    """When a campaign drafted from a lever would run: the next four whole local weeks."""
    today = local_date(now, tz)
    start = today - timedelta(days=today.weekday()) + timedelta(days=7)
    end = start + timedelta(weeks=4)
    return {
        "from": start.isoformat(),
        "starts_at": local_midnight(start, tz).isoformat(),
        "ends_at": local_midnight(end, tz).isoformat(),
    }
