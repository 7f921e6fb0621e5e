"""The projection database: applies envelope batches exactly once, set-based.

One DuckDB transaction per batch holds the facts, the recomputed derived
rows of the periods the batch touched, and the per-tenant applied position.
Records at or below a tenant's applied position are skipped, so a replay,
a relay duplicate or a restart after a crash changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from ledger.logs import get_logger
from ledger.projections import schema
from ledger.projections.database import ProjectionDatabase, ProjectionUnavailable
from ledger.projections.facts import EPOCH, Decrypt, FactBatch, Row
from ledger.projections.snapshot import SnapshotWriter
from ledger.projections.sql import (
    ALIGNMENT_FIGURES,
    ALIGNMENT_FROM_DAILY,
    HEATMAP,
    LEADERBOARD_WEEKLY,
    REV,
    ROLLUPS,
    TOUCHED_AWARDS,
    base_ctes,
    with_ctes,
)

log = get_logger("ledger.projections")
T = TypeVar("T")

APPLIED_POSITION = (
    "SELECT greatest(coalesce((SELECT max(position) FROM tenant_positions), 0), "
    "coalesce((SELECT value FROM projection_meta WHERE key = 'source:store'), 0))"
)
AFFECTED_TENANTS = "tenant_id IN (SELECT tenant_id FROM affected)"
# The awards of the affected days: a local day starts less than a day before any of
# its instants, in every timezone.
AFFECTED_AWARDS = (
    "a.occurred_at >= (SELECT min(x.since) FROM affected x "
    "WHERE x.tenant_id = a.tenant_id) - INTERVAL 1 DAY"
)


def _in_affected(alias: str, day: str, lo: str = "lo_day", hi: str = "hi_day") -> str:
    """Is `alias`.`day` (a local date) inside one of its tenant's affected ranges?"""
    return (
        f"EXISTS (SELECT 1 FROM affected x WHERE x.tenant_id = {alias}.tenant_id "
        f"AND {day} BETWEEN x.{lo} AND x.{hi})"
    )


class Projection:
    """Applies batches to the projection database, exactly once, set-based.

    `owner` names the process role (serve, project, rebuild) that claims the file
    (see ProjectionDatabase); only an owner recovers an unreadable file by itself.
    """

    def __init__(
        self,
        path: str | Path,
        decrypt: Decrypt | None = None,
        owner: str | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.decrypt = decrypt
        self.lock = threading.Lock()  # one writer at a time: batches, snapshots, rewrites
        self.applied = threading.Condition()
        self.commits = 0  # batches committed by this process (snapshots skip when unchanged)
        self._snapshot_at: int | None = None
        self.snapshot_position = 0  # the applied position the last snapshot holds
        self._snapshot_lock = threading.Lock()
        self._snapshots: SnapshotWriter | None = None
        # The earliest rollup date written since the last snapshot's read (None: none;
        # date.min: unknown, as in a new process), under the write lock.
        self._rollups_changed_from: date | None = date.min
        # Set by a rewrite that erased a forgotten member: the snapshot is due at once.
        self.erased_since_snapshot = False
        self.db = ProjectionDatabase(self.path, owner, memory_limit)
        self._applied_seen = 0  # the last applied position read (lag while the file is down)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self.db.con

    @property
    def catching_up(self) -> bool:
        return self.db.catching_up

    @catching_up.setter
    def catching_up(self, value: bool) -> None:
        self.db.catching_up = value

    def close(self) -> None:
        """Checkpoint and close: a clean stop leaves no WAL behind."""
        with self.lock:
            self.db.close()

    def recover_connection(self) -> None:
        with self.lock:
            self.db.recover_connection()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one-off reads in tests and tools; queries use `run`."""
        return self.db.reader()

    def run(self, query: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a query function on its own cursor (a rewrite waits for it to finish)."""
        with self.db.reading() as con:
            return query(con, *args, **kwargs)

    # -- positions ----------------------------------------------------------------------

    def tenant_position(self, tenant_id: str) -> int:
        rows = self.run(
            _rows, "SELECT position FROM tenant_positions WHERE tenant_id = ?", [tenant_id]
        )
        return int(rows[0][0]) if rows else 0

    def tenant_positions(self) -> dict[str, int]:
        return dict(self.run(_rows, "SELECT tenant_id, position FROM tenant_positions"))

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

    def applied_position(self) -> int:
        """The furthest store position this projection has applied (lag is measured from it).

        While the file cannot be read (its disk failed) nothing is applied either, so the
        last position read stands: the lag keeps growing instead of going blind.
        """
        try:
            rows = self.run(_rows, APPLIED_POSITION)
        except ProjectionUnavailable:
            return self._applied_seen
        self._applied_seen = int(rows[0][0])
        return self._applied_seen

    def source_position(self, source: str) -> int:
        rows = self.run(
            _rows, "SELECT value FROM projection_meta WHERE key = ?", [f"source:{source}"]
        )
        return int(rows[0][0]) if rows else 0

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
            con.execute("BEGIN TRANSACTION")
            try:
                if defer:
                    _defer(con, batch.earliest())
                    batch.derive = False
                else:
                    # Derivations a killed deferred run left pending are done now, with these.
                    for tenant_id, since in _take_deferred(con).items():
                        batch.since[tenant_id] = min(since, batch.since.get(tenant_id, since))
                erase = self._names_to_erase(con, batch)
                self._write(con, batch)
                if erase:  # committed with the forget: a crash before the rewrite redoes it
                    con.execute(
                        "INSERT OR REPLACE INTO projection_meta VALUES ('erase_pending', 1)"
                    )
                for name, position in source:  # where each source resumes, with the batch
                    con.execute(
                        "INSERT OR REPLACE INTO projection_meta VALUES (?, ?)",
                        [f"source:{name}", position],
                    )
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
            self.commits += 1
            if erase and not self.db.in_memory:
                self.db.erase_traces()
                self.erased_since_snapshot = True
                log.info("projection file rewritten after a forget", file=self.path.name)
        with self.applied:
            self.applied.notify_all()
        return len(batch.events)

    @staticmethod
    def _names_to_erase(con: duckdb.DuckDBPyConnection, batch: FactBatch) -> bool:
        """Does the batch forget a member whose name this file holds in clear?"""
        if not batch.forgotten:
            return False
        keys = [{"tenant_id": t, "member_id": m} for t, m in batch.forgotten]
        _register(con, "forgetting", keys)
        try:
            return bool(
                con.execute(
                    "SELECT 1 FROM member_profiles p JOIN forgetting f "
                    "USING (tenant_id, member_id) WHERE p.display_name IS NOT NULL LIMIT 1"
                ).fetchall()
            )
        finally:
            con.unregister("forgetting")

    def _write(self, con: duckdb.DuckDBPyConnection, batch: FactBatch) -> None:
        _append(con, "events", batch.events)
        _append(con, "awards", batch.awards)
        _append(con, "reversals", batch.reversals)
        _append(con, "team_history", batch.team_history)
        _append(con, "member_profiles", batch.member_joins)
        _append(con, "tenants", batch.tenants_created)
        _append(con, "value_catalog", batch.values_defined)
        _append(con, "strategy_revisions", batch.revisions)
        _append(con, "strategy_targets", batch.targets)
        _append(con, "missions", batch.missions)
        _append(con, "campaigns", batch.campaigns)
        _append(con, "drift_alerts", batch.drift_raised)
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
        _update(
            con,
            "drift_alerts",
            batch.drift_acknowledged.values(),
            ("tenant_id", "alert_id"),
            "acknowledged_at = CAST(b.acknowledged_at AS TIMESTAMPTZ), "
            "acknowledged_position = b.acknowledged_position, by_key_label = b.by_key_label, "
            "note = b.note, lever = b.lever",
        )
        if batch.derive:
            affected, added = batch.affected(), batch.added()
            if affected or added:
                self._recompute(con, affected, added)
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

    def _recompute(
        self,
        con: duckdb.DuckDBPyConnection,
        affected: Sequence[Row],
        added: Sequence[Row] = (),
    ) -> None:
        """Bring the derived rows up to date with a batch, at the cost of what it changed.

        `affected`: ranges of instants whose local days are re-derived from the facts (a
        reversal's day; everything after a team move, a strategy revision, a timezone
        change). `added`: the batch's new awards ({tenant_id, position, occurred_at}),
        whose contributions are added to the rollups of their days (outside the
        re-derived ranges, which already count them). Then the weeks and months holding
        any changed day are summed again from the rollups, and the running totals move
        by the difference. A live batch costs its own awards, not its day or history.
        """
        _register(con, "affected_raw", list(affected) or [_NO_RANGE])
        con.execute("""
            CREATE OR REPLACE TEMP TABLE affected AS
            SELECT tenant_id, since, lo_day, hi_day,
                   CAST(date_trunc('week', lo_day) AS DATE) AS lo_week,
                   CAST(date_trunc('week', hi_day) AS DATE) AS hi_week,
                   CAST(date_trunc('month', lo_day) AS DATE) AS lo_month,
                   CAST(date_trunc('month', hi_day) AS DATE) AS hi_month
            FROM (
                SELECT r.tenant_id, CAST(r.since AS TIMESTAMPTZ) AS since,
                       CAST(timezone(t.timezone, CAST(r.since AS TIMESTAMPTZ)) AS DATE)
                         AS lo_day,
                       coalesce(CAST(timezone(t.timezone, CAST(r.until AS TIMESTAMPTZ)) AS DATE),
                                DATE '9999-12-31') AS hi_day
                FROM affected_raw r JOIN tenants t USING (tenant_id))""")
        con.unregister("affected_raw")
        # Constant lower bounds let DuckDB skip whole row groups (zone maps): rows are
        # appended roughly in time order, so old history is never read. A local day
        # starts at most a day before the UTC date of any of its instants.
        moments = [r["since"] for r in affected] + [str(a["occurred_at"]) for a in added]
        first = datetime.fromisoformat(min(moments)[:19]).date()
        day0 = first - timedelta(days=1)
        bound = {
            "awards": f"a.occurred_at >= TIMESTAMPTZ '{day0 - timedelta(days=1)}'",
            "day": f"day >= DATE '{day0}'",
            "week": f"day >= DATE '{day0 - timedelta(days=7)}'",
            "month": f"day >= DATE '{day0 - timedelta(days=31)}'",
        }
        if affected:
            _rederive_days(con, bound)
        if added:
            _add_awards(con, bound, added)
        _sum_periods(con, bound)
        # Every rollup row written above is dated on or after the lowest bound: the
        # snapshot reuses the parts of earlier months without reading them (conservative
        # if the transaction rolls back: it only reads more).
        lowest = day0 - timedelta(days=31)
        if self._rollups_changed_from is None or lowest < self._rollups_changed_from:
            self._rollups_changed_from = lowest

    def finish(self) -> None:
        """Recompute the derived tables deferred by `apply(defer=True)`."""
        with self.lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                pending = _take_deferred(self.con)
                if pending:
                    _order_awards(self.con)
                    self._recompute(
                        self.con,
                        [{"tenant_id": t, "since": s, "until": None} for t, s in pending.items()],
                    )
                self.con.execute("COMMIT")
            except BaseException:
                _rollback(self.con)
                raise

    # -- rebuild and snapshots ------------------------------------------------------------

    def reset(self) -> None:
        """Empty every table (a rebuild then re-applies history from position 0)."""
        with self.lock:
            for table in schema.DATA_TABLES:
                self.con.execute(f"DELETE FROM {table}")
            schema.stamp(self.con)
            self._rollups_changed_from = date.min

    @property
    def changed_since_snapshot(self) -> bool:
        """Batches were committed since the last snapshot this process published."""
        return self._snapshot_at != self.commits

    def publish_snapshot(self, target: str | Path) -> Path:
        """Atomically replace `target` with a snapshot analysts can open read-only.

        The parts that changed are written from one read transaction (a committed
        state); the write lock is held only to open it, so batches go on meanwhile
        (see snapshot.py). Concurrent requests are serialized, and a snapshot of an
        unchanged projection is not published again.
        """
        target = Path(target)
        with self._snapshot_lock:
            if self._snapshot_at == self.commits and target.exists():
                return target
            writer = self._snapshot_writer(target)
            purge, changed_from = False, None
            try:
                with ExitStack() as stack:
                    with self.lock:
                        # The lock orders this read after every batch committed so far,
                        # and before a rewrite of the file (which waits for readers).
                        con = stack.enter_context(self.db.reading())
                        con.execute("BEGIN TRANSACTION")
                        stack.callback(_rollback, con)  # it only reads
                        commits, purge = self.commits, self.erased_since_snapshot
                        changed_from = self._rollups_changed_from
                        position = int(con.execute(APPLIED_POSITION).fetchall()[0][0])
                        lineage = con.execute(
                            "SELECT value FROM projection_meta WHERE key = 'lineage'"
                        ).fetchall()
                        self.erased_since_snapshot = False
                        self._rollups_changed_from = None
                    writer.publish(con, int(lineage[0][0]) if lineage else 0, purge, changed_from)
            except BaseException:
                # Due again, with what it was to cover (taken once no longer a reader: a
                # close waits for readers while it holds the lock).
                with self.lock:
                    self.erased_since_snapshot |= purge
                    if changed_from is not None:
                        now = self._rollups_changed_from
                        self._rollups_changed_from = min(changed_from, now or changed_from)
                raise
            self._snapshot_at, self.snapshot_position = commits, position
        return target

    def _snapshot_writer(self, target: Path) -> SnapshotWriter:
        if self._snapshots is None or self._snapshots.target != target:
            self._snapshots = SnapshotWriter(target)
        return self._snapshots

    @property
    def snapshot_started_over(self) -> bool:
        """The last snapshot wrote every part (a first one, or a new lineage)."""
        return self._snapshots.started_over if self._snapshots else False

    def stale_snapshot_files(self, target: Path) -> None:
        """Remove what a killed publisher left (the owner calls this at start)."""
        self._snapshot_writer(target).remove_strays()


_NO_RANGE: Row = {"tenant_id": "", "since": EPOCH, "until": EPOCH}


def _rederive_days(con: duckdb.DuckDBPyConnection, bound: dict[str, str]) -> None:
    """Replace the rollups of the affected days with a derivation from the facts."""
    ctes = base_ctes(AFFECTED_TENANTS, f"{bound['awards']} AND {AFFECTED_AWARDS}")
    in_days = _in_affected("a", "a.local_date")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched AS "
        + with_ctes(ctes, TOUCHED_AWARDS.format(where=in_days))
    )
    for table, derive in ROLLUPS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_{table} AS {derive}")
    old_days = f"{bound['day']} AND {_in_affected('d', 'd.day')}"
    # The running totals move by (new - old) of the re-derived days.
    _move_totals(con, old_days)
    for table, _ in ROLLUPS:
        con.execute(f"DELETE FROM {table} d WHERE {old_days}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM new_{table}")
    _drop_scratch(con)


def _add_awards(
    con: duckdb.DuckDBPyConnection, bound: dict[str, str], added: Sequence[Row]
) -> None:
    """Add new awards to the rollups of their days (days being re-derived excluded), and
    mark those days affected so their weeks and months are summed again."""
    _register(con, "added_awards", list(added))
    # The batch's awards are the newest rows: a constant position range reads only them.
    first, last = min(a["position"] for a in added), max(a["position"] for a in added)
    ctes = base_ctes(
        "tenant_id IN (SELECT tenant_id FROM added_awards)",
        f"a.position BETWEEN {int(first)} AND {int(last)} "
        "AND a.position IN (SELECT position FROM added_awards)",
    )
    outside = f"NOT {_in_affected('a', 'a.local_date')}"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE touched AS "
        + with_ctes(ctes, TOUCHED_AWARDS.format(where=outside))
    )
    con.unregister("added_awards")
    for table, derive in ROLLUPS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_{table} AS {derive}")
    _move_totals(con, "FALSE")  # only additions: nothing old is replaced
    same_day = (
        "{bound} AND EXISTS (SELECT 1 FROM new_daily_points n "
        "WHERE n.tenant_id = d.tenant_id AND n.day = d.day)"
    ).format(bound=bound["day"])
    for table, keys, sums in _ROLLUP_COLUMNS:
        totals = ", ".join(f"sum({c}) AS {c}" for c in sums)
        columns = ", ".join((*keys, *sums))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE merged AS
            SELECT {", ".join(keys)}, {totals} FROM (
                SELECT {columns} FROM {table} d WHERE {same_day}
                UNION ALL SELECT {columns} FROM new_{table}) GROUP BY ALL""")
        con.execute(f"DELETE FROM {table} d WHERE {same_day}")
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM merged")
    con.execute("DROP TABLE merged")
    con.execute("""
        INSERT INTO affected
        SELECT DISTINCT tenant_id, NULL, day, day,
               CAST(date_trunc('week', day) AS DATE), CAST(date_trunc('week', day) AS DATE),
               CAST(date_trunc('month', day) AS DATE), CAST(date_trunc('month', day) AS DATE)
        FROM new_daily_points""")
    _drop_scratch(con)


# Each rollup's key and summed columns (for adding new awards to existing rows).
_ROLLUP_COLUMNS = (
    (
        "daily_points",
        ("tenant_id", "day", "member_id", "team", "version"),
        ("points", "behaviors", "behavior_points"),
    ),
    (
        "daily_values",
        ("tenant_id", "day", "member_id", "team", "version", "value"),
        ("behaviors", "points", "share", "share_points"),
    ),
    ("team_days", ("tenant_id", "day", "team", "version"), ("behaviors", "points")),
    (
        "team_day_values",
        ("tenant_id", "day", "team", "version", "value"),
        ("behaviors", "points", "share", "share_points"),
    ),
)


def _move_totals(con: duckdb.DuckDBPyConnection, old_days: str) -> None:
    """member_totals += new rollups - the old rollups they replace (`old_days`)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE totals_delta AS
        SELECT tenant_id, member_id, coalesce(team, '') AS team, '' AS value, points
          FROM new_daily_points
        UNION ALL SELECT tenant_id, member_id, coalesce(team, ''), '', -points
          FROM daily_points d WHERE {old_days}
        UNION ALL SELECT tenant_id, member_id, coalesce(team, ''), value, points
          FROM new_daily_values
        UNION ALL SELECT tenant_id, member_id, coalesce(team, ''), value, -points
          FROM daily_values d WHERE {old_days}""")
    con.execute("""
        INSERT INTO member_totals
        SELECT tenant_id, member_id, team, value, sum(points) FROM totals_delta
        GROUP BY ALL HAVING sum(points) <> 0
        ON CONFLICT (tenant_id, member_id, team, value)
        DO UPDATE SET points = member_totals.points + excluded.points""")


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("touched", "totals_delta", *(f"new_{t}" for t, _ in ROLLUPS)):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _sum_periods(con: duckdb.DuckDBPyConnection, bound: dict[str, str]) -> None:
    """Weeks and months holding an affected day, summed again from the rollups."""
    in_weeks = _in_affected("d", "CAST(date_trunc('week', d.day) AS DATE)", "lo_week", "hi_week")
    old_weeks = _in_affected("t", "t.week_start", "lo_week", "hi_week")
    for table, derive in (("leaderboard_weekly", LEADERBOARD_WEEKLY), ("value_heatmap", HEATMAP)):
        con.execute(f"DELETE FROM {table} t WHERE {old_weeks}")
        con.execute(
            f"INSERT INTO {table} BY NAME " + derive.format(where=f"{bound['week']} AND {in_weeks}")
        )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE affected_periods AS
        SELECT tenant_id, 'week' AS period, lo_week AS lo, hi_week AS hi FROM affected
        UNION ALL SELECT tenant_id, 'month', lo_month, hi_month FROM affected""")
    in_periods = (
        "EXISTS (SELECT 1 FROM affected_periods x WHERE x.tenant_id = {t}.tenant_id "
        "AND x.period = {t}.period AND {t}.period_start BETWEEN x.lo AND x.hi)"
    )
    con.execute("DELETE FROM alignment t WHERE " + in_periods.format(t="t"))
    inputs = ALIGNMENT_FROM_DAILY.format(
        tenants=AFFECTED_TENANTS, days=bound["month"], where=in_periods.format(t="g")
    )
    con.execute(
        "INSERT INTO alignment BY NAME "
        + with_ctes(REV.format(tenants=AFFECTED_TENANTS) + inputs + ALIGNMENT_FIGURES, "")
    )


