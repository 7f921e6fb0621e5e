"""The drift watch over the projections: weekly series per (scope, value), the CUSUM of
ledger.drift.watch over them, and the alerts the ledger raised.

The present reads the daily per-team rollups (team_days, team_day_values), so the
answer costs the weeks, not the history. `as_of` computes the same weeks from the
facts recorded by then (as every time-travel query does), with the revisions and
settings recorded by then, and shows only what had been raised and acknowledged.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import orjson

from ledger.drift.watch import (
    WEEK,
    Alert,
    Revision,
    Series,
    Trace,
    alert_id,
    alert_key,
    watch_value,
)
from ledger.errors import NotFound
from ledger.periods import local_date, local_midnight, week_start
from ledger.projections import known
from ledger.projections.queries import TENANT, as_of_position, tenant_timezone
from ledger.projections.sql import base_ctes, recorded_cut, with_ctes

Row = dict[str, Any]
# (scope, team) of a series: ("tenant", None) or ("team", team)
Scope = tuple[str, str | None]

# Behaviors with a revision in force, per team and local week, from the daily rollups.
WEEKLY_COUNTS = """
SELECT coalesce(team, '') AS team, CAST(date_trunc('week', day) AS DATE) AS week,
       sum(behaviors)::DOUBLE AS n
FROM team_days WHERE tenant_id = $tenant AND version IS NOT NULL AND day < $end
GROUP BY ALL
"""
WEEKLY_MASSES = """
SELECT coalesce(team, '') AS team, CAST(date_trunc('week', day) AS DATE) AS week, value,
       sum(share) AS x
