"""The formulas of RULES.md as set-based DuckDB SQL, written once.

`base_ctes` yields awards attributed to the member's team at occurred_at
(effective-dated team history as known, ties won by the later recorded
move) with local day/week/month in the tenant's timezone. With `as_of`,
every source is cut at recorded_at <= $as_of: time travel. The same CTEs
feed the materialized tables and the live queries.
"""

from __future__ import annotations

REV = "rev AS (SELECT tenant_id, version, effective_from FROM strategy_revisions WHERE {tenants})"


def recorded_cut(as_of: bool, alias: str = "") -> str:
    """The time-travel filter: only rows recorded up to $as_of (empty without as_of)."""
    return f"AND {alias}recorded_at <= $as_of" if as_of else ""


def team_at(
    member: str,
    moment: str | None = None,
    *,
    before: bool = False,
    cut: str = "",
    tenant: str = "$t",
) -> str:
    """SQL for the team `member` (an SQL expression) was in at `moment` (an expression;
    None: the latest move), by the moves recorded (`cut`: a time-travel filter on `h.`).
    `before`: moves effective strictly before the moment."""
    when = f"AND h.effective_from {'<' if before else '<='} {moment} " if moment else ""
    return (
        f"(SELECT h.team FROM team_history h WHERE h.tenant_id = {tenant} "
        f"AND h.member_id = {member} {when}{cut} "
        "ORDER BY h.effective_from DESC, h.position DESC LIMIT 1)"
    )


def base_ctes(tenants: str, award_window: str = "TRUE", as_of: bool = False) -> str:
    """CTEs team_hist, attributed, rev. `tenants`/`award_window` are SQL conditions."""
    cut = recorded_cut(as_of)
    return f"""
team_hist AS (
    SELECT tenant_id, member_id, effective_from, team FROM team_history
    WHERE {tenants} {cut}
    QUALIFY row_number() OVER (
        PARTITION BY tenant_id, member_id, effective_from ORDER BY position DESC) = 1
),
aw AS (
    SELECT a.*, timezone(t.timezone, a.occurred_at) AS local_ts
    FROM (SELECT * FROM awards WHERE {tenants}) a JOIN tenants t USING (tenant_id)
    WHERE {award_window}
          {recorded_cut(as_of, "a.")}
      AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.tenant_id = a.tenant_id
                      AND r.award_id = a.award_id {recorded_cut(as_of, "r.")})
),
-- Each team as a span [from, to) per member: the team at an instant is a hash join on
-- the member and a range test. The ASOF join it replaces sorted every award of the
-- window (307 of 370 ms of a time-travel leaderboard on a million behaviors).
team_spans AS (
    SELECT tenant_id, member_id, team, effective_from,
           lead(effective_from) OVER (
               PARTITION BY tenant_id, member_id ORDER BY effective_from) AS effective_to
    FROM team_hist
),
attributed AS (
    SELECT aw.*, h.team,
           CAST(aw.local_ts AS DATE) AS local_date,
           CAST(date_trunc('week', aw.local_ts) AS DATE) AS week_start,
           CAST(date_trunc('month', aw.local_ts) AS DATE) AS month_start
    FROM aw LEFT JOIN team_spans h
      ON aw.tenant_id = h.tenant_id AND aw.member_id = h.member_id
     AND aw.occurred_at >= h.effective_from
     AND (h.effective_to IS NULL OR aw.occurred_at < h.effective_to)
),
""" + REV.format(tenants=f"{tenants} {cut}")


# Daily rollups: the only derived rows computed from the fact tables. Everything a
# live query or a period table needs is a sum over them, so a batch re-derives the
# days it touched and then the weeks and months holding them: the cost is what
# changed, never the tenant's history. `version` is the strategy revision in force
# at the award's occurred_at (NULL before the first); `team` the team then.
TOUCHED_AWARDS = """
SELECT a.tenant_id, a.local_date AS day, a.member_id, a.team, r.version, a.kind, a.points,
       a."values"
FROM attributed a ASOF LEFT JOIN rev r
  ON a.tenant_id = r.tenant_id AND a.occurred_at >= r.effective_from
WHERE {where}
"""

# Per member and day (from `touched`, the awards of the re-derived days).
DAILY_POINTS = """
SELECT tenant_id, day, member_id, team, version, sum(points) AS points,
       count(*) FILTER (WHERE kind <> 'adjustment') AS behaviors,
       coalesce(sum(points) FILTER (WHERE kind <> 'adjustment'), 0) AS behavior_points
FROM touched GROUP BY ALL
"""

# Per member, day and value: an award tagged with k values adds 1/k of a behavior and
# points/k of its points to each (RULES.md alignment); whole counts feed the heatmap
# and the value filters.
DAILY_VALUES = """
SELECT tenant_id, day, member_id, team, version, value,
       count(*) AS behaviors, sum(points) AS points,
       sum(1.0 / k) AS share, sum(points / k) AS share_points
FROM (SELECT *, unnest("values") AS value, len("values") AS k FROM touched
      WHERE kind <> 'adjustment')
GROUP BY ALL
"""

# Per team and day, without the members: the heatmap and alignment read these, so a
# month of figures is a few hundred rows however many people the company has.
TEAM_DAYS = """
SELECT tenant_id, day, team, version, sum(behaviors) AS behaviors,
       sum(behavior_points) AS points
FROM new_daily_points WHERE behaviors > 0 GROUP BY ALL
"""

TEAM_DAY_VALUES = """
SELECT tenant_id, day, team, version, value, sum(behaviors) AS behaviors,
       sum(points) AS points, sum(share) AS share, sum(share_points) AS share_points
FROM new_daily_values GROUP BY ALL
"""

# Each re-derived rollup table and how its new rows are made, in order.
ROLLUPS = (
    ("daily_points", DAILY_POINTS),
    ("daily_values", DAILY_VALUES),
    ("team_days", TEAM_DAYS),
    ("team_day_values", TEAM_DAY_VALUES),
)

WEEK_OF_DAY = "CAST(date_trunc('week', day) AS DATE)"
MONTH_OF_DAY = "CAST(date_trunc('month', day) AS DATE)"

LEADERBOARD_WEEKLY = f"""
SELECT tenant_id, {WEEK_OF_DAY} AS week_start, member_id, sum(points) AS points,
       CAST(rank() OVER (PARTITION BY tenant_id, week_start ORDER BY sum(points) DESC)
            AS INTEGER) AS rank
FROM daily_points d WHERE {{where}}
GROUP BY tenant_id, week_start, member_id HAVING sum(points) <> 0
"""

HEATMAP = f"""
SELECT tenant_id, team, value, {WEEK_OF_DAY} AS week_start, sum(behaviors) AS behaviors,
       sum(points) AS points
FROM team_day_values d WHERE {{where}}
GROUP BY tenant_id, team, value, week_start
"""

# The same cells straight from the facts, for time travel (`attributed` cut at as_of).
HEATMAP_FROM_AWARDS = """
SELECT tenant_id, team, value, week_start, count(*) AS behaviors, sum(points) AS points
FROM (SELECT *, unnest("values") AS value FROM attributed WHERE kind <> 'adjustment' AND {where})
GROUP BY tenant_id, team, value, week_start
"""


def _four_groups(source: str, columns: str, week: str, month: str) -> str:
    """Each row with a revision in force belongs to four groups: tenant and team scope, by
    week and by month (`week` and `month` are the expressions of its period starts)."""
    return " UNION ALL ".join(
        f"SELECT tenant_id, '{scope}' AS scope, {team} AS team, '{period}' AS period, "
        f"{start} AS period_start, {columns} FROM {source}"
        for scope, team in (("tenant", "''"), ("team", "team"))
        for period, start in (("week", week), ("month", month))
    )


_DAILY_POINT_GROUPS = _four_groups("dp", "version, behaviors, points", WEEK_OF_DAY, MONTH_OF_DAY)
_DAILY_VALUE_GROUPS = _four_groups("dv", "value, share, share_points", WEEK_OF_DAY, MONTH_OF_DAY)
_BEHAVIOR_GROUPS = _four_groups("beh", 'points, "values", k, version', "week_start", "month_start")

# Alignment inputs per group: totals (n behaviors, p points), observed mass per value
# (m, pm) and target mass per value (m, pm). Two sources, one formula (ALIGNMENT_FIGURES).
ALIGNMENT_FROM_DAILY = f"""
, dp AS (
    SELECT tenant_id, coalesce(team, '') AS team, day, version, behaviors, points
    FROM team_days WHERE {{tenants}} AND {{days}} AND version IS NOT NULL
), dv AS (
    SELECT tenant_id, coalesce(team, '') AS team, day, value, share, share_points
    FROM team_day_values WHERE {{tenants}} AND {{days}} AND version IS NOT NULL
), gp AS (
    SELECT * FROM ({_DAILY_POINT_GROUPS}) g WHERE {{where}}
), gv AS (
    SELECT * FROM ({_DAILY_VALUE_GROUPS}) g WHERE {{where}}
), totals AS (
    SELECT tenant_id, scope, team, period, period_start, sum(behaviors) AS n,
           sum(points)::DOUBLE AS p
    FROM gp GROUP BY ALL
), obs AS (
    SELECT tenant_id, scope, team, period, period_start, value,
           sum(share) AS m, sum(share_points) AS pm
    FROM gv GROUP BY ALL
), tgt AS (
    SELECT g.tenant_id, scope, team, period, period_start, st.value,
           sum(g.behaviors * st.target) AS m, sum(g.points * st.target) AS pm
    FROM gp g JOIN strategy_targets st ON st.tenant_id = g.tenant_id AND st.version = g.version
    GROUP BY ALL
)"""

ALIGNMENT_FROM_AWARDS = f"""
, beh AS (
    SELECT a.tenant_id, coalesce(a.team, '') AS team, a.week_start, a.month_start, a.points,
           a."values", len(a."values") AS k, r.version, a.occurred_at
    FROM attributed a ASOF JOIN rev r
      ON a.tenant_id = r.tenant_id AND a.occurred_at >= r.effective_from
    WHERE a.kind <> 'adjustment'
), g AS (
    SELECT * FROM ({_BEHAVIOR_GROUPS}) g WHERE {{where}}
), totals AS (
    SELECT tenant_id, scope, team, period, period_start, count(*) AS n,
           sum(points)::DOUBLE AS p
    FROM g GROUP BY ALL
), obs AS (
    SELECT tenant_id, scope, team, period, period_start, value,
           sum(1.0 / k) AS m, sum(points / k) AS pm
    FROM (SELECT *, unnest("values") AS value FROM g) GROUP BY ALL
), tgt AS (
    SELECT g.tenant_id, scope, team, period, period_start, st.value,
           sum(st.target) AS m, sum(points * st.target) AS pm
    FROM g JOIN strategy_targets st ON st.tenant_id = g.tenant_id AND st.version = g.version
    GROUP BY ALL
)"""

ALIGNMENT_FIGURES = """
, dist AS (
    SELECT tenant_id, scope, team, period, period_start, value, n,
           coalesce(tgt.m, 0) / n AS t, coalesce(obs.m, 0) / n AS b,
           coalesce(tgt.pm, 0) / p AS ti, coalesce(obs.pm, 0) / p AS bi
    FROM obs FULL JOIN tgt USING (tenant_id, scope, team, period, period_start, value)
    JOIN totals USING (tenant_id, scope, team, period, period_start)
), figures AS (
    SELECT tenant_id, scope, team, period, period_start, any_value(n) AS behaviors,
           greatest(0.0, least(1.0,
             0.5 * sum(CASE WHEN t > 0 THEN t * log2(t / ((t + b) / 2)) ELSE 0 END)
           + 0.5 * sum(CASE WHEN b > 0 THEN b * log2(b / ((t + b) / 2)) ELSE 0 END))) AS jsd,
           greatest(0.0, least(1.0,
             0.5 * sum(CASE WHEN ti > 0 THEN ti * log2(ti / ((ti + bi) / 2)) ELSE 0 END)
           + 0.5 * sum(CASE WHEN bi > 0 THEN bi * log2(bi / ((ti + bi) / 2)) ELSE 0 END)))
             AS jsd_incentive,
           sum(CASE WHEN b > 0 THEN t ELSE 0 END) AS coverage,
           sum(CASE WHEN t = 0 THEN b ELSE 0 END) AS off_strategy_share,
           list({'value': value, 'target': round(round(t, 9), 4),
                  'observed': round(round(b, 9), 4),
                  'gap': round(round(b - t, 9), 4)} ORDER BY value)
             FILTER (WHERE t > 0 OR b > 0) AS "values"
    FROM dist GROUP BY tenant_id, scope, team, period, period_start
)
SELECT f.tenant_id, f.scope, NULLIF(f.team, '') AS team, f.period, f.period_start,
       -- Sums of doubles differ in their last bits with the order of summation (a rebuild
       -- and a catch-up add in different orders): rounding to 9 places first makes an
       -- exact tie a tie in both, so the displayed figure is the same.
       f.behaviors, round(round(100 * (1 - f.jsd), 9), 1) AS score,
       round(round(100 * (1 - f.jsd_incentive), 9), 1) AS incentive_score,
       round(round(f.coverage, 9), 4) AS coverage,
       round(round(f.off_strategy_share, 9), 4) AS off_strategy_share,
       (SELECT max(r.version) FROM rev r JOIN tenants t USING (tenant_id)
         WHERE r.tenant_id = f.tenant_id
           AND r.effective_from < timezone(t.timezone, CAST(
               f.period_start + CASE WHEN f.period = 'week' THEN INTERVAL 7 DAY
                                     ELSE INTERVAL 1 MONTH END AS TIMESTAMP))
       ) AS strategy_version,
       f."values"
FROM figures f
"""


def with_ctes(ctes: str, body: str) -> str:
    return f"WITH {ctes}\n{body}"
