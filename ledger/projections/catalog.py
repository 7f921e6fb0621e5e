"""The tenant's catalog as the projections hold it: values, missions, campaigns, members,
strategy revisions and the recognition feed, each a page after a cursor.

A cursor is the last item's sort key, opaque to clients (base64 of JSON): pages stay
stable while new items arrive, and a page costs its own size, not the offset.

With `as_of`, every list is the catalog as it stood with only the events recorded up to
that moment: rows recorded later are left out, and what later events changed in place
(retired, archived, departed, forgotten, declared) is read back from the events as
recorded by then. `now` is then that moment (what was active, running, in force).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import orjson

from ledger.periods import cadence_period
from ledger.projections import cursors, known
from ledger.projections.facts import Decrypt
from ledger.projections.queries import as_of_position, tenant_timezone
from ledger.projections.sql import recorded_cut

Row = dict[str, Any]


def _page(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    as_of: datetime | None,
    rows: list[Row],
    limit: int,
    key: Callable[[Row], Sequence[Any]],
) -> Row:
    more = len(rows) > limit
    items = rows[:limit]
    return {
        "items": items,
        "next_cursor": cursors.encode(key(items[-1])) if more else None,
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Row) -> list[Row]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _params(tenant_id: str, as_of: datetime | None, **more: Any) -> Row:
    return {"t": tenant_id, **more} | ({"as_of": as_of} if as_of is not None else {})


def _later_event(event_type: str, payload_key: str, row_key: str, what: str = "1") -> str:
    """The first `what` of an event of `event_type` about this row recorded by $as_of."""
    return (
        f"(SELECT {what} FROM events e WHERE e.tenant_id = $t "
        f"AND e.event_type = '{event_type}' AND e.payload->>'{payload_key}' = {row_key} "
        "AND e.recorded_at <= $as_of ORDER BY e.position LIMIT 1)"
    )


def values(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    cursor: str | None,
    limit: int,
    as_of: datetime | None = None,
) -> Row:
    after = cursors.decode(cursor, [cursors.text])
    retired = (
        "v.retired"
        if as_of is None
        else f"{_later_event('ValueRetired', 'key', 'v.value')} IS NOT NULL"
    )
    rows = _fetch(
        con,
        f"SELECT v.value AS key, v.name, {retired} AS retired FROM value_catalog v "
        f"WHERE v.tenant_id = $t {recorded_cut(as_of is not None, 'v.')} "
        + ("AND v.value > $after " if after else "")
        + "ORDER BY v.value LIMIT $n",
        _params(tenant_id, as_of, n=limit + 1) | ({"after": after[0]} if after else {}),
    )
    return _page(con, tenant_id, as_of, rows, limit, lambda r: [r["key"]])


MEMBER_COLUMNS = (
    "member_id, display_name, team, joined_at, departed_at, forgotten, "
    "(departed_at IS NULL OR departed_at > $now) AND joined_at <= $now AS active"
)


def _members_at(as_of: bool) -> str:
    """The members as they stand at $now, the ledger's clock (the `members` view answers
    analysts at DuckDB's wall clock), from what was recorded by $as_of when given."""
    departed = (
        "p.departed_at"
        if not as_of
        else _later_event(
            "MemberDeparted",
            "member_id",
            "p.member_id",
            "CAST(e.payload->>'effective_from' AS TIMESTAMPTZ)",
        )
    )
    forgotten = (
        "p.forgotten"
        if not as_of
        else f"{_later_event('MemberForgotten', 'member_id', 'p.member_id')} IS NOT NULL"
    )
    return f"""(
    SELECT p.tenant_id, p.member_id,
           -- A forgotten member's name is gone from every moment: its key is destroyed.
           CASE WHEN p.forgotten THEN NULL ELSE p.display_name END AS display_name,
           (SELECT h.team FROM team_history h
             WHERE h.tenant_id = p.tenant_id AND h.member_id = p.member_id
               AND h.effective_from <= $now {recorded_cut(as_of, "h.")}
             ORDER BY h.effective_from DESC, h.position DESC LIMIT 1) AS team,
           p.joined_at, {departed} AS departed_at, {forgotten} AS forgotten
    FROM member_profiles p WHERE p.tenant_id = $t {recorded_cut(as_of, "p.")}) members"""


def members(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    team: str | None,
    cursor: str | None,
    limit: int,
    as_of: datetime | None = None,
) -> Row:
    """Team and activity now; no contact data (the projections hold none)."""
    known.require(con, tenant_id, team=team)
    after = cursors.decode(cursor, [cursors.text])
    rows = _fetch(
        con,
        f"SELECT {MEMBER_COLUMNS} FROM {_members_at(as_of is not None)} WHERE TRUE "
        + ("AND team = $team " if team else "")
        + ("AND member_id > $after " if after else "")
        + "ORDER BY member_id LIMIT $n",
        _params(tenant_id, as_of, n=limit + 1, now=now)
        | ({"team": team} if team else {})
        | ({"after": after[0]} if after else {}),
    )
    return _page(con, tenant_id, as_of, rows, limit, lambda r: [r["member_id"]])


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
    as_of: datetime | None = None,
) -> Row:
    """Missions by id; `active` keeps those open now; `member_id` keeps those that member
    can complete today (open, in the member's team) and has not completed this period."""
    known.require(con, tenant_id, member_id=member_id)
    after = cursors.decode(cursor, [cursors.text])
    archived = (
        "m.archived"
        if as_of is None
        else f"{_later_event('MissionArchived', 'mission_id', 'm.mission_id')} IS NOT NULL"
    )
    rows = _fetch(
        con,
        'SELECT m.mission_id, m.title, m."values", m.points, m.cadence, '
        f"m.requires_verification, m.starts_at, m.ends_at, m.teams, {archived} AS archived "
        f"FROM missions m WHERE m.tenant_id = $t {recorded_cut(as_of is not None, 'm.')} "
        + ("AND m.mission_id > $after " if after else "")
        + "ORDER BY m.mission_id",
        _params(tenant_id, as_of) | ({"after": after[0]} if after else {}),
    )
    for row in rows:
        row["active"] = _mission_is_active(row, now)
    if active is not None:
        rows = [r for r in rows if r["active"] == active]
    if member_id is not None:
        rows = _open_to(con, tenant_id, member_id, rows, now, as_of)
    return _page(con, tenant_id, as_of, rows[: limit + 1], limit, lambda r: [r["mission_id"]])


