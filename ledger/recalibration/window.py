"""A window of behaviors and what the strategy asks of it: the alignment figures of
RULES.md over any span of time (not only a week or a month), with any points.

The masses follow RULES.md "Alignment": each behavior with a revision in force weighs 1
(or its points, for the incentive score), split evenly over its values; the target is
the mass-weighted mean of the revisions' weights. Computed in Python from the
window's behaviors because recalibration changes their points and their mix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import duckdb

from ledger.projections.sql import base_ctes, with_ctes

WINDOW_BEHAVIORS = """
SELECT a.award_id, a.member_id, coalesce(a.team, '') AS team, a.points, a."values",
       r.version, a.occurred_at, a.position
FROM attributed a ASOF LEFT JOIN rev r
  ON a.tenant_id = r.tenant_id AND a.occurred_at >= r.effective_from
WHERE a.kind <> 'adjustment' AND ($team IS NULL OR a.team = $team)
ORDER BY a.position
"""


@dataclass(frozen=True)
class Behavior:
    award_id: str
    member_id: str
    team: str
    points: int
    values: tuple[str, ...]
    version: int | None  # the strategy revision in force when it occurred
    occurred_at: datetime
    position: int


def behaviors(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    lo: datetime,
    hi: datetime,
    team: str | None = None,
) -> list[Behavior]:
    """Counted behaviors (not reversed) that occurred in [lo, hi), in scope."""
    sql = with_ctes(
        base_ctes("tenant_id = $tenant", "a.occurred_at >= $lo AND a.occurred_at < $hi"),
        WINDOW_BEHAVIORS,
    )
    rows = con.execute(sql, {"tenant": tenant_id, "lo": lo, "hi": hi, "team": team}).fetchall()
    return [Behavior(r[0], r[1], r[2], int(r[3]), tuple(r[4]), r[5], r[6], int(r[7])) for r in rows]


def targets(con: duckdb.DuckDBPyConnection, tenant_id: str) -> dict[int, dict[str, float]]:
    """Each revision's target weight per value."""
    found: dict[int, dict[str, float]] = {}
    for version, value, target in con.execute(
        "SELECT version, value, target FROM strategy_targets WHERE tenant_id = ?", [tenant_id]
    ).fetchall():
        found.setdefault(int(version), {})[value] = float(target)
    return found


@dataclass(frozen=True)
class Distributions:
    """Target and observed distributions over the values, and how many behaviors."""

    target: dict[str, float]
    observed: dict[str, float]
    behaviors: int


def distributions(
    window: Iterable[Behavior],
    weights: Mapping[int, Mapping[str, float]],
    mass: Callable[[Behavior], float] = lambda b: 1.0,
) -> Distributions:
    """t and b of RULES.md over the window's behaviors with a revision in force."""
    observed: dict[str, float] = {}
    target: dict[str, float] = {}
    total, count = 0.0, 0
    for behavior in window:
        if behavior.version is None:
            continue
        weight = mass(behavior)
        count += 1
        total += weight
        for value in behavior.values:
            observed[value] = observed.get(value, 0.0) + weight / len(behavior.values)
        for value, w in weights.get(behavior.version, {}).items():
            target[value] = target.get(value, 0.0) + weight * w
    if total <= 0:
        return Distributions({}, {}, count)
    return Distributions(
        {v: m / total for v, m in target.items()},
        {v: m / total for v, m in observed.items()},
        count,
    )


def jsd(t: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence, base-2 logarithms (0 log 0 = 0), within [0, 1]."""
    divergence = 0.0
    for value in set(t) | set(b):
        p, q = t.get(value, 0.0), b.get(value, 0.0)
        mid = (p + q) / 2
        if p > 0:
            divergence += 0.5 * p * math.log2(p / mid)
        if q > 0:
            divergence += 0.5 * q * math.log2(q / mid)
    return min(1.0, max(0.0, divergence))


def score(d: Distributions) -> float | None:
    """100 (1 - JSD(t, b)), unrounded; None with no behavior."""
    if not d.observed:
        return None
    return 100 * (1 - jsd(d.target, d.observed))


def rounded(figure: float | None, places: int = 1) -> float | None:
    # As the SQL does: round to 9 places first, so a tie is a tie however it was summed.
    return None if figure is None else round(round(figure, 9), places)
