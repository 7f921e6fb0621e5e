"""DuckDB schema of the projections. Documented column by column in docs/data-dictionary.md."""

from __future__ import annotations

import secrets

import duckdb

# 2: daily rollups and member totals; a file of an older version re-derives them (see
# database.py) before it answers queries.
SCHEMA_VERSION = 2

DDL = """
CREATE TABLE IF NOT EXISTS projection_meta (key VARCHAR PRIMARY KEY, value BIGINT);
CREATE TABLE IF NOT EXISTS tenant_positions (
    tenant_id VARCHAR PRIMARY KEY, position BIGINT NOT NULL);

-- Periods whose derived rows a rebuild (or a catch-up nobody reads yet) derives at the end.
CREATE TABLE IF NOT EXISTS deferred_derivations (tenant_id VARCHAR PRIMARY KEY, since VARCHAR);

CREATE TABLE IF NOT EXISTS events (
    position BIGINT, tenant_id VARCHAR, event_type VARCHAR, schema_version INTEGER,
    event_id VARCHAR, aggregate_id VARCHAR, aggregate_version INTEGER,
    occurred_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ, causation_id VARCHAR,
    correlation_id VARCHAR, payload JSON);

CREATE TABLE IF NOT EXISTS awards (
    position BIGINT, tenant_id VARCHAR, award_id VARCHAR, member_id VARCHAR, points INTEGER,
    kind VARCHAR, occurred_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ, "values" VARCHAR[],
    source_type VARCHAR, source_id VARCHAR, cause_event_id VARCHAR, rule JSON, command JSON);

-- Reversed awards (RULES.md "Reversals"): they count nowhere from recorded_at on.
CREATE TABLE IF NOT EXISTS reversals (
    position BIGINT, tenant_id VARCHAR, award_id VARCHAR, member_id VARCHAR, points INTEGER,
    award_kind VARCHAR, occurred_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ, reason VARCHAR,
    command JSON);

CREATE TABLE IF NOT EXISTS team_history (
    position BIGINT, tenant_id VARCHAR, member_id VARCHAR, team VARCHAR,
    effective_from TIMESTAMPTZ, recorded_at TIMESTAMPTZ);

CREATE TABLE IF NOT EXISTS member_profiles (
    tenant_id VARCHAR, member_id VARCHAR, display_name VARCHAR, joined_at TIMESTAMPTZ,
    departed_at TIMESTAMPTZ, forgotten BOOLEAN, recorded_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, member_id));

CREATE TABLE IF NOT EXISTS tenants (
    tenant_id VARCHAR PRIMARY KEY, name VARCHAR, timezone VARCHAR, settings JSON,
    recorded_at TIMESTAMPTZ);

CREATE TABLE IF NOT EXISTS value_catalog (
    tenant_id VARCHAR, value VARCHAR, name VARCHAR, retired BOOLEAN, recorded_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, value));

CREATE TABLE IF NOT EXISTS strategy_revisions (
    position BIGINT, tenant_id VARCHAR, version INTEGER, effective_from TIMESTAMPTZ,
    recorded_at TIMESTAMPTZ, goals JSON, note VARCHAR);

CREATE TABLE IF NOT EXISTS strategy_targets (
    tenant_id VARCHAR, version INTEGER, value VARCHAR, target DOUBLE);

CREATE TABLE IF NOT EXISTS missions (
    tenant_id VARCHAR, mission_id VARCHAR, title VARCHAR, "values" VARCHAR[], points INTEGER,
    cadence VARCHAR, requires_verification BOOLEAN, starts_at TIMESTAMPTZ, ends_at TIMESTAMPTZ,
    teams VARCHAR[], archived BOOLEAN, recorded_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, mission_id));

CREATE TABLE IF NOT EXISTS campaigns (
    tenant_id VARCHAR, campaign_id VARCHAR, name VARCHAR, starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ, "values" VARCHAR[], multiplier DOUBLE, winners INTEGER,
    reward VARCHAR, recorded_at TIMESTAMPTZ, declared_winners JSON,
    PRIMARY KEY (tenant_id, campaign_id));

-- Daily rollups per member (local day, team and strategy revision at occurred_at): every
-- period table and live query is a sum over them. Internal; see data-dictionary.md.
CREATE TABLE IF NOT EXISTS daily_points (
    tenant_id VARCHAR, day DATE, member_id VARCHAR, team VARCHAR, version INTEGER,
    points BIGINT, behaviors BIGINT, behavior_points BIGINT);

CREATE TABLE IF NOT EXISTS daily_values (
    tenant_id VARCHAR, day DATE, member_id VARCHAR, team VARCHAR, version INTEGER,
    value VARCHAR, behaviors BIGINT, points BIGINT, share DOUBLE, share_points DOUBLE);

-- The same per team (heatmap and alignment): a month is a few hundred rows.
CREATE TABLE IF NOT EXISTS team_days (
    tenant_id VARCHAR, day DATE, team VARCHAR, version INTEGER, behaviors BIGINT,
    points BIGINT);

CREATE TABLE IF NOT EXISTS team_day_values (
    tenant_id VARCHAR, day DATE, team VARCHAR, version INTEGER, value VARCHAR,
    behaviors BIGINT, points BIGINT, share DOUBLE, share_points DOUBLE);

-- Running totals for period=all: points per member and team ('' for none), overall
-- (value '') and per value; kept equal to the sums of the daily rollups by deltas.
CREATE TABLE IF NOT EXISTS member_totals (
    tenant_id VARCHAR, member_id VARCHAR, team VARCHAR, value VARCHAR, points BIGINT,
    PRIMARY KEY (tenant_id, member_id, team, value));

-- Drift alerts as raised (figures as seen then) and acknowledged: what the ledger warned
-- about and when, and what people did. The watch itself is computed from the rollups.
CREATE TABLE IF NOT EXISTS drift_alerts (
    position BIGINT, tenant_id VARCHAR, alert_id VARCHAR, scope VARCHAR, team VARCHAR,
    value VARCHAR, raised_at TIMESTAMPTZ, figures JSON, acknowledged_at TIMESTAMPTZ,
    acknowledged_position BIGINT, by_key_label VARCHAR, note VARCHAR, lever JSON,
    PRIMARY KEY (tenant_id, alert_id));

CREATE TABLE IF NOT EXISTS leaderboard_weekly (
    tenant_id VARCHAR, week_start DATE, member_id VARCHAR, points BIGINT, rank INTEGER);

CREATE TABLE IF NOT EXISTS value_heatmap (
    tenant_id VARCHAR, team VARCHAR, value VARCHAR, week_start DATE, behaviors BIGINT,
    points BIGINT);

CREATE TABLE IF NOT EXISTS alignment (
    tenant_id VARCHAR, scope VARCHAR, team VARCHAR, period VARCHAR, period_start DATE,
    behaviors BIGINT, score DOUBLE, incentive_score DOUBLE, coverage DOUBLE,
    off_strategy_share DOUBLE, strategy_version INTEGER,
    "values" STRUCT(value VARCHAR, target DOUBLE, observed DOUBLE, gap DOUBLE)[]);

"""

# The views over the tables, by name: the projection file and the analysts' snapshot
# (ledger/projections/snapshot.py) define the same ones.
VIEWS = {
    "behaviors": """
    SELECT position, tenant_id, source_id AS behavior_id, source_type AS kind, member_id,
           "values", points, occurred_at, recorded_at, award_id
    FROM awards WHERE kind <> 'adjustment'""",
    "members": """
    SELECT p.tenant_id, p.member_id,
           CASE WHEN p.forgotten THEN NULL ELSE p.display_name END AS display_name,
           (SELECT h.team FROM team_history h
             WHERE h.tenant_id = p.tenant_id AND h.member_id = p.member_id
               AND h.effective_from <= now()
             ORDER BY h.effective_from DESC, h.position DESC LIMIT 1) AS team,
           p.joined_at, p.departed_at, p.forgotten
    FROM member_profiles p""",
}

# Tables a rebuild empties (everything but the DDL-only meta is data).
DATA_TABLES = (
    "events",
    "awards",
    "reversals",
    "team_history",
    "member_profiles",
    "tenants",
    "value_catalog",
    "strategy_revisions",
    "strategy_targets",
    "missions",
    "campaigns",
    "daily_points",
    "daily_values",
    "team_days",
    "team_day_values",
    "member_totals",
    "leaderboard_weekly",
    "value_heatmap",
    "alignment",
    "drift_alerts",
    "tenant_positions",
    "projection_meta",
    "deferred_derivations",
)


def create(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DDL)
    for name, body in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
    con.execute(
        "INSERT INTO projection_meta SELECT 'lineage', ? "
        "WHERE NOT EXISTS (SELECT 1 FROM projection_meta WHERE key = 'lineage')",
        [new_lineage()],
    )
    stored = con.execute(
        "SELECT value FROM projection_meta WHERE key = 'schema_version'"
    ).fetchall()
    if stored and stored[0][0] == SCHEMA_VERSION:
        return
    if con.execute("SELECT 1 FROM tenant_positions LIMIT 1").fetchall():
        # Facts of an older layout: its derived rows are derived again from them before
        # the file answers queries (a pending derivation makes the owner catch up first).
        con.execute(
            "INSERT OR REPLACE INTO deferred_derivations "
            "SELECT tenant_id, '1970-01-01T00:00:00' FROM tenants"
        )
    stamp(con)


def new_lineage() -> int:
    """A file's lineage: its snapshot parts are reused only within one (see snapshot.py).
    A new file, a rebuild and a reset start a new one."""
    return secrets.randbits(62)


def stamp(con: duckdb.DuckDBPyConnection) -> None:
    """The layout's version, and a new lineage (the rows are derived afresh)."""
    con.execute(
        "INSERT OR REPLACE INTO projection_meta VALUES ('schema_version', ?), ('lineage', ?)",
        [SCHEMA_VERSION, new_lineage()],
    )
