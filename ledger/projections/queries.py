"""Queries over the projections: leaderboards, heatmap, alignment, points, events feed.

The present is read from the derived rows the projector maintains (daily
rollups, running totals, the alignment table), so a query costs the size of
its answer's period, not of the tenant's history. Time travel (`as_of`: only
events recorded up to that moment) computes from the fact tables with the
same formulas of `sql.py` and one more filter. `at` only picks the period.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import orjson

from ledger.envelope import ENVELOPE_FIELDS
from ledger.errors import Invalid, NotFound
from ledger.periods import local_date, local_midnight, month_start, next_month, week_start
from ledger.personal_data import PREFIX as PERSONAL_PREFIX
from ledger.projections import known
from ledger.projections.facts import Decrypt
from ledger.projections.sql import (
    ALIGNMENT_FIGURES,
    ALIGNMENT_FROM_AWARDS,
    HEATMAP,
    HEATMAP_FROM_AWARDS,
    base_ctes,
    recorded_cut,
    team_at,
    with_ctes,
)

TENANT = "tenant_id = $tenant"
WINDOW = "a.occurred_at >= $lo AND a.occurred_at < $hi"


def _params(tenant_id: str, as_of: datetime | None, **more: Any) -> dict[str, Any]:
    params = {"tenant": tenant_id, **more}
    if as_of is not None:
        params["as_of"] = as_of
    return params


def _bound(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters `sql` names (DuckDB refuses unused named parameters)."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def tenant_timezone(con: duckdb.DuckDBPyConnection, tenant_id: str) -> str:
    row = con.execute("SELECT timezone FROM tenants WHERE tenant_id = ?", [tenant_id]).fetchone()
    # A tenant not projected yet has no events to show; its periods default to UTC.
    return str(row[0]) if row else "UTC"


def as_of_position(con: duckdb.DuckDBPyConnection, tenant_id: str, as_of: datetime | None) -> int:
    if as_of is None:
        row = con.execute(
            "SELECT position FROM tenant_positions WHERE tenant_id = ?", [tenant_id]
        ).fetchone()
    else:
        row = con.execute(
            "SELECT max(position) FROM events WHERE tenant_id = ? AND recorded_at <= ?",
            [tenant_id, as_of],
        ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def period_bounds(kind: str, at: date) -> tuple[date, date]:
    """[start, end) local dates of the week or month holding `at`."""
    if kind == "week":
        start = week_start(at)
        return start, start + timedelta(days=7)
    start = month_start(at)
    return start, next_month(start)


MAX_HEATMAP_DAYS = 3 * 366


def _utc_window(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    return local_midnight(start, tz), local_midnight(end, tz)


def today(tz: str, now: datetime) -> date:
    return local_date(now, tz)


# -- leaderboard ---------------------------------------------------------------------------


def leaderboard(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    period: str,
    at: date | None,
    now: datetime,
    team: str | None = None,
    value: str | None = None,
    campaign_id: str | None = None,
    limit: int = 10,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    known.require(con, tenant_id, team=team, value=value, campaign_id=campaign_id)
    tz = tenant_timezone(con, tenant_id)
    conditions = []
    params = _params(tenant_id, as_of)
    if period == "campaign":
        campaign = _campaign(con, tenant_id, campaign_id, as_of)
        lo, hi = campaign["starts_at"], campaign["ends_at"]
        params |= {"lo": lo, "hi": hi, "campaign_values": campaign["values"]}
        conditions += ["kind <> 'adjustment'", 'list_has_any("values", $campaign_values)']
        period_doc = {
            "kind": "campaign",
            "start": lo.isoformat(),
            "end": hi.isoformat(),
            "campaign_id": campaign_id,
        }
    elif period == "all":
        lo, hi = datetime(1970, 1, 1, tzinfo=now.tzinfo), datetime(9999, 1, 1, tzinfo=now.tzinfo)
        params |= {"lo": lo, "hi": hi}
        period_doc = {"kind": "all", "start": None, "end": None}
    else:
        start, end = period_bounds(period, at or today(tz, now))
        lo, hi = _utc_window(start, end, tz)
        params |= {"lo": lo, "hi": hi, "start": start, "end": end}
        period_doc = {"kind": period, "start": start.isoformat(), "end": end.isoformat()}
    if team is not None:
        conditions.append("team = $team")
        params["team"] = team
    if value is not None:
        params["value"] = value
    params |= {"limit": limit, "now": as_of or now}
    if as_of is None and period != "campaign":
        sql = _leaderboard_from_rollups(period, conditions, value)
    else:
        if value is not None:
            conditions.append("kind <> 'adjustment' AND list_contains(\"values\", $value)")
        sql = _leaderboard_from_awards(" AND ".join(conditions) or "TRUE", as_of is not None)
    rows = con.execute(sql, _bound(sql, params)).fetchall()
    entries = [
        {"rank": r[0], "member_id": r[1], "display_name": r[2], "team": r[3], "points": int(r[4])}
        for r in rows
    ]
    doc: dict[str, Any] = {
        "period": period_doc,
        "entries": entries,
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }
    if period == "campaign":
        declared = _declaration(con, tenant_id, str(campaign_id), as_of)
        if declared is not None:
            doc |= _declaration_marks(con, params, entries, *declared)
    return doc


def _declaration(
    con: duckdb.DuckDBPyConnection, tenant_id: str, campaign_id: str, as_of: datetime | None
) -> tuple[int, datetime, list[dict[str, Any]]] | None:
    """Where and when the campaign's winners were declared, and who they were."""
    row = con.execute(
        "SELECT position, recorded_at, payload->'winners' FROM events WHERE tenant_id = $tenant "
        "AND event_type = 'CampaignWinnersDeclared' AND payload->>'campaign_id' = $campaign "
        f"{recorded_cut(as_of is not None)} ORDER BY position LIMIT 1",
        _params(tenant_id, as_of, campaign=campaign_id),
    ).fetchone()
    return None if row is None else (row[0], row[1], orjson.loads(row[2]))


# The campaign's whole board (every team), with only the awards recorded before a
# position (the declaration's) and not reversed before it; or everything ($cut: the
# time-travel filter, or nothing).
_CAMPAIGN_SCORES = """
SELECT member_id, sum(points) FROM awards a
WHERE a.tenant_id = $tenant AND a.kind <> 'adjustment' AND a.occurred_at >= $lo
  AND a.occurred_at < $hi AND list_has_any(a."values", $campaign_values) {before} {cut}
  AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.tenant_id = a.tenant_id
                  AND r.award_id = a.award_id {r_before} {r_cut})
GROUP BY member_id HAVING sum(points) <> 0"""


def _declaration_marks(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, Any],
    entries: list[dict[str, Any]],
    position: int,
    declared_at: datetime,
    winners: list[dict[str, Any]],
) -> dict[str, Any]:
    """RULES.md: winners come from what was recorded before the declaration. A board read
    later also counts behaviors recorded after it (backdated into the campaign's window),
    so it says so: the declared winners (marked on the board), how many behaviors were
    recorded after the declaration, and whose rank on the whole board that changed."""
    won = {w["member_id"] for w in winners}
    cut = "as_of" in params
    args = {k: params[k] for k in ("tenant", "lo", "hi", "campaign_values")} | {"p": position}
    if cut:
        args["as_of"] = params["as_of"]

    def ranks(before: bool) -> dict[str, int]:
        sql = _CAMPAIGN_SCORES.format(
            before="AND a.position < $p" if before else "",
            r_before="AND r.position < $p" if before else "",
            cut=recorded_cut(cut, "a."),
            r_cut=recorded_cut(cut, "r."),
        )
        scores = con.execute(sql, _bound(sql, args)).fetchall()
        points = sorted((int(p) for _, p in scores), reverse=True)
        first: dict[int, int] = {}
        for i, p in enumerate(points):  # competition ranks: equal points share a rank
            first.setdefault(p, i + 1)
        return {member: first[int(p)] for member, p in scores}

    later_sql = (
        "SELECT count(DISTINCT a.source_id) FROM awards a WHERE a.tenant_id = $tenant "
        "AND a.kind <> 'adjustment' AND a.occurred_at >= $lo AND a.occurred_at < $hi "
        f'AND list_has_any(a."values", $campaign_values) AND a.position > $p '
        f"{recorded_cut(cut, 'a.')}"
    )
    later = con.execute(later_sql, _bound(later_sql, args)).fetchone()
    then, now = ranks(True), ranks(False)
    for entry in entries:
        entry["declared_winner"] = entry["member_id"] in won
        entry["rank_at_declaration"] = then.get(entry["member_id"])
    return {
        "declared_at": declared_at.isoformat(),
        "winners": winners,
        "after_declaration": {
            "behaviors": int(later[0]) if later else 0,
            "rank_changed": sorted(
                m for m in then.keys() | now.keys() if then.get(m) != now.get(m)
            ),
        },
    }