def _open_to(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    member_id: str,
    rows: list[Row],
    now: datetime,
    as_of: datetime | None,
) -> list[Row]:
    cut = as_of is not None
    member = con.execute(
        f"SELECT {MEMBER_COLUMNS} FROM {_members_at(cut)} WHERE member_id = $m",
        _params(tenant_id, as_of, m=member_id, now=now),
    ).fetchone()
    if member is None or not member[-1]:
        return []  # unknown, not yet joined or departed: nothing to complete
    team = member[2]
    tz = tenant_timezone(con, tenant_id)
    # Completions that hold a period slot: recorded and not rejected.
    done = con.execute(
        "SELECT c.payload->>'mission_id', c.payload->>'occurred_at' FROM events c "
        "WHERE c.tenant_id = $t AND c.event_type = 'CompletionRecorded' "
        f"AND c.payload->>'member_id' = $m {recorded_cut(cut, 'c.')} "
        "AND NOT EXISTS (SELECT 1 FROM events r "
        "  WHERE r.tenant_id = $t AND r.aggregate_id = c.aggregate_id "
        f"  AND r.event_type = 'CompletionRejected' {recorded_cut(cut, 'r.')})",
        _params(tenant_id, as_of, m=member_id),
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
    as_of: datetime | None = None,
) -> Row:
    """Campaigns by start (newest first), with their status and, once declared, winners."""
    after = cursors.decode(cursor, [cursors.instant, cursors.text])
    declared = (
        "c.declared_winners"
        if as_of is None
        else _later_event(
            "CampaignWinnersDeclared",
            "campaign_id",
            "c.campaign_id",
            "CAST(e.payload->'winners' AS VARCHAR)",
        )
    )
    rows = _fetch(
        con,
        'SELECT c.campaign_id, c.name, c.starts_at, c.ends_at, c."values", c.multiplier, '
        f"c.winners, c.reward, {declared} AS declared_winners FROM campaigns c "
        f"WHERE c.tenant_id = $t {recorded_cut(as_of is not None, 'c.')} "
        + ("AND (c.starts_at, c.campaign_id) < ($after_start, $after_id) " if after else "")
        + "ORDER BY c.starts_at DESC, c.campaign_id DESC LIMIT $n",
        _params(tenant_id, as_of, n=limit + 1)
        | ({"after_start": after[0], "after_id": after[1]} if after else {}),
    )
    for row in rows:
        declared_winners = row.pop("declared_winners")
        row["declared_winners"] = orjson.loads(declared_winners) if declared_winners else None
        row["status"] = (
            "declared"
            if declared_winners
            else "upcoming"
            if now < row["starts_at"]
            else "running"
            if now < row["ends_at"]
            else "ended"
        )
    return _page(
        con, tenant_id, as_of, rows, limit, lambda r: [r["starts_at"].isoformat(), r["campaign_id"]]
    )


def strategy(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    as_of: datetime | None = None,
) -> Row:
    """Every revision (goals and the per-value targets they imply) and the one in force."""
    revisions = _fetch(
        con,
        "SELECT version, effective_from, recorded_at, goals, note FROM strategy_revisions "
        f"WHERE tenant_id = $t {recorded_cut(as_of is not None)} ORDER BY version",
        _params(tenant_id, as_of),
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
    return {
        "revisions": revisions,
        "in_force": in_force["version"] if in_force else None,
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def recognitions(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    member_id: str | None,
    with_messages: bool,
    decrypt: Decrypt | None,
    cursor: str | None,
    limit: int,
    as_of: datetime | None = None,
) -> Row:
    """The feed, newest first: who recognized whom for which value. Messages (personal
    data, sealed under the recipient's key) only when `with_messages`."""
    known.require(con, tenant_id, member_id=member_id)
    after = cursors.decode(cursor, [cursors.position])
    given = (
        "SELECT position, payload->>'recognition_id' AS recognition_id, "
        "payload->>'from_member' AS from_member, payload->>'to_member' AS to_member, "
        "payload->>'value' AS value, (payload->>'points')::INTEGER AS points, "
        "(payload->>'occurred_at')::TIMESTAMPTZ AS occurred_at, "
        "payload->>'message' AS message FROM events "
        "WHERE tenant_id = $t AND event_type = 'RecognitionGiven' "
        + recorded_cut(as_of is not None)
        + (" AND (payload->>'from_member' = $m OR payload->>'to_member' = $m)" if member_id else "")
        + (" AND position < $after" if after else "")
        + " ORDER BY position DESC LIMIT $n"
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
        _params(tenant_id, as_of, n=limit + 1)
        | ({"m": member_id} if member_id else {})
        | ({"after": after[0]} if after else {}),
    )
    for row in rows:
        sealed = row.pop("message")
        if with_messages:
            row["message"] = decrypt(tenant_id, row["to_member"], sealed) if decrypt else None
    return _page(con, tenant_id, as_of, rows, limit, lambda r: [r["position"]])
