"""Who recognizes whom (GET /v1/recognitions/flow): the givers' board beside the
receivers', and the flow between teams, for a week or a month.

Counted from the recognitions given in the period (by their occurred_at, local to the
tenant), each member in the team they were in then. A recognition whose award was
later reversed still counts here: it was given (the leaderboards drop its points).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import duckdb

from ledger.periods import local_midnight
from ledger.projections.queries import as_of_position, period_bounds, tenant_timezone, today
from ledger.projections.sql import recorded_cut, team_at

_GIVEN = """
WITH given AS (
    SELECT payload->>'from_member' AS giver, payload->>'to_member' AS receiver,
           CAST(payload->>'points' AS INTEGER) AS points,
           CAST(payload->>'occurred_at' AS TIMESTAMPTZ) AS occurred_at
    FROM events
    WHERE tenant_id = $t AND event_type = 'RecognitionGiven' {cut}
      AND CAST(payload->>'occurred_at' AS TIMESTAMPTZ) >= $lo
      AND CAST(payload->>'occurred_at' AS TIMESTAMPTZ) < $hi
)
SELECT giver, receiver, points, {giver_team} AS giver_team, {receiver_team} AS receiver_team
FROM given"""


def _board(counts: dict[str, list[int]], limit: int) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    board, rank, last = [], 0, None
    for i, (member, (recognitions, points)) in enumerate(ranked):
        if (recognitions, points) != last:
            rank, last = i + 1, (recognitions, points)
        board.append(
            {"rank": rank, "member_id": member, "recognitions": recognitions, "points": points}
        )
    return board[:limit]


def flow(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    period: str,
    now: datetime,
    at: date | None = None,
    limit: int = 10,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    tz = tenant_timezone(con, tenant_id)
    start, end = period_bounds(period, at or today(tz, now))
    cut = as_of is not None
    params: dict[str, Any] = {
        "t": tenant_id,
        "lo": local_midnight(start, tz),
        "hi": local_midnight(end, tz),
    }
    if cut:
        params["as_of"] = as_of
    rows = con.execute(
        _GIVEN.format(
            cut=recorded_cut(cut),
            giver_team=team_at("giver", "occurred_at", cut=recorded_cut(cut, "h.")),
            receiver_team=team_at("receiver", "occurred_at", cut=recorded_cut(cut, "h.")),
        ),
        params,
    ).fetchall()
    givers: dict[str, list[int]] = {}
    receivers: dict[str, list[int]] = {}
    teams: dict[tuple[str, str], list[int]] = {}
    for giver, receiver, points, giver_team, receiver_team in rows:
        for counts, key in (
            (givers, giver),
            (receivers, receiver),
            (teams, (giver_team or "", receiver_team or "")),
        ):
            entry = counts.setdefault(key, [0, 0])  # type: ignore[arg-type]
            entry[0] += 1
            entry[1] += points
    return {
        "period": {"kind": period, "start": start.isoformat(), "end": end.isoformat()},
        "recognitions": len(rows),
        "givers": _board(givers, limit),
        "receivers": _board(receivers, limit),
        "flow": [
            {"from_team": f, "to_team": t, "recognitions": n, "points": p}
            for (f, t), (n, p) in sorted(teams.items())
        ],
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }
