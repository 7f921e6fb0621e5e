"""The projection database: applies envelope batches exactly once, set-based.

One DuckDB transaction per batch holds the facts, the recomputed derived
rows of the periods the batch touched, and the per-tenant applied position.
Records at or below a tenant's applied position are skipped, so a replay,
a relay duplicate or a restart after a crash changes nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from ledger.projections import schema
from ledger.projections.facts import EPOCH, Decrypt, FactBatch, Row
from ledger.projections.sql import ALIGNMENT, HEATMAP, LEADERBOARD_WEEKLY, base_ctes, with_ctes

AFFECTED_TENANTS = "tenant_id IN (SELECT tenant_id FROM affected)"
# A month can start up to 31 days before the earliest change; 32 covers any timezone.
AFFECTED_AWARDS = (
    "a.occurred_at >= (SELECT x.since FROM affected x "
    "WHERE x.tenant_id = a.tenant_id) - INTERVAL 32 DAY"
)


class Projection:
    """Owns the writable DuckDB file of the projections."""

    def __init__(self, path: str | Path, decrypt: Decrypt | None = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(path))
        self.decrypt = decrypt
        self.lock = threading.Lock()
        self.applied = threading.Condition()
        # Periods to recompute once at the end of a rebuild (see `apply(defer=True)`).
        self.deferred: dict[str, str] = {}
        schema.create(self.con)

    def close(self) -> None:
        self.con.close()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A connection for queries in this process (MVCC: never blocks the writer)."""
        cursor = self.con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    # -- positions ----------------------------------------------------------------------

    def tenant_position(self, tenant_id: str) -> int:
        row = (
            self.reader()
            .execute("SELECT position FROM tenant_positions WHERE tenant_id = ?", [tenant_id])
            .fetchone()
        )
        return int(row[0]) if row else 0

    def tenant_positions(self) -> dict[str, int]:
        return dict(
            self.reader().execute("SELECT tenant_id, position FROM tenant_positions").fetchall()
        )

    def wait_for(self, tenant_id: str, position: int, timeout: float) -> bool:
        """Block until the tenant's projection has applied `position` (read your writes).

        Reached when the tenant's own watermark is there, or when the store follower has
        read past it (a position of an internal event or of another tenant).
        """
        deadline = time.monotonic() + timeout
        while True:
            if max(self.tenant_position(tenant_id), self.source_position("store")) >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self.applied:
                # Woken by apply() in this process; the cap also covers other writers.
                self.applied.wait(min(remaining, 0.25))

    def source_position(self, source: str) -> int:
        row = (
            self.reader()
            .execute("SELECT value FROM projection_meta WHERE key = ?", [f"source:{source}"])
            .fetchone()
        )
        return int(row[0]) if row else 0

    # -- applying -------------------------------------------------------------------------

    def apply(
        self,
        envelopes: Iterable[Row],
        source: Sequence[tuple[str, int]] = (),
        defer: bool = False,
    ) -> int:
        """Apply a batch exactly once; `source`: (name, position) pairs stored with it.

        With `defer`, derived tables are left for `finish()`: a rebuild into a side file
        recomputes them once instead of once per batch.
        """
        with self.lock:
            watermarks = self.tenant_positions()
            batch = FactBatch()
            for envelope in envelopes:
                tenant_id = envelope["tenant_id"]
                if envelope["position"] <= max(
                    watermarks.get(tenant_id, 0), batch.positions.get(tenant_id, 0)
                ):
                    continue  # already applied: a duplicate or a replay
                batch.add(envelope, self.decrypt)
            con = self.con
            if defer:
                for tenant_id, since in batch.since.items():
                    self.deferred[tenant_id] = min(since, self.deferred.get(tenant_id, since))
                batch.since = {}
            con.execute("BEGIN TRANSACTION")
            try:
                self._write(con, batch)
                for name, position in source:  # where each source resumes, with the batch
                    con.execute(
                        "INSERT OR REPLACE INTO projection_meta VALUES (?, ?)",
                        [f"source:{name}", position],
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        with self.applied:
            self.applied.notify_all()
        return len(batch.events)

    def _write(self, con: duckdb.DuckDBPyConnection, batch: FactBatch) -> None:
        _append(con, "events", batch.events)
        _append(con, "awards", batch.awards)
        _append(con, "team_history", batch.team_history)
        _append(con, "member_profiles", batch.member_joins)
        _append(con, "tenants", batch.tenants_created)
        _append(con, "value_catalog", batch.values_defined)
        _append(con, "strategy_revisions", batch.revisions)
        _append(con, "strategy_targets", batch.targets)
        _append(con, "missions", batch.missions)
        _append(con, "campaigns", batch.campaigns)
        self._timezone_changes(con, batch)
        _update(
            con,
            "tenants",
            batch.settings_changed.values(),
            ("tenant_id",),
            "timezone = b.timezone, settings = b.settings",
        )
        _update(
            con,
            "member_profiles",
            batch.departures.values(),
            ("tenant_id", "member_id"),
            "departed_at = CAST(b.departed_at AS TIMESTAMPTZ)",
        )
        _update(
            con,
            "member_profiles",
            batch.forgotten.values(),
            ("tenant_id", "member_id"),
            "forgotten = TRUE, display_name = NULL",
        )
        _update(
            con,
            "value_catalog",
            batch.values_retired.values(),
            ("tenant_id", "value"),
            "retired = TRUE",
        )
        _update(
            con,
            "missions",
            batch.missions_archived.values(),
            ("tenant_id", "mission_id"),
            "archived = TRUE",
        )
        _update(
            con,
            "campaigns",
            batch.winners.values(),
            ("tenant_id", "campaign_id"),
            "declared_winners = b.declared_winners",
        )
        if batch.since:
            self._recompute(con, [{"tenant_id": t, "since": s} for t, s in batch.since.items()])
        if batch.positions:
            _register(
                con,
                "batch_positions",
                [{"tenant_id": t, "position": p} for t, p in batch.positions.items()],
            )
            con.execute(
                "INSERT OR REPLACE INTO tenant_positions "
                "SELECT tenant_id, position FROM batch_positions"
            )
            con.unregister("batch_positions")

    @staticmethod
    def _timezone_changes(con: duckdb.DuckDBPyConnection, batch: FactBatch) -> None:
        """A new timezone moves every period boundary: recompute the tenant's whole history."""
        for tenant_id, change in batch.settings_changed.items():
            # fetchall: DuckDB refuses further work on a connection with an unfinished result.
            rows = con.execute(
                "SELECT timezone FROM tenants WHERE tenant_id = ?", [tenant_id]
            ).fetchall()
            if rows and rows[0][0] != change["timezone"]:
                batch.since[tenant_id] = EPOCH

    @staticmethod
    def _recompute(con: duckdb.DuckDBPyConnection, affected: Sequence[Row]) -> None:
        _register(con, "affected_raw", list(affected))
        con.execute("""
            CREATE OR REPLACE TEMP TABLE affected AS
            SELECT r.tenant_id, CAST(r.since AS TIMESTAMPTZ) AS since,
                   CAST(date_trunc('week', timezone(t.timezone, CAST(r.since AS TIMESTAMPTZ)))
                        AS DATE) AS since_week,
                   CAST(date_trunc('month', timezone(t.timezone, CAST(r.since AS TIMESTAMPTZ)))
                        AS DATE) AS since_month
            FROM affected_raw r JOIN tenants t USING (tenant_id)""")
        con.unregister("affected_raw")
        ctes = base_ctes(AFFECTED_TENANTS, AFFECTED_AWARDS)
        since_week = (
            "week_start >= (SELECT x.since_week FROM affected x "
            "WHERE x.tenant_id = attributed.tenant_id)"
        )
        con.execute(
            "DELETE FROM leaderboard_weekly USING affected WHERE "
            "leaderboard_weekly.tenant_id = affected.tenant_id "
            "AND leaderboard_weekly.week_start >= affected.since_week"
        )
        con.execute(
            "INSERT INTO leaderboard_weekly BY NAME "
            + with_ctes(ctes, LEADERBOARD_WEEKLY.format(where=since_week))
        )
        con.execute(
            "DELETE FROM value_heatmap USING affected WHERE "
            "value_heatmap.tenant_id = affected.tenant_id "
            "AND value_heatmap.week_start >= affected.since_week"
        )
        con.execute(
            "INSERT INTO value_heatmap BY NAME " + with_ctes(ctes, HEATMAP.format(where=since_week))
        )
        con.execute(
            "DELETE FROM alignment USING affected WHERE "
            "alignment.tenant_id = affected.tenant_id AND alignment.period_start >= "
            "CASE WHEN alignment.period = 'week' THEN affected.since_week "
            "ELSE affected.since_month END"
        )
        since_period = (
            "period_start >= (SELECT CASE WHEN grouped.period = 'week' "
            "THEN x.since_week ELSE x.since_month END FROM affected x "
            "WHERE x.tenant_id = grouped.tenant_id)"
        )
        con.execute(
            "INSERT INTO alignment BY NAME "
            + with_ctes(ctes + ALIGNMENT.format(where=since_period), "")
        )

    def finish(self) -> None:
        """Recompute the derived tables deferred by `apply(defer=True)`."""
        with self.lock:
            if not self.deferred:
                return
            self.con.execute("BEGIN TRANSACTION")
            self._recompute(
                self.con, [{"tenant_id": t, "since": s} for t, s in self.deferred.items()]
            )
            self.con.execute("COMMIT")
            self.deferred = {}

    # -- rebuild and snapshots ------------------------------------------------------------

    def reset(self) -> None:
        """Empty every table (a rebuild then re-applies history from position 0)."""
        with self.lock:
            for table in schema.DATA_TABLES:
                self.con.execute(f"DELETE FROM {table}")

    def publish_snapshot(self, target: str | Path) -> Path:
        """Atomically replace `target` with a consistent copy analysts can open read-only."""
        target = Path(target)
        tmp = target.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with self.lock:
            self.con.execute(f"ATTACH '{tmp}' AS snapshot")
            try:
                self.con.execute(f"COPY FROM DATABASE {self._catalog()} TO snapshot")
            finally:
                self.con.execute("DETACH snapshot")
        os.replace(tmp, target)
        return target

    def _catalog(self) -> str:
        return str(self.con.execute("SELECT current_database()").fetchall()[0][0])


def _register(con: duckdb.DuckDBPyConnection, name: str, rows: list[Row]) -> None:
    # Column lists build faster than row dicts; DuckDB casts ISO strings on insert.
    con.register(name, pa.Table.from_pydict({k: [r[k] for r in rows] for k in rows[0]}))


def _append(con: duckdb.DuckDBPyConnection, table: str, rows: list[Row]) -> None:
    """Bulk-append rows through Arrow; DuckDB casts ISO strings to timestamps."""
    if not rows:
        return
    _register(con, f"batch_{table}", rows)
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch_{table}")
    con.unregister(f"batch_{table}")


def _update(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Iterable[Row],
    keys: tuple[str, ...],
    assignments: str,
) -> None:
    rows = list(rows)
    if not rows:
        return
    _register(con, f"upd_{table}", rows)
    match = " AND ".join(f"{table}.{k} = b.{k}" for k in keys)
    con.execute(f"UPDATE {table} SET {assignments} FROM upd_{table} b WHERE {match}")
    con.unregister(f"upd_{table}")