def _order_awards(con: duckdb.DuckDBPyConnection) -> None:
    """Store awards in (tenant, occurred_at) order after bulk loading: a live batch then
    reads only the row groups of its days (zone maps), however history arrived."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE awards_in_order AS "
        "SELECT * FROM awards ORDER BY tenant_id, occurred_at"
    )
    con.execute("DELETE FROM awards")
    con.execute("INSERT INTO awards SELECT * FROM awards_in_order")
    con.execute("DROP TABLE awards_in_order")


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[Any]:
    return con.execute(sql, params or []).fetchall()


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back; a failed COMMIT (a full disk) has already ended the transaction."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        log.debug("nothing to roll back after a failed commit")


def _defer(con: duckdb.DuckDBPyConnection, since: dict[str, str]) -> None:
    """Record periods to derive later, in the batch's own transaction (a crash keeps them)."""
    for tenant_id, moment in since.items():
        con.execute(
            "INSERT INTO deferred_derivations VALUES (?, ?) ON CONFLICT (tenant_id) "
            "DO UPDATE SET since = least(since, excluded.since)",
            [tenant_id, moment],
        )


def _take_deferred(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    pending = dict(con.execute("SELECT tenant_id, since FROM deferred_derivations").fetchall())
    if pending:
        con.execute("DELETE FROM deferred_derivations")
    return pending


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