FROM team_day_values WHERE tenant_id = $tenant AND version IS NOT NULL AND day < $end
GROUP BY ALL
"""
# The same from the facts recorded by $as_of (the revision in force as then known).
AS_OF_BEHAVIORS = """
, beh AS (
    SELECT coalesce(a.team, '') AS team, a.week_start AS week, a."values",
           len(a."values") AS k
    FROM attributed a ASOF JOIN rev r
      ON a.tenant_id = r.tenant_id AND a.occurred_at >= r.effective_from
    WHERE a.kind <> 'adjustment' AND a.local_date < $end
)"""
AS_OF_COUNTS = "SELECT team, week, count(*)::DOUBLE AS n FROM beh GROUP BY ALL"
AS_OF_MASSES = (
    "SELECT team, week, value, sum(1.0 / k) AS x "
    'FROM (SELECT *, unnest("values") AS value FROM beh) GROUP BY ALL'
)


def drift(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    *,
    now: datetime,
    scope: str | None = None,
    team: str | None = None,
    value: str | None = None,
    as_of: datetime | None = None,
    weeks: bool = False,
) -> Row:
    """GET /v1/drift: every series' state and every alert (computed now, or raised);
    with `weeks`, each alert carries its weeks from its baseline to its week."""
    known.require(con, tenant_id, team=team, value=value)
    evaluation = _evaluate(con, tenant_id, as_of or now, as_of)
    chosen = [
        (key, series)
        for key, series in evaluation.series
        if _chosen(key, series.value, scope, team, value)
    ]
    alerts = [
        a
        for a in _alerts(con, tenant_id, evaluation, as_of)
        if _chosen((a["scope"], a["team"]), a["value"], scope, team, value)
    ]
    if weeks:
        for alert in alerts:
            alert["weeks"] = _weeks_doc(evaluation, alert)
    return {
        "series": [_series_doc(key, s) for key, s in chosen],
        "alerts": alerts,
        "threshold": evaluation.threshold,
        "decline": evaluation.decline,
        "evaluated_at": (as_of or now).isoformat(),
        "as_of_position": as_of_position(con, tenant_id, as_of),
    }


def drift_alert(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    alert: str,
    *,
    now: datetime,
    as_of: datetime | None = None,
) -> Row:
    """One alert with its weeks from its baseline to its week (404 if unknown)."""
    evaluation = _evaluate(con, tenant_id, as_of or now, as_of)
    found = [a for a in _alerts(con, tenant_id, evaluation, as_of) if a["alert_id"] == alert]
    if not found:
        raise NotFound(f"no drift alert {alert}")
    doc = found[0]
    doc["weeks"] = _weeks_doc(evaluation, doc)
    doc["as_of_position"] = as_of_position(con, tenant_id, as_of)
    return doc


def _weeks_doc(evaluation: Evaluation, alert: Row) -> list[Row]:
    trace = evaluation.traces.get(alert["alert_id"])
    if trace is None:  # no longer given by the facts: its weeks as they are now
        trace = _weeks_of(evaluation, alert)
    return [
        {
            "week_start": t.start.isoformat(),
            "behaviors": t.n,
            "mass": round(t.x, 4),
            "cusum": None if t.cusum is None else round(t.cusum, 2),
        }
        for t in trace
    ]


def _chosen(
    key: Scope, of_value: str, scope: str | None, team: str | None, value: str | None
) -> bool:
    return (
        (scope is None or key[0] == scope)
        and (team is None or key[1] == team)
        and (value is None or of_value == value)
    )


class Evaluation:
    """The watch over every series of a tenant at one moment."""

    def __init__(self) -> None:
        self.series: list[tuple[Scope, Series]] = []
        self.computed: dict[str, tuple[Scope, Alert]] = {}
        self.traces: dict[str, list[Trace]] = {}
        self.counts: Counts = {}
        self.masses: Masses = {}
        self.decline = 0.3
        self.threshold = 9.0
        self.timezone = "UTC"
        self.this_week: date = date.min  # the week of the moment (not complete)

    def weeks(self, key: Scope, value: str) -> dict[date, tuple[float, float]]:
        """week -> (n, x) of one series, for the weeks with behaviors."""
        masses = self.masses.get(key, {}).get(value, {})
        return {w: (n, masses.get(w, 0.0)) for w, n in self.counts.get(key, {}).items()}


def _evaluate(
    con: duckdb.DuckDBPyConnection, tenant_id: str, moment: datetime, as_of: datetime | None
) -> Evaluation:
    tz = tenant_timezone(con, tenant_id)
    settings = _settings(con, tenant_id, as_of)
    evaluation = Evaluation()
    evaluation.decline = float(settings.get("drift_decline", 0.3))
    evaluation.threshold = float(settings.get("drift_threshold", 9.0))
    # The last complete week: its end (next Monday 00:00 local) is not later than the moment.
    this_week = week_start(local_date(moment, tz))
    last_week = this_week - WEEK
    evaluation.timezone, evaluation.this_week = tz, this_week
    revisions = _revisions(con, tenant_id, moment, tz, as_of)
    evaluation.counts, evaluation.masses = _weekly(con, tenant_id, this_week, as_of)
    watched = sorted({v for r in revisions for v, t in r.targets.items() if t > 0})
    for key in sorted(evaluation.counts, key=lambda k: (k[0] != "tenant", k[1] or "")):
        for value in watched:
            series, alerts = watch_value(
                value,
                evaluation.weeks(key, value),
                revisions,
                last_week,
                evaluation.decline,
                evaluation.threshold,
            )
            if series is not None:
                evaluation.series.append((key, series))
            for alert in alerts:
                ident = str(
                    alert_id(
                        tenant_id,
                        *alert_key(
                            key[0], key[1], value, alert.strategy_version, alert.baseline_from
                        ),
                    )
                )
                evaluation.computed[ident] = (key, alert)
                evaluation.traces[ident] = alert.trace
    return evaluation


def _settings(con: duckdb.DuckDBPyConnection, tenant_id: str, as_of: datetime | None) -> Row:
    if as_of is None:
        row = con.execute(
            "SELECT settings FROM tenants WHERE tenant_id = ?", [tenant_id]
        ).fetchone()
    else:
        row = con.execute(
            "SELECT payload->'settings' FROM events WHERE tenant_id = ? "
            "AND event_type IN ('TenantCreated', 'TenantSettingsChanged') AND recorded_at <= ? "
            "ORDER BY position DESC LIMIT 1",
            [tenant_id, as_of],
        ).fetchone()
    settings: Row = orjson.loads(row[0]) if row and row[0] else {}
    return settings


def _revisions(
    con: duckdb.DuckDBPyConnection,
    tenant_id: str,
    moment: datetime,
    tz: str,
    as_of: datetime | None,
) -> list[Revision]:
    """Every revision in force by the moment (and recorded by as_of), with its epoch's
    first week and the week it straddles (when it does not begin on a week start)."""
    rows = con.execute(
        "SELECT r.version, r.effective_from, "
        "  list({'value': t.value, 'target': t.target}) FILTER (WHERE t.value IS NOT NULL) "
        "FROM strategy_revisions r LEFT JOIN strategy_targets t "
        "  ON t.tenant_id = r.tenant_id AND t.version = r.version "
        "WHERE r.tenant_id = $tenant AND r.effective_from <= $moment "
        f"{recorded_cut(as_of is not None, 'r.')} "
        "GROUP BY ALL ORDER BY r.version",
        {"tenant": tenant_id, "moment": moment} | ({"as_of": as_of} if as_of else {}),
    ).fetchall()
    revisions = []
    for version, effective_from, targets in rows:
        day = local_date(effective_from, tz)
        monday = week_start(day)
        on_a_week_start = local_midnight(monday, tz) == effective_from
        revisions.append(
            Revision(
                int(version),
                monday if on_a_week_start else monday + WEEK,
                None if on_a_week_start else monday,
                {t["value"]: float(t["target"]) for t in targets or []},
            )
        )
    return revisions


Counts = dict[Scope, dict[date, float]]
Masses = dict[Scope, dict[str, dict[date, float]]]


def _weekly(
    con: duckdb.DuckDBPyConnection, tenant_id: str, end: date, as_of: datetime | None
) -> tuple[Counts, Masses]:
    """Per (scope, team): behaviors per week (n), and per value the mass per week (x), for
    the weeks before `end` (a week start). A team's weeks add up to the tenant's."""
    params: Row = {"tenant": tenant_id, "end": end}
    if as_of is None:
        counts = con.execute(WEEKLY_COUNTS, params).fetchall()
        masses = con.execute(WEEKLY_MASSES, params).fetchall()
    else:
        ctes = base_ctes(TENANT, "TRUE", as_of=True) + AS_OF_BEHAVIORS
        params["as_of"] = as_of
        counts = con.execute(with_ctes(ctes, AS_OF_COUNTS), params).fetchall()
        masses = con.execute(with_ctes(ctes, AS_OF_MASSES), params).fetchall()
    n: Counts = defaultdict(lambda: defaultdict(float))
    for team, week, count in counts:
        for key in (("tenant", None), ("team", team or None)):
            n[key][week] += count
    x: Masses = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))
    for team, week, value, mass in masses:
        for key in (("tenant", None), ("team", team or None)):
            x[key][value][week] += mass
    return n, x


def _figures(key: Scope, alert: Alert) -> Row:
    return {
        "scope": key[0],
        "team": key[1],
        "value": alert.value,
        "strategy_version": alert.strategy_version,
        "baseline_from": alert.baseline_from.isoformat(),
        "baseline_to": alert.baseline_to.isoformat(),
        "baseline_share": round(alert.baseline_share, 4),
        "reference": round(alert.reference, 4),
        "target": round(alert.target, 4),
        "onset": alert.onset.isoformat(),
        "week": alert.week.isoformat(),
        "share_since_onset": round(alert.share_since_onset, 4),
        "behaviors_since_onset": round(alert.behaviors_since_onset),
        "cusum": round(alert.cusum, 2),
    }


RAISED_FIGURES = (
    "scope",
    "team",
    "value",
    "strategy_version",
    "baseline_from",
    "baseline_to",
    "baseline_share",
    "reference",
    "target",
    "onset",
    "week",
    "share_since_onset",
    "behaviors_since_onset",
    "cusum",
)


def _alerts(
    con: duckdb.DuckDBPyConnection, tenant_id: str, evaluation: Evaluation, as_of: datetime | None
) -> list[Row]:
    """The alerts the facts give now (current), and those raised that they no longer give."""
    cut = as_of is not None
    raised = {
        row[0]: row
        for row in con.execute(
            "SELECT alert_id, raised_at, position, figures, acknowledged_at, by_key_label, "
            "note, lever, acknowledged_position FROM drift_alerts "
            f"WHERE tenant_id = $tenant {'AND raised_at <= $as_of' if cut else ''}",
            {"tenant": tenant_id} | ({"as_of": as_of} if cut else {}),
        ).fetchall()
    }
    docs: list[Row] = []
    for ident in sorted(set(evaluation.computed) | set(raised)):
        computed = evaluation.computed.get(ident)
        record = raised.get(ident)
        if computed is not None:
            figures = _figures(*computed)
        else:
            assert record is not None
            stored = orjson.loads(record[3])
            figures = {k: stored.get(k) for k in RAISED_FIGURES}
            figures["behaviors_since_onset"] = round(figures["behaviors_since_onset"])
        acknowledged = None
        if record is not None and record[4] is not None and (not cut or record[4] <= as_of):
            acknowledged = {
                "at": record[4].isoformat(),
                "position": record[8],
                "by_key_label": record[5],
                "note": record[6],
                "lever": orjson.loads(record[7]) if record[7] else None,
            }
        docs.append(
            {
                **figures,
                "alert_id": ident,
                "current": computed is not None,
                "raised": {"at": record[1].isoformat(), "position": record[2]} if record else None,
                "acknowledged": acknowledged,
                "follow_up": (
                    _follow_up(evaluation, figures, record[4])
                    if acknowledged and record is not None
                    else None
                ),
            }
        )
    # Current alerts first, each group newest week first.
    docs.sort(key=lambda a: a["week"], reverse=True)
    docs.sort(key=lambda a: not a["current"])
    return docs


FOLLOW_UP_WEEKS = 4


def _follow_up(evaluation: Evaluation, alert: Row, acknowledged_at: datetime) -> Row | None:
    """RULES.md "Recalibration", follow-up: once 4 complete weeks have passed since the
    acknowledgement, the value's share in the 4 weeks before the alert week and in the 4
    complete weeks after the acknowledgement, with the behaviors behind each."""
    day = local_date(acknowledged_at, evaluation.timezone)
    monday = week_start(day)
    on_a_week_start = local_midnight(monday, evaluation.timezone) == acknowledged_at
    after_from = monday if on_a_week_start else monday + WEEK
    span = FOLLOW_UP_WEEKS * WEEK
    if after_from + span > evaluation.this_week:
        return None  # not yet 4 complete weeks since
    weeks = evaluation.weeks((alert["scope"], alert["team"]), alert["value"])
    alert_week = date.fromisoformat(alert["week"])

    def stretch(first: date) -> Row:
        stretch_weeks = [first + index * WEEK for index in range(FOLLOW_UP_WEEKS)]
        counted = [weeks.get(start, (0.0, 0.0)) for start in stretch_weeks]
        rows = [
            {"week_start": start.isoformat(), "behaviors": n, "mass": round(x, 4)}
            for start, (n, x) in zip(stretch_weeks, counted, strict=True)
        ]
        n_sum = sum(n for n, _ in counted)
        mass = sum(x for _, x in counted)
        return {
            "from": first.isoformat(),
            "to": (first + span).isoformat(),
            "share": round(mass / n_sum, 4) if n_sum else None,
            "behaviors": round(n_sum),
            "weeks": rows,
        }

    before, after = stretch(alert_week - span), stretch(after_from)
    change = (
        round(after["share"] - before["share"], 4)
        if after["share"] is not None and before["share"] is not None
        else None
    )
    return {"before": before, "after": after, "change": change}


def _series_doc(key: Scope, series: Series) -> Row:
    return {
        "scope": key[0],
        "team": key[1],
        "value": series.value,
        "state": series.state,
        "weeks": series.weeks,
        "cusum": None if series.cusum is None else round(series.cusum, 2),
        "onset": series.onset.isoformat() if series.onset else None,
        "baseline_share": None
        if series.baseline_share is None
        else round(series.baseline_share, 4),
        "reference": None if series.reference is None else round(series.reference, 4),
        "target": None if series.target is None else round(series.target, 4),
    }


def _rounded(figure: float | None, places: int) -> float | None:
    return None if figure is None else round(figure, places)


def _weeks_of(evaluation: Evaluation, alert: Row) -> list[Trace]:
    """An alert the facts no longer give: its weeks as they are now, with the CUSUM of its
    raised reference from the week after its baseline."""
    import math

    weeks = evaluation.weeks((alert["scope"], alert["team"]), alert["value"])
    p0 = float(alert["reference"])
    p1 = (1 - evaluation.decline) * p0
    hit, miss = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    start = date.fromisoformat(alert["baseline_from"])
    baseline_to = date.fromisoformat(alert["baseline_to"])
    end = date.fromisoformat(alert["week"])
    trace, cusum, week = [], 0.0, start
    while week <= end:
        n, x = weeks.get(week, (0.0, 0.0))
        monitored = week > baseline_to
        if monitored:
            cusum = max(0.0, cusum + x * hit + (n - x) * miss)
        trace.append(Trace(week, n, x, cusum if monitored else None))
        week += timedelta(days=7)
    return trace
