"""The analysts' snapshot: a small DuckDB file of views over immutable Parquet parts.

Analysts open `X.snapshot.duckdb` read-only while the projector keeps writing. A byte
copy of the projection file cost the whole file under the write lock at every publish
(1.5 s on a million behaviors). Here a publish costs what changed:

- every table is stored as Parquet parts in `X.snapshot.parts/`, written once, never
  modified, and named uniquely; the snapshot file itself holds only views over the
  parts and the manifest that lists them, so it is a few kilobytes;
- `events` and `awards`, which only grow, are kept as segments by position: a publish
  writes the rows past each tenant's last published position, and small segments are
  merged four at a time (each row is rewritten a logarithmic number of times, and no
  merge writes more than SEALED_ROWS rows);
- the period rollups are kept per month of their date, the other tables whole; a part
  is rewritten only when its fingerprint (row count and the sum of the rows' hashes,
  computed by DuckDB over the table) differs from the published one;
- everything is read in one transaction of the projection's own connection (MVCC), so
  the parts are one committed state and the projector is never held while they are
  written; the snapshot file is then replaced atomically.

Parts a newer snapshot no longer lists are kept for GRACE seconds (an analyst's open
connection still reads them), then deleted; after a forget they are deleted at once,
so an erased name leaves no file behind. A new projection lineage (a rebuild, a file
started afresh) or an append table whose published rows no longer match starts the
parts over.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from ledger.logs import get_logger
from ledger.projections.database import STORAGE_VERSION
from ledger.projections.files import (
    fsync_dir,
    publish_file,
    remove_stale_temporaries,
    seal,
    temporary_for,
)
from ledger.projections.schema import VIEWS

log = get_logger("ledger.projections")

MANIFEST_VERSION = 1
# Tables that only ever grow, by event position (a rebuild starts a new lineage).
APPEND = ("events", "awards")
# Period rollups: one part per month of this date column.
MONTHLY = {
    "daily_points": "day",
    "daily_values": "day",
    "team_days": "day",
    "team_day_values": "day",
    "leaderboard_weekly": "week_start",
    "value_heatmap": "week_start",
    "alignment": "period_start",
}
MERGE = 4  # segments of one level merged into one of the next
# The first write of a table (its whole history) is one segment that is never merged.
TOP_LEVEL = 99
# A merge never writes a larger segment: the largest merge stays bounded, and the
# number of segments grows by one per SEALED_ROWS rows beyond the levels below.
SEALED_ROWS = 2_000_000
GRACE = 120.0  # seconds a part no longer listed stays for connections opened before
WHOLE = ""  # the key of a table's only part (and of an empty table's)


def parts_dir(target: Path) -> Path:
    """Beside the snapshot, absolute: the views name their parts by this path, and an
    analyst may open the snapshot from any directory."""
    target = target.absolute()
    return target.with_name(target.stem + ".parts")


@dataclass
class Part:
    key: str  # WHOLE, a month ("2026-05-01") or a segment ("seg")
    file: str  # its name in the parts directory
    rows: int
    check: str = ""  # fingerprint (monthly and whole parts)
    level: int = 0  # segments only


@dataclass
class TableParts:
    columns: str  # names and types: a changed layout starts the table over
    parts: list[Part] = field(default_factory=list)
    # Append tables: per tenant, the published position and the rows at or below it.
    tenants: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Manifest:
    lineage: int = 0
    tables: dict[str, TableParts] = field(default_factory=dict)
    retired: list[tuple[str, float]] = field(default_factory=list)  # (file, since)

    def files(self) -> set[str]:
        return {p.file for t in self.tables.values() for p in t.parts}

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": MANIFEST_VERSION,
                "lineage": self.lineage,
                "tables": {
                    name: {
                        "columns": t.columns,
                        "parts": [vars(p) for p in t.parts],
                        "tenants": t.tenants,
                    }
                    for name, t in self.tables.items()
                },
                "retired": self.retired,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        if data.get("version") != MANIFEST_VERSION:
            return cls()
        return cls(
            lineage=int(data["lineage"]),
            tables={
                name: TableParts(
                    columns=t["columns"],
                    parts=[Part(**p) for p in t["parts"]],
                    tenants={k: list(v) for k, v in t["tenants"].items()},
                )
                for name, t in data["tables"].items()
            },
            retired=[(f, float(s)) for f, s in data["retired"]],
        )


def read_manifest(target: Path) -> Manifest:
    """The manifest of the published snapshot (empty if none, or unreadable)."""
    if not target.exists():
        return Manifest()
    try:
        con = duckdb.connect(str(target), read_only=True)
        try:
            rows = con.execute("SELECT manifest FROM snapshot_manifest").fetchall()
        finally:
            con.close()
        return Manifest.from_json(rows[0][0]) if rows else Manifest()
    except (duckdb.Error, ValueError, KeyError, TypeError) as error:
        log.warning(
            "the published snapshot's manifest is unreadable: parts start over", error=str(error)
        )
        return Manifest()


class SnapshotWriter:
    """Publishes snapshots of one projection into `target` and its parts directory."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.parts = parts_dir(target)
        self.manifest = read_manifest(target)
        self.written: list[str] = []  # parts the last publish wrote (what it cost)
        self.started_over = False  # the last publish wrote every part (no parts to reuse)

    def remove_strays(self) -> None:
        """Files a killed publisher left: parts no manifest lists, temporary snapshots.
        Only the owner calls this, at start."""
        remove_stale_temporaries(self.target.parent, self.target.name)
        if not self.parts.is_dir():
            return
        known = self.manifest.files() | {f for f, _ in self.manifest.retired}
        for path in self.parts.iterdir():
            if path.name not in known:
                path.unlink(missing_ok=True)

    def publish(
        self,
        con: duckdb.DuckDBPyConnection,
        lineage: int,
        purge: bool,
        rollups_from: date | None = date.min,
    ) -> None:
        """Write the parts that changed from `con` (inside its read transaction), then
        replace the snapshot file. `purge`: delete retired parts now (after a forget).
        `rollups_from`: no rollup row dated earlier changed since the published snapshot
        was read (None: no rollup changed; date.min: unknown, read them all)."""
        self.parts.mkdir(mode=0o700, exist_ok=True)
        old = self.manifest
        new = Manifest(lineage=lineage)
        self.written = []
        same_lineage = old.lineage == lineage
        self.started_over = not (same_lineage and old.tables)
        if not same_lineage:
            rollups_from = date.min
        for table, columns in _tables(con).items():
            before = old.tables.get(table)
            if before is not None and before.columns != columns:
                before = None
            if table in APPEND:
                new.tables[table] = self._append(
                    con, table, columns, before if same_lineage else None
                )
            elif table in MONTHLY and before is not None:
                new.tables[table] = self._months(con, table, columns, before, rollups_from)
            else:
                new.tables[table] = self._by_fingerprint(con, table, columns, before)
        fsync_dir(self.parts)
        now = time.time()
        listed = new.files()
        retired = [(f, s) for f, s in old.retired if f not in listed]
        retired += [(f, now) for f in sorted(old.files() - listed)]
        new.retired = [(f, s) for f, s in retired if not purge and now - s < GRACE]
        self._write_snapshot(new)
        self.manifest = new
        # Retired past the grace (or after a forget), and this publish's own segments
        # merged before anything listed them.
        gone = {f for f, _ in retired} - {f for f, _ in new.retired}
        for name in gone | (set(self.written) - listed):
            (self.parts / name).unlink(missing_ok=True)

    # -- tables -------------------------------------------------------------------------

    def _by_fingerprint(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        columns: str,
        before: TableParts | None,
        since: date = date.min,
    ) -> TableParts:
        """Fingerprint the table's parts (its months from `since`, for a rollup) and
        write those that differ from the published ones."""
        column = MONTHLY.get(table)
        key = f"CAST(date_trunc('month', {column}) AS DATE)::VARCHAR" if column else "''"
        where = f"WHERE {column} >= DATE '{since}'" if column and since > date.min else ""
        fingerprints = con.execute(
            f"SELECT {key} AS part, count(*), sum(hash(t))::VARCHAR FROM {table} t {where} "
            "GROUP BY ALL ORDER BY part"
        ).fetchall()
        published = {p.key: p for p in before.parts} if before else {}
        parts = []
        for part_key, rows, digest in fingerprints or ([] if where else [(WHOLE, 0, "0")]):
            check = f"{rows}:{digest}"
            kept = published.get(part_key)
            if kept is not None and kept.check == check:
                parts.append(kept)
                continue
            if column and part_key != WHOLE:
                month = f"CAST(date_trunc('month', {column}) AS DATE) = DATE '{part_key}'"
            else:
                month = "true"
            file = self._write_part(con, table, f"SELECT * FROM {table} WHERE {month}")
            parts.append(Part(part_key, file, rows, check))
        return TableParts(columns, parts)

    def _months(
        self,
        con: duckdb.DuckDBPyConnection,
        table: str,
        columns: str,
        before: TableParts,
        rollups_from: date | None,
    ) -> TableParts:
        """A rollup: the published parts of months before `rollups_from` as they are
        (nothing dated earlier was written since), the later months by fingerprint."""
        if rollups_from is None:
            return before
        if rollups_from == date.min:
            return self._by_fingerprint(con, table, columns, before)
        since = rollups_from.replace(day=1)
        earlier = [p for p in before.parts if p.key != WHOLE and p.key < since.isoformat()]
        later = self._by_fingerprint(con, table, columns, before, since)
        parts = earlier + later.parts
        if not parts:  # an empty table still needs its columns
            return self._by_fingerprint(con, table, columns, None)
        return TableParts(columns, parts)

    def _append(
        self, con: duckdb.DuckDBPyConnection, table: str, columns: str, before: TableParts | None
    ) -> TableParts:
        """New rows past each tenant's published position; the rest as published, if the
        table still holds exactly the rows published (else all of it afresh)."""
        if before is not None and not _still_holds(con, table, before.tenants):
            log.warning("published rows changed: the snapshot's parts start over", table=table)
            before = None
        # Every row of a tenant is at or below its applied position (same transaction).
        tenants: dict[str, list[int]] = {
            t: [int(p), 0]
            for t, p in con.execute("SELECT tenant_id, position FROM tenant_positions").fetchall()
        }
        for tenant, rows, last in con.execute(
            f"SELECT tenant_id, count(*), max(position) FROM {table} GROUP BY tenant_id"
        ).fetchall():
            head = tenants.setdefault(tenant, [int(last), 0])
            head[0], head[1] = max(head[0], int(last)), int(rows)
        if before is None:
            added = self._write_rows(con, table, f"SELECT * FROM {table}")
            parts = []
        else:
            # A constant lower bound lets DuckDB skip old row groups (zone maps); a tenant
            # new to the snapshot may have any position, so then there is none.
            known = tenants.keys() <= before.tenants.keys()
            floor = min((p for p, _ in before.tenants.values()), default=0) if known else 0
            _register_positions(con, before.tenants)
            try:
                added = self._write_rows(
                    con,
                    table,
                    f"SELECT t.* FROM {table} t "
                    "LEFT JOIN published_positions w USING (tenant_id) "
                    f"WHERE t.position > {int(floor)} AND t.position > coalesce(w.position, -1)",
                )
            finally:
                con.unregister("published_positions")
            parts = list(before.parts)
        if added is not None:
            file, rows = added
            parts.append(Part("seg", file, rows, level=TOP_LEVEL if before is None else 0))
            parts = self._merge(con, parts)
        elif not parts:  # an empty table still needs its columns
            parts = [Part(WHOLE, self._write_part(con, table, f"SELECT * FROM {table} LIMIT 0"), 0)]
        return TableParts(columns, parts, tenants)

    def _merge(self, con: duckdb.DuckDBPyConnection, parts: list[Part]) -> list[Part]:
        while len(parts) >= MERGE:
            tail = parts[-MERGE:]
            level = tail[0].level
            if any(p.level != level for p in tail) or sum(p.rows for p in tail) > SEALED_ROWS:
                break
            files = ", ".join(_literal(self.parts / p.file) for p in tail)
            file = self._write_part(con, "merged", f"SELECT * FROM read_parquet([{files}])")
            parts = [*parts[:-MERGE], Part("seg", file, sum(p.rows for p in tail), level=level + 1)]
        return parts

    # -- files --------------------------------------------------------------------------

    def _write_rows(
        self, con: duckdb.DuckDBPyConnection, table: str, select: str
    ) -> tuple[str, int] | None:
        """Write `select` as a part if it has rows: (file, rows), else None."""
        name = _part_name(table)
        path = self.parts / name
        rows = con.execute(
            f"COPY ({select}) TO {_literal(path)} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()[0][0]
        if not rows:
            path.unlink(missing_ok=True)
            return None
        seal(path)
        self.written.append(name)
        return name, int(rows)

    def _write_part(self, con: duckdb.DuckDBPyConnection, table: str, select: str) -> str:
        name = _part_name(table)
        path = self.parts / name
        con.execute(f"COPY ({select}) TO {_literal(path)} (FORMAT parquet, COMPRESSION zstd)")
        seal(path)
        self.written.append(name)
        return name

    def _write_snapshot(self, manifest: Manifest) -> None:
        """The views and the manifest into a new file, swapped in atomically."""
        tmp = temporary_for(self.target)
        try:
            con = duckdb.connect(
                str(tmp), config={"storage_compatibility_version": STORAGE_VERSION}
            )
            try:
                for table, held in manifest.tables.items():
                    files = ", ".join(_literal(self.parts / p.file) for p in held.parts)
                    con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet([{files}])')
                for name, body in VIEWS.items():
                    con.execute(f"CREATE VIEW {name} AS {body}")
                con.execute("CREATE TABLE snapshot_manifest (manifest VARCHAR)")
                con.execute("INSERT INTO snapshot_manifest VALUES (?)", [manifest.to_json()])
            finally:
                con.close()
            publish_file(tmp, self.target)
        finally:
            tmp.unlink(missing_ok=True)


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The projection's tables, each with its columns' names and types."""
    rows = con.execute(
        "SELECT c.table_name, string_agg(c.column_name || ' ' || c.data_type, ',' "
        "ORDER BY c.column_index) FROM duckdb_columns() c JOIN duckdb_tables() t "
        "USING (database_name, schema_name, table_name) "
        "WHERE c.database_name = current_database() AND c.schema_name = 'main' "
        "AND NOT t.temporary GROUP BY c.table_name ORDER BY c.table_name"
    ).fetchall()
    return dict(rows)


def _still_holds(con: duckdb.DuckDBPyConnection, table: str, tenants: dict[str, list[int]]) -> bool:
    """Does the table hold, per tenant, as many rows at or below the published position
    as were published? (Rows are only appended; a rebuild or a reset would differ.)"""
    if not tenants:
        return True
    _register_positions(con, tenants)
    try:
        rows = con.execute(
            f"SELECT w.tenant_id, count(t.tenant_id) FROM published_positions w "
            f"LEFT JOIN {table} t ON t.tenant_id = w.tenant_id AND t.position <= w.position "
            "GROUP BY w.tenant_id"
        ).fetchall()
    finally:
        con.unregister("published_positions")
    return all(count == tenants[tenant][1] for tenant, count in rows)


def _register_positions(con: duckdb.DuckDBPyConnection, tenants: dict[str, list[int]]) -> None:
    import pyarrow as pa

    con.register(
        "published_positions",
        pa.table(
            {
                "tenant_id": pa.array(list(tenants), pa.string()),
                "position": pa.array([p for p, _ in tenants.values()], pa.int64()),
            }
        ),
    )


def _part_name(table: str) -> str:
    return f"{table}-{time.time_ns():x}-{secrets.token_hex(4)}.parquet"


def _literal(path: Path) -> str:
    """A path as an SQL string literal (a data directory may have a quote in its name)."""
    return "'" + str(path).replace("'", "''") + "'"
