"""The home page's headline figures (GET /v1/summary, API.md): participation, behaviors and
points against the previous period, the company's alignment and its change, open drift
alerts, and the campaigns running.

Definitions (ADR 17): a period is the tenant's local week or month holding `at`, as on
the leaderboard. `members` are the people who were members at some moment of the period
(joined before its end, not departed before its start). `gave`/`received` count the
members who gave / received at least one recognition whose behavior lies in the period;
a share is that count over `members` (null without members). `behaviors` and `points`
are the leaderboard's and the heatmap's: every award not reversed (points), the awards
that are not adjustments (behaviors). `partial` says the period has not ended yet, so a
lower figure than the previous period's is not (yet) a fall.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from ledger.periods import local_midnight
from ledger.projections import catalog, drift, queries
from ledger.projections.queries import as_of_position, period_bounds, tenant_timezone, today
from ledger.projections.sql import recorded_cut

_FIGURES = """
SELECT count(*) FILTER (WHERE a.kind <> 'adjustment'), coalesce(sum(a.points), 0)
FROM awards a
WHERE a.tenant_id = $tenant AND a.occurred_at >= $lo AND a.occurred_at < $hi {cut}
  AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.tenant_id = a.tenant_id
                  AND r.award_id = a.award_id {r_cut})"""

_RECOGNITIONS = """
SELECT count(DISTINCT payload->>'from_member'), count(DISTINCT payload->>'to_member')
FROM events
WHERE tenant_id = $tenant AND event_type = 'RecognitionGiven'
  AND CAST(payload->>'occurred_at' AS TIMESTAMPTZ) >= $lo
  AND CAST(payload->>'occurred_at' AS TIMESTAMPTZ) < $hi {cut}"""

_MEMBERS = """
SELECT count(*) FROM member_profiles p
WHERE p.tenant_id = $tenant AND p.joined_at < $hi {cut}
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = p.tenant_id
                  AND e.event_type = 'MemberDeparted' AND e.payload->>'member_id' = p.member_id
                  AND CAST(e.payload->>'effective_from' AS TIMESTAMPTZ) <= $lo {e_cut})"""


def _share(count: int, members: int) -> float | None:
    return round(count / members, 4) if members else None


def _period_figures(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    start: date,
    end: date,
    tz: str,
    as_of: datetime | None,
) -> dict[str, Any]:
    lo, hi = local_midnight(start, tz), local_midnight(end, tz)
    params: dict[str, Any] = {"tenant": tenant_id, "lo": lo, "hi": hi}
    cut = as_of is not None
    if cut:
        params["as_of"] = as_of

    def one(sql: str) -> tuple[Any, ...]:
        row = con.execute(sql, params).fetchone()
        assert row is not None  # aggregates always answer a row
        return tuple(row)

    behaviors, points = one(
        _FIGURES.format(cut=recorded_cut(cut, "a."), r_cut=recorded_cut(cut, "r."))
    )
    gave, received = one(_RECOGNITIONS.format(cut=recorded_cut(cut)))
    (members,) = one(_MEMBERS.format(cut=recorded_cut(cut, "p."), e_cut=recorded_cut(cut, "e.")))
    return {
        "members": int(members),
        "participation": {
            "gave": int(gave),
            "received": int(received),
            "share_gave": _share(int(gave), int(members)),
            "share_received": _share(int(received), int(members)),
        },
        "behaviors": int(behaviors),
        "points": int(points),
    }


def summary(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    period: str,
    now: datetime,
    at: date | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    tz = tenant_timezone(con, tenant_id)
    day = at or today(tz, now)
    start, end = period_bounds(period, day)
    before_start, before_end = period_bounds(period, start - timedelta(days=1))
    current = _period_figures(con, tenant_id, start, end, tz, as_of)
    previous = _period_figures(con, tenant_id, before_start, before_end, tz, as_of)

    def score(at_day: date) -> float | None:
        doc = queries.alignment(
            con, tenant_id, scope="tenant", period=period, now=now, at=at_day, as_of=as_of
        )
        value = doc["score"]
        return None if value is None else float(value)

    alerts = drift.drift(con, tenant_id, now=now, as_of=as_of)["alerts"]
    moment = as_of or now
    return {
        "period": {
            "kind": period,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "partial": local_midnight(end, tz) > moment,
        },
        **current,
        "previous": {
            "period": {"start": before_start.isoformat(), "end": before_end.isoformat()},
            "behaviors": previous["behaviors"],
            "points": previous["points"],
            "participation": previous["participation"],
            "members": previous["members"],
        },
        "alignment": {"score": score(day), "previous_score": score(before_start)},
        "open_alerts": sum(1 for a in alerts if a["current"] and a["acknowledged"] is None),
        "campaigns": [
            {k: c[k] for k in ("campaign_id", "name", "starts_at", "ends_at", "status", "reward")}
            for c in catalog.campaigns(
                con, tenant_id, now=moment, cursor=None, limit=50, as_of=as_of
            )["items"]
            if c["status"] in ("running", "upcoming")
        ],
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }
