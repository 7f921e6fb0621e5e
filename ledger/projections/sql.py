"""The formulas of RULES.md as set-based DuckDB SQL, written once.

`base_ctes` yields awards attributed to the member's team at occurred_at
(effective-dated team history as known, ties won by the later recorded
move) with local day/week/month in the tenant's timezone. With `as_of`,
every source is cut at recorded_at <= $as_of: time travel. The same CTEs
feed the materialized tables and the live queries.
"""

from __future__ import annotations


def recorded_cut(as_of: bool, alias: str = "") -> str:
    """The time-travel filter: only rows recorded up to $as_of (empty without as_of)."""
    return f"AND {alias}recorded_at <= $as_of" if as_of else ""


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
    FROM awards a JOIN tenants t USING (tenant_id)
    WHERE {tenants.replace("tenant_id", "a.tenant_id")} AND {award_window}
          {recorded_cut(as_of, "a.")}
      AND NOT EXISTS (SELECT 1 FROM reversals r WHERE r.tenant_id = a.tenant_id
                      AND r.award_id = a.award_id {recorded_cut(as_of, "r.")})
),
attributed AS (
    SELECT aw.*, h.team,
           CAST(aw.local_ts AS DATE) AS local_date,
           CAST(date_trunc('week', aw.local_ts) AS DATE) AS week_start,
           CAST(date_trunc('month', aw.local_ts) AS DATE) AS month_start
    FROM aw ASOF LEFT JOIN team_hist h
      ON aw.tenant_id = h.tenant_id AND aw.member_id = h.member_id
     AND aw.occurred_at >= h.effective_from
),
rev AS (
    SELECT tenant_id, version, effective_from FROM strategy_revisions WHERE {tenants} {cut}
)"""


LEADERBOARD_WEEKLY = """
SELECT tenant_id, week_start, member_id, sum(points) AS points,
       CAST(rank() OVER (PARTITION BY tenant_id, week_start ORDER BY sum(points) DESC)
            AS INTEGER) AS rank
FROM attributed WHERE {where}
GROUP BY tenant_id, week_start, member_id HAVING sum(points) <> 0
"""

HEATMAP = """
SELECT tenant_id, team, value, week_start, count(*) AS behaviors, sum(points) AS points
FROM (SELECT *, unnest("values") AS value FROM attributed WHERE kind <> 'adjustment' AND {where})
GROUP BY tenant_id, team, value, week_start
"""

# Each behavior with a revision in force belongs to four groups: tenant and team scope,
# by week and by month. `{where}` filters the groups (affected periods, or one query).
ALIGNMENT = """
, beh AS (
    SELECT a.tenant_id, coalesce(a.team, '') AS team, a.week_start, a.month_start, a.points,
           a."values", len(a."values") AS k, r.version, a.occurred_at
    FROM attributed a ASOF JOIN rev r
      ON a.tenant_id = r.tenant_id AND a.occurred_at >= r.effective_from
    WHERE a.kind <> 'adjustment'
), grouped AS (
    SELECT tenant_id, 'tenant' AS scope, '' AS team, 'week' AS period, week_start AS period_start,
           points, "values", k, version FROM beh
    UNION ALL SELECT tenant_id, 'tenant', '', 'month', month_start, points, "values", k, version
    FROM beh
    UNION ALL SELECT tenant_id, 'team', team, 'week', week_start, points, "values", k, version
    FROM beh
    UNION ALL SELECT tenant_id, 'team', team, 'month', month_start, points, "values", k, version
    FROM beh
), g AS (SELECT * FROM grouped WHERE {where}
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
), dist AS (
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
           list({{'value': value, 'target': round(round(t, 9), 4),
                  'observed': round(round(b, 9), 4),
                  'gap': round(round(b - t, 9), 4)}} ORDER BY value)
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
