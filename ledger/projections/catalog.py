"""The tenant's catalog as the projections hold it: values, missions, campaigns, members,
strategy revisions and the recognition feed, each a page after a cursor.

A cursor is the last item's sort key, opaque to clients (base64 of JSON): pages stay
stable while new items arrive, and a page costs its own size, not the offset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import orjson

from ledger.periods import cadence_period
from ledger.projections import cursors
from ledger.projections.facts import Decrypt
from ledger.projections.queries import tenant_timezone

Row = dict[str, Any]


def _page(rows: list[Row], limit: int, key: Callable[[Row], Sequence[Any]]) -> Row:
    more = len(rows) > limit
    items = rows[:limit]
    return {"items": items, "next_cursor": cursors.encode(key(items[-1])) if more else None}


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Row) -> list[Row]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def values(
    con: duckdb.DuckDBPyConnection, tenant_id: str, *, cursor: str | None, limit: int
) -> Row:
    after = cursors.decode(cursor, [cursors.text])
    rows = _fetch(
        con,
        "SELECT value AS key, name, retired FROM value_catalog WHERE tenant_id = $t "
        + ("AND value > $after " if after else "")
        + "ORDER BY value LIMIT $n",
        {"t": tenant_id, "n": limit + 1} | ({"after": after[0]} if after else {}),
    )
    return _page(rows, limit, lambda r: [r["key"]])


MEMBER_COLUMNS = (
    "member_id, display_name, team, joined_at, departed_at, forgotten, "
    "(departed_at IS NULL OR departed_at > $now) AND joined_at <= $now AS active"
)
# The `members` view as it stands at $now, the ledger's clock (the view itself answers
# analysts at DuckDB's wall clock).
MEMBERS_AT_NOW = """(
    SELECT p.tenant_id, p.member_id,
           CASE WHEN p.forgotten THEN NULL ELSE p.display_name END AS display_name,
           (SELECT h.team FROM team_history h
             WHERE h.tenant_id = p.tenant_id AND h.member_id = p.member_id
               AND h.effective_from <= $now
             ORDER BY h.effective_from DESC, h.position DESC LIMIT 1) AS team,
           p.joined_at, p.departed_at, p.forgotten
    FROM member_profiles p WHERE p.tenant_id = $t) members"""


def members(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    team: str | None,
    cursor: str | None,
    limit: int,
) -> Row:
    """Team and activity now; no contact data (the projections hold none)."""
    after = cursors.decode(cursor, [cursors.text])
    rows = _fetch(
        con,
        f"SELECT {MEMBER_COLUMNS} FROM {MEMBERS_AT_NOW} WHERE tenant_id = $t "
        + ("AND team = $team " if team else "")
        + ("AND member_id > $after " if after else "")
        + "ORDER BY member_id LIMIT $n",
        {"t": tenant_id, "n": limit + 1, "now": now}
        | ({"team": team} if team else {})
        | ({"after": after[0]} if after else {}),
    )
    return _page(rows, limit, lambda r: [r["member_id"]])


def _mission_is_active(mission: Row, now: datetime) -> bool:
    return (
        not mission["archived"]
        and (mission["starts_at"] is None or mission["starts_at"] <= now)
        and (mission["ends_at"] is None or now < mission["ends_at"])
    )


def missions(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    active: bool | None,
    member_id: str | None,
    cursor: str | None,
    limit: int,
) -> Row:
    """Missions by id; `active` keeps those open now; `member_id` keeps those that member
    can complete today (open, in the member's team) and has not completed this period."""
    after = cursors.decode(cursor, [cursors.text])
    rows = _fetch(
        con,
        'SELECT mission_id, title, "values", points, cadence, requires_verification, '
        "starts_at, ends_at, teams, archived FROM missions WHERE tenant_id = $t "
        + ("AND mission_id > $after " if after else "")
        + "ORDER BY mission_id",
        {"t": tenant_id} | ({"after": after[0]} if after else {}),
    )
    for row in rows:
        row["active"] = _mission_is_active(row, now)
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    if member_id is not None:
        rows = _open_to(con, tenant_id, member_id, rows, now)
    return _page(rows[: limit + 1], limit, lambda r: [r["mission_id"]])


def _open_to(
    con: duckdb.DuckDBPyConnection, tenant_id: str, member_id: str, rows: list[Row], now: datetime
) -> list[Row]:
    member = con.execute(
        f"SELECT {MEMBER_COLUMNS} FROM {MEMBERS_AT_NOW} WHERE member_id = $m",
        {"t": tenant_id, "m": member_id, "now": now},
    ).fetchone()
    if member is None or not member[-1]:
        return []  # unknown, not yet joined or departed: nothing to complete
    team = member[2]
    tz = tenant_timezone(con, tenant_id)
    # Completions that hold a period slot: recorded and not rejected.
    done = con.execute(
        "SELECT c.payload->>'mission_id', c.payload->>'occurred_at' FROM events c "
        "WHERE c.tenant_id = $t AND c.event_type = 'CompletionRecorded' "
        "AND c.payload->>'member_id' = $m AND NOT EXISTS (SELECT 1 FROM events r "
        "  WHERE r.tenant_id = $t AND r.aggregate_id = c.aggregate_id "
        "  AND r.event_type = 'CompletionRejected')",
        {"t": tenant_id, "m": member_id},
    ).fetchall()
    cadence = {r["mission_id"]: r["cadence"] for r in rows}
    slots = {
        (mission_id, cadence_period(cadence[mission_id], datetime.fromisoformat(moment), tz))
        for mission_id, moment in done
        if mission_id in cadence
    }
    return [
        r
        for r in rows
        if r["active"]
        and (not r["teams"] or team in r["teams"])
        and (r["mission_id"], cadence_period(r["cadence"], now, tz)) not in slots
    ]


def campaigns(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> Row:
    """Campaigns by start (newest first), with their status and, once declared, winners."""
    after = cursors.decode(cursor, [cursors.instant, cursors.text])
    rows = _fetch(
        con,
        'SELECT campaign_id, name, starts_at, ends_at, "values", multiplier, winners, reward, '
        "declared_winners FROM campaigns WHERE tenant_id = $t "
        + (
            "AND (starts_at, campaign_id) < ($after_start, $after_id) "
            if after
            else ""
        )
        + "ORDER BY starts_at DESC, campaign_id DESC LIMIT $n",
        {"t": tenant_id, "n": limit + 1}
        | ({"after_start": after[0], "after_id": after[1]} if after else {}),
    )
    for row in rows:
        declared = row.pop("declared_winners")
        row["declared_winners"] = orjson.loads(declared) if declared else None
        row["status"] = (
            "declared"
            if declared
            else "upcoming"
            if now < row["starts_at"]
            else "running"
            if now < row["ends_at"]
            else "ended"
        )
    return _page(rows, limit, lambda r: [r["starts_at"].isoformat(), r["campaign_id"]])


def strategy(con: duckdb.DuckDBPyConnection, tenant_id: str, *, now: datetime) -> Row:
    """Every revision (goals and the per-value targets they imply) and the one in force."""
    revisions = _fetch(
        con,
        "SELECT version, effective_from, recorded_at, goals, note FROM strategy_revisions "
        "WHERE tenant_id = $t ORDER BY version",
        {"t": tenant_id},
    )
    targets: dict[int, list[Row]] = {}
    for version, value, target in con.execute(
        "SELECT version, value, target FROM strategy_targets WHERE tenant_id = $t "
        "ORDER BY version, value",
        {"t": tenant_id},
    ).fetchall():
        targets.setdefault(version, []).append({"value": value, "target": target})
    in_force = None
    for revision in revisions:
        revision["goals"] = orjson.loads(revision["goals"]) if revision["goals"] else []
        revision["targets"] = targets.get(revision["version"], [])
        in_effect = revision["effective_from"] <= now
        if in_effect and (
            in_force is None or revision["effective_from"] >= in_force["effective_from"]
        ):
            in_force = revision
    return {"revisions": revisions, "in_force": in_force["version"] if in_force else None}


def recognitions(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    member_id: str | None,
    with_messages: bool,
    decrypt: Decrypt | None,
    cursor: str | None,
    limit: int,
) -> Row:
    """The feed, newest first: who recognized whom for which value. Messages (personal
    data, sealed under the recipient's key) only when `with_messages`."""
    after = cursors.decode(cursor, [cursors.position])
    given = (
        "SELECT position, payload->>'recognition_id' AS recognition_id, "
        "payload->>'from_member' AS from_member, payload->>'to_member' AS to_member, "
        "payload->>'value' AS value, (payload->>'points')::INTEGER AS points, "
        "(payload->>'occurred_at')::TIMESTAMPTZ AS occurred_at, "
        "payload->>'message' AS message FROM events "
        "WHERE tenant_id = $t AND event_type = 'RecognitionGiven' "
        + ("AND (payload->>'from_member' = $m OR payload->>'to_member' = $m) " if member_id else "")
        + ("AND position < $after " if after else "")
        + "ORDER BY position DESC LIMIT $n"
    )
    # Names as the members table shows them (null once a member was forgotten).
    name = (
        "(SELECT CASE WHEN p.forgotten THEN NULL ELSE p.display_name END "
        "FROM member_profiles p WHERE p.tenant_id = $t AND p.member_id = r.{side})"
    )
    rows = _fetch(
        con,
        f"SELECT r.*, {name.format(side='from_member')} AS from_name, "
        f"{name.format(side='to_member')} AS to_name FROM ({given}) r ORDER BY r.position DESC",
        {"t": tenant_id, "n": limit + 1}
        | ({"m": member_id} if member_id else {})
        | ({"after": after[0]} if after else {}),
    )
    for row in rows:
        sealed = row.pop("message")
        if with_messages:
            row["message"] = decrypt(tenant_id, row["to_member"], sealed) if decrypt else None
    return _page(rows, limit, lambda r: [r["position"]])
