"""The projection's DuckDB database: opening, recovering, rewriting, closing.

`Projection` decides what to write; this module keeps the file healthy: the owner
lock, the storage format released readers open, the move-aside of an unreadable
file, the rewrite that leaves no trace of erased data, and a clean close. Queries
(and the analysts' snapshot, written from a read transaction) run through
`reading()`, so a rewrite can wait for them to finish and no query ever holds a
connection to a replaced file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ledger.logs import cause, get_logger
from ledger.projections import schema
from ledger.projections.files import (
    OwnerLock,
    move_aside,
    remove_database,
    swap_in,
)

log = get_logger("ledger.projections")

# Files are written in the storage format the released DuckDB CLI and the LTS line read
# (DuckDB 2.0's own format is unreadable to them), so analysts can open every snapshot.
STORAGE_VERSION = "v1.4.0"
STORAGE_TAG = "v1.4.0+"
STORAGE: dict[str, str | bool | int | float | list[str]] = {
    "storage_compatibility_version": STORAGE_VERSION,
    # The revision-at-occurred_at join is an ASOF join; DuckDB would run it as a nested
    # loop when it underestimates the left side (a batch's few awards), which costs
    # awards x revisions. The real ASOF operator costs a sort of each side instead.
    "asof_loop_join_threshold": 0,
    # One thread: in `ledger serve` the other core answers HTTP. Memory bounded: a rebuild
    # of millions of events spills to disk instead of growing (DuckDB's default is 80 %
    # of the machine's memory).
    "threads": 1,
}
DEFAULT_MEMORY_LIMIT = "256MB"

# Errors of the surroundings, not of the file: moving the file aside would not help.
ENVIRONMENTAL = (
    "lock",
    "no space",
    "permission denied",
    "read-only file system",
    "file too large",
    "quota",
    "too many open files",
)


class ProjectionUnavailable(Exception):
    """The file cannot be read right now (its disk failed and reopening has not worked yet)."""


class ProjectionDatabase:
    """One DuckDB file (or `:memory:`), owned by this process when `owner` is given."""

    def __init__(
        self, path: Path, owner: str | None = None, memory_limit: str | None = None
    ) -> None:
        self.path = path
        self.config = STORAGE | {"memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT}
        self.in_memory = str(path) == ":memory:"
        # Set when the file had to be started afresh: queries wait until it caught up.
        self.catching_up = False
        self.owner_lock: OwnerLock | None = None
        self._gate = threading.Condition()
        self._readers = 0
        self._rewriting = False
        # Set while the connection is closed because reopening it failed (a full disk):
        # queries answer "unavailable" instead of touching a closed connection.
        self.unavailable: str | None = None
        if not self.in_memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if owner is not None:
                self.owner_lock = OwnerLock(self.path, owner)
                # A rebuild finishes by itself: wait for it rather than fail a restart.
                self.owner_lock.acquire(wait_for=lambda holder: holder.get("role") == "rebuild")
        try:
            self.con = self._open()
        except BaseException:
            self._release()
            raise

    # -- opening --------------------------------------------------------------------------

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path), config=self.config)
        self.path.chmod(0o600)  # a company's data: its owner's only
        schema.create(con)
        return con

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.in_memory:
            con = duckdb.connect(":memory:", config=self.config)
            schema.create(con)
            return con
        try:
            con = self._connect()
        except duckdb.Error as error:
            if self.owner_lock is None or _environmental(error):
                raise
            # The last line of defence: keep the unreadable file, start afresh, rebuild.
            kept = move_aside(self.path)
            log.error(
                "projection file could not be opened; moved aside and rebuilding from the source",
                file=self.path.name,
                kept_as=kept.name,
                error=cause(error),
            )
            self.catching_up = True
            con = self._connect()
        if self.owner_lock is not None:
            con = self._upgrade_storage(con)
            if self._erase_pending(con):
                con = self._rewrite(con, "erasing")
            if not self.catching_up and _is_empty(con):
                self.catching_up = True
        return con

    def _upgrade_storage(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Rewrite a file of a newer storage format into the one released readers open."""
        tags = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        if tags and tags[0][0].get("storage_version") == STORAGE_TAG:
            return con
        con = self._rewrite(con, "upgrading")
        log.info("projection file rewritten in the released storage format", file=self.path.name)
        return con

    # -- rewriting ------------------------------------------------------------------------

    @staticmethod
    def _erase_pending(con: duckdb.DuckDBPyConnection) -> bool:
        return bool(
            con.execute("SELECT 1 FROM projection_meta WHERE key = 'erase_pending'").fetchall()
        )

    def erase_traces(self) -> None:
        """Rewrite the file so erased values leave no bytes behind (after a forget).

        DuckDB reuses freed blocks without zeroing them, and a WAL keeps what it logged:
        only a fresh file, swapped in with the old WAL deleted, holds no trace. The
        pending mark is committed with the forget, so a crash here redoes it at start.
        """
        with self._exclusive():
            self.con = self._rewrite(self.con, "erasing")

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """No query runs inside: the connection may be closed and replaced."""
        with self._gate:
            self._rewriting = True
            while self._readers:
                self._gate.wait()
        try:
            yield
        finally:
            with self._gate:
                self._rewriting = False
                self._gate.notify_all()

    def _rewrite(self, con: duckdb.DuckDBPyConnection, why: str) -> duckdb.DuckDBPyConnection:
        side = self.path.with_name(f"{self.path.name}.{why}")
        remove_database(side)
        con.execute("DELETE FROM projection_meta WHERE key = 'erase_pending'")
        con.execute(f"ATTACH '{side}' AS rewritten (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute(f"COPY FROM DATABASE {catalog(con)} TO rewritten")
        con.execute("DETACH rewritten")
        con.close()
        swap_in(side, self.path)
        return self._connect()

    # -- reading --------------------------------------------------------------------------

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for queries in this process (MVCC: never blocks the writer)."""
        if self.unavailable is not None:
            raise ProjectionUnavailable(self.unavailable)
        cursor = self.con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    @contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor, closed after use, that a rewrite of the file waits for."""
        with self._gate:
            while self._rewriting:
                self._gate.wait()
            self._readers += 1
        try:
            cursor = self.reader()
            try:
                yield cursor
            finally:
                cursor.close()
        finally:
            with self._gate:
                self._readers -= 1
                self._gate.notify_all()

    # -- copying, recovering, closing ----------------------------------------------------------

    def recover_connection(self) -> None:
        """After a failed batch: reopen the connection if DuckDB invalidated it (I/O error).

        Queries are held off while the connection is replaced; if reopening fails (the
        disk is still full) they answer `ProjectionUnavailable` until a retry succeeds.
        """
        if self.unavailable is None:
            try:
                self.con.execute("SELECT 1").fetchall()
                return
            except duckdb.Error:
                pass
        with self._exclusive():
            try:
                self.con.close()
            except duckdb.Error as error:
                log.debug("closing the invalidated connection failed", error=cause(error))
            try:
                self.con = self._open()
            except duckdb.Error as error:
                # Still failing (the disk is still full): the next retry tries again.
                self.unavailable = "the projection file cannot be read until its disk recovers"
                log.error("projection file cannot be reopened yet", error=cause(error))
                return
            self.unavailable = None
            log.warning("projection connection reopened", file=self.path.name)

    def close(self) -> None:
        """Checkpoint and close: a clean stop leaves no WAL behind (once queries and a
        snapshot being written have finished)."""
        try:
            with self._exclusive():
                if not self.in_memory:
                    self.con.execute("CHECKPOINT")
                self.con.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self.owner_lock is not None:
            self.owner_lock.release()
            self.owner_lock = None


def _environmental(error: Exception) -> bool:
    text = str(error).lower()
    return any(marker in text for marker in ENVIRONMENTAL)


def _is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """Nothing applied yet, or a deferred derivation a killed run left pending."""
    if con.execute("SELECT 1 FROM deferred_derivations LIMIT 1").fetchall():
        return True
    # The file's own stamps (layout version, lineage) are not something applied.
    applied = "SELECT 1 FROM projection_meta WHERE key NOT IN ('schema_version', 'lineage') LIMIT 1"
    return not con.execute(applied).fetchall() and not (
        con.execute("SELECT 1 FROM tenant_positions LIMIT 1").fetchall()
    )


def catalog(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_database()").fetchall()[0][0])