def _leaderboard_from_rollups(period: str, conditions: list[str], value: str | None) -> str:
    """Scores of the present: the period's daily rollups, or the running totals (all)."""
    if period == "all":
        source, where = "member_totals", ["value = " + ("$value" if value else "''")]
    else:
        source = "daily_values" if value else "daily_points"
        where = ["day >= $start AND day < $end"] + (["value = $value"] if value else [])
    scores = f"""
        scores AS (
            SELECT member_id, sum(points) AS points FROM {source}
            WHERE tenant_id = $tenant AND {" AND ".join(where + conditions)}
            GROUP BY member_id HAVING sum(points) <> 0
        )"""
    team_now = (
        "team_history h WHERE h.tenant_id = $tenant AND h.member_id = r.member_id "
        "AND h.effective_from <= $now ORDER BY h.effective_from DESC, h.position DESC"
    )
    return f"WITH {scores}" + _RANKED.format(team_now=team_now)


def _leaderboard_from_awards(where: str, as_of: bool) -> str:
    """Scores straight from the awards: time travel, and campaigns (a window of instants
    in which an award tagged with several of the campaign's values counts once)."""
    team_now = (
        "team_hist h WHERE h.member_id = r.member_id AND h.effective_from <= $now "
        "ORDER BY h.effective_from DESC"
    )
    return with_ctes(
        base_ctes(TENANT, WINDOW, as_of),
        f"""
        , scores AS (
            SELECT member_id, sum(points) AS points FROM attributed WHERE {where}
            GROUP BY member_id HAVING sum(points) <> 0
        )"""
        + _RANKED.format(team_now=team_now),
    )


# Competition ranks, names (null once forgotten) and the member's team now.
_RANKED = """
        , ranked AS (
            SELECT rank() OVER (ORDER BY points DESC) AS rank, member_id, points FROM scores
        )
        SELECT r.rank, r.member_id,
               CASE WHEN p.forgotten THEN NULL ELSE p.display_name END AS display_name,
               (SELECT h.team FROM {team_now} LIMIT 1) AS team,
               r.points
        FROM ranked r LEFT JOIN member_profiles p
          ON p.tenant_id = $tenant AND p.member_id = r.member_id
        ORDER BY r.points DESC, r.member_id LIMIT $limit"""


def _campaign(
    con: duckdb.DuckDBPyConnection, tenant_id: str, campaign_id: str | None, as_of: datetime | None
) -> dict[str, Any]:
    if not campaign_id:
        raise NotFound("period=campaign needs campaign_id")
    cut = recorded_cut(as_of is not None)
    row = con.execute(
        f'SELECT starts_at, ends_at, "values" FROM campaigns WHERE tenant_id = $tenant '
        f"AND campaign_id = $campaign {cut}",
        _params(tenant_id, as_of, campaign=campaign_id),
    ).fetchone()
    if row is None:  # known now (known.require), but not yet at as_of
        raise Invalid(f"campaign {campaign_id!r} was not yet recorded then", field="campaign_id")
    return {"starts_at": row[0], "ends_at": row[1], "values": list(row[2])}


# -- heatmap --------------------------------------------------------------------------------


def heatmap(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    date_from: date | None = None,
    date_to: date | None = None,
    team: str | None = None,
    as_of: datetime | None = None,
    per_person: bool = False,
) -> dict[str, Any]:
    known.require(con, tenant_id, team=team)
    tz = tenant_timezone(con, tenant_id)
    end = date_to or today(tz, now)
    start = date_from or week_start(end) - timedelta(weeks=11)
    if start > end:
        raise Invalid("from must not be after to", field="from")
    if (end - start).days > MAX_HEATMAP_DAYS:
        # Bounded work per request: a longer view is several requests (or the analysts' copy).
        raise Invalid(f"from..to spans at most {MAX_HEATMAP_DAYS} days", field="from")
    lo, hi = _utc_window(start, end + timedelta(days=1), tz)
    team_filter = " AND team = $team" if team else ""
    params = _params(tenant_id, as_of, lo=lo, hi=hi, **{"from": start, "to": end})
    if team:
        params["team"] = team
    if as_of is None:
        where = "d.tenant_id = $tenant AND d.day BETWEEN $from AND $to" + team_filter
        sql = HEATMAP.format(where=where)
    else:
        where = "local_date BETWEEN $from AND $to" + team_filter
        sql = with_ctes(base_ctes(TENANT, WINDOW, True), HEATMAP_FROM_AWARDS.format(where=where))
    sql += " ORDER BY week_start, team, value"
    rows = con.execute(sql, _bound(sql, params)).fetchall()
    cells = [
        {
            "team": r[1],
            "value": r[2],
            "week_start": r[3].isoformat(),
            "behaviors": int(r[4]),
            "points": int(r[5]),
        }
        for r in rows
    ]
    if per_person:
        sizes = _headcounts(con, tenant_id, tz, sorted({c["week_start"] for c in cells}))
        for cell in cells:
            members = sizes.get((cell["team"], cell["week_start"]), 0)
            cell["members"] = members
            cell["points_per_person"] = round(cell["points"] / members, 1) if members else None
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "cells": cells,
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def _headcounts(
    con: duckdb.DuckDBPyConnection, tenant_id: str, tz: str, weeks: list[str]
) -> dict[tuple[str, str], int]:
    """How many members each team had in each week (a member counts in the team they were
    in at the week's end, if they had joined by then and not left before it began): the
    heatmap's per-person option divides by it, so bigger teams do not dominate."""
    if not weeks:
        return {}
    team = team_at("p.member_id", "w.hi", before=True)
    rows = con.execute(
        f"""
        WITH weeks AS (
            SELECT CAST(w AS DATE) AS week_start,
                   timezone($tz, CAST(CAST(w AS DATE) AS TIMESTAMP)) AS lo,
                   timezone($tz, CAST(CAST(w AS DATE) + 7 AS TIMESTAMP)) AS hi
            FROM unnest($weeks) AS t(w)
        ),
        roster AS (
            SELECT w.week_start, {team} AS team
            FROM weeks w JOIN member_profiles p ON p.tenant_id = $t
            WHERE p.joined_at < w.hi AND (p.departed_at IS NULL OR p.departed_at > w.lo)
        )
        SELECT team, week_start, count(*) FROM roster WHERE team IS NOT NULL GROUP BY ALL
        """,
        {"t": tenant_id, "tz": tz, "weeks": weeks},
    ).fetchall()
    return {(team, week.isoformat()): int(n) for team, week, n in rows}


# -- alignment ----------------------------------------------------------------------------


def alignment(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    scope: str,
    period: str,
    now: datetime,
    at: date | None = None,
    team: str | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    if scope == "team" and team is None:
        raise Invalid("scope=team needs team", field="team")
    known.require(con, tenant_id, team=team)
    tz = tenant_timezone(con, tenant_id)
    start, end = period_bounds(period, at or today(tz, now))
    lo, hi = _utc_window(start, end, tz)
    where = "scope = $scope AND team = $team AND period = $period AND period_start = $period_start"
    params = _params(
        tenant_id,
        as_of,
        lo=lo,
        hi=hi,
        scope=scope,
        team=team if scope == "team" else "",
        period=period,
        period_start=start,
    )
    if as_of is None:  # the projector keeps every period's figures
        row = con.execute(
            "SELECT * FROM alignment WHERE tenant_id = $tenant AND scope = $scope "
            "AND coalesce(team, '') = $team AND period = $period "
            "AND period_start = $period_start",
            {k: params[k] for k in ("tenant", "scope", "team", "period", "period_start")},
        ).fetchone()
    else:
        inputs = ALIGNMENT_FROM_AWARDS.format(where=where)
        sql = with_ctes(base_ctes(TENANT, WINDOW, True) + inputs + ALIGNMENT_FIGURES, "")
        row = con.execute(sql, params).fetchone()
    doc: dict[str, Any] = {
        "scope": scope,
        "team": team if scope == "team" else None,
        "period": {"kind": period, "start": start.isoformat(), "end": end.isoformat()},
    }
    if row is None:
        doc |= {
            "score": None,
            "incentive_score": None,
            "coverage": None,
            "off_strategy_share": None,
            "behaviors": 0,
            "values": [],
            "strategy_version": _version_at(con, tenant_id, hi, as_of),
        }
    else:
        doc |= {
            "behaviors": int(row[5]),
            "score": row[6],
            "incentive_score": row[7],
            "coverage": row[8],
            "off_strategy_share": row[9],
            "strategy_version": row[10],
            "values": [dict(v) for v in (row[11] or [])],
        }
    doc["as_of_position"] = as_of_position(con, tenant_id, as_of)
    return doc


def _version_at(
    con: duckdb.DuckDBPyConnection, tenant_id: str, end: datetime, as_of: datetime | None
) -> int | None:
    cut = recorded_cut(as_of is not None)
    row = con.execute(
        f"SELECT max(version) FROM strategy_revisions WHERE tenant_id = $tenant "
        f"AND effective_from < $end {cut}",
        _params(tenant_id, as_of, end=end),
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


# -- a member's points, the events feed ----------------------------------------------------


AWARD_COLUMNS = (
    "a.award_id, a.points, a.kind, a.occurred_at, a.recorded_at, a.source_type, a.source_id, "
    "a.rule, a.command, a.cause_event_id, a.position, a.member_id"
)


def member_points(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    member_id: str,
    *,
    as_of: datetime | None = None,
    decrypt: Decrypt | None = None,
) -> dict[str, Any]:
    """Every award and reversal of the member, each with its whole chain; they sum to the
    balance (a reversal is its own entry of minus the award's points)."""
    # A member recorded after `as_of` did not exist then (time travel answers 404 too).
    known = con.execute(
        "SELECT 1 FROM member_profiles WHERE tenant_id = $tenant AND member_id = $member "
        + recorded_cut(as_of is not None),
        _params(tenant_id, as_of, member=member_id),
    ).fetchone()
    if known is None:
        raise NotFound(f"no member {member_id!r}")
    cut = recorded_cut(as_of is not None, "a.")
    rows = con.execute(
        f"SELECT {AWARD_COLUMNS} FROM awards a "
        f"WHERE a.tenant_id = $tenant AND a.member_id = $member {cut} ORDER BY a.position",
        _params(tenant_id, as_of, member=member_id),
    ).fetchall()
    entries: list[dict[str, Any]] = []
    for row in rows:
        award = _explained(con, tenant_id, row, as_of, decrypt)
        entries.append(award)
        if award["reversal"] is not None:
            entries.append(_reversal_entry(award))
    entries.sort(key=lambda e: e["position"])
    return {
        "member_id": member_id,
        "balance": sum(e["points"] for e in entries),
        "awards": entries,
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def award(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    award_id: str,
    *,
    as_of: datetime | None = None,
    decrypt: Decrypt | None = None,
) -> dict[str, Any]:
    """One award with its whole chain (404 if the tenant has no such award)."""
    cut = recorded_cut(as_of is not None, "a.")
    row = con.execute(
        f"SELECT {AWARD_COLUMNS} FROM awards a "
        f"WHERE a.tenant_id = $tenant AND a.award_id = $award {cut}",
        _params(tenant_id, as_of, award=award_id),
    ).fetchone()
    if row is None:
        raise NotFound(f"no award {award_id}")
    return {
        **_explained(con, tenant_id, row, as_of, decrypt),
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def _explained(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    r: tuple[Any, ...],
    as_of: datetime | None,
    decrypt: Decrypt | None,
) -> dict[str, Any]:
    """An award row with its chain: the behavior, the approval, the rule, the command,
    and the reversal (each as recorded up to `as_of`)."""
    member_id = r[11]
    explained = {
        "award_id": r[0],
        "member_id": member_id,
        "points": r[1],
        "kind": r[2],
        "occurred_at": r[3].isoformat(),
        "recorded_at": r[4].isoformat(),
        "source": {"type": r[5], "id": r[6]},
        "rule": orjson.loads(r[7]),
        "command": orjson.loads(r[8]),
        "cause_event_id": r[9],
        "position": r[10],
    }
    _reveal_reason(explained["rule"], tenant_id, member_id, decrypt)
    cut = recorded_cut(as_of is not None)
    events = con.execute(
        f"SELECT event_type, event_id, position, occurred_at, recorded_at, payload FROM events "
        f"WHERE tenant_id = $tenant AND aggregate_id = $source {cut} ORDER BY position",
        _params(tenant_id, as_of, source=r[6]),
    ).fetchall()
    chain = [
        {
            "event_type": e[0],
            "event_id": e[1],
            "position": e[2],
            "occurred_at": e[3].isoformat(),
            "recorded_at": e[4].isoformat(),
            "payload": _without_personal(orjson.loads(e[5])),
        }
        for e in events
    ]
    explained["behavior"] = chain[0] if chain else None
    approvals = [e for e in chain if e["event_type"] == "CompletionApproved"]
    explained["approval"] = (
        {
            "decided_by": approvals[0]["payload"].get("decided_by"),
            "event_id": approvals[0]["event_id"],
            "recorded_at": approvals[0]["recorded_at"],
        }
        if approvals
        else None
    )
    reversal = con.execute(
        f"SELECT position, recorded_at, reason, command FROM reversals "
        f"WHERE tenant_id = $tenant AND award_id = $award {cut}",
        _params(tenant_id, as_of, award=r[0]),
    ).fetchone()
    explained["reversal"] = (
        {
            "position": reversal[0],
            "recorded_at": reversal[1].isoformat(),
            "reason": decrypt(tenant_id, member_id, reversal[2]) if decrypt else None,
            "command": orjson.loads(reversal[3]),
        }
        if reversal
        else None
    )
    return explained


def _reversal_entry(award: dict[str, Any]) -> dict[str, Any]:
    reversal = award["reversal"]
    return {
        "award_id": award["award_id"],
        "member_id": award["member_id"],
        "points": -award["points"],
        "kind": "reversal",
        "occurred_at": award["occurred_at"],
        "recorded_at": reversal["recorded_at"],
        "source": {"type": "reversal", "id": award["award_id"]},
        "rule": {"name": "reversal", "version": 1, "inputs": {"reason": reversal["reason"]}},
        "command": reversal["command"],
        "cause_event_id": award["cause_event_id"],
        "position": reversal["position"],
        "behavior": award["behavior"],
        "approval": award["approval"],
        "reversal": reversal,
    }


def _without_personal(payload: dict[str, Any]) -> dict[str, Any]:
    """Sealed personal text stays out of explanations (notes, messages, reasons)."""
    return {
        k: v
        for k, v in payload.items()
        if not (isinstance(v, str) and v.startswith(PERSONAL_PREFIX))
    }


def _reveal_reason(rule: dict[str, Any], tenant_id: str, member_id: str, decrypt: Any) -> None:
    """An adjustment's reason is stored encrypted with the member's key (it is free text
    about them): shown decrypted, and null once the member is forgotten."""
    inputs = rule.get("inputs") or {}
    reason = inputs.get("reason")
    if isinstance(reason, str) and reason.startswith(PERSONAL_PREFIX):
        inputs["reason"] = decrypt(tenant_id, member_id, reason) if decrypt else None


def events_feed(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    after: int,
    limit: int,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    cut = recorded_cut(as_of is not None)
    rows = con.execute(
        f"SELECT {', '.join(ENVELOPE_FIELDS)} FROM events WHERE tenant_id = $tenant "
        f"AND position > $after {cut} ORDER BY position LIMIT $limit",
        _params(tenant_id, as_of, after=after, limit=limit),
    ).fetchall()
    events = []
    for row in rows:
        event = dict(zip(ENVELOPE_FIELDS, row, strict=True))
        event["occurred_at"] = event["occurred_at"].isoformat()
        event["recorded_at"] = event["recorded_at"].isoformat()
        event["payload"] = orjson.loads(event["payload"])
        events.append(event)
    return {"events": events, "as_of_position": as_of_position(con, tenant_id, as_of)}
