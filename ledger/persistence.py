"""The ledger's persistence adapter: eventsourcing's recorders, extended where the ledger
needs more than one save per transaction.

The library records each save in its own transaction. The ledger also needs:

- **batches**: one open transaction that many commands insert into, each all-or-nothing
  (a savepoint: a conflict undoes that command's rows only), made durable by one commit
  (ledger.writer's group commit). On PostgreSQL the batch takes the library's table
  lock and NOTIFY once, at its first insert, so positions still commit in order.
- **a stream catalog** (`ledger_streams`): which tenant each stream belongs to, what kind
  of aggregate it is, and the member it is about (awards, members). Written in the same
  transaction as a stream's first event, so an audit of one tenant (or one member) reads
  only those streams instead of the whole history.
- **start-up that tolerates company**: tables are created, and the catalog filled in for
  a history written before it existed, under one lock per store (a PostgreSQL advisory
  lock on the schema; SQLite's write lock), so processes may start at the same moment.

The recorders are the library's, subclassed, and chosen through the library's own
setting (APPLICATION_RECORDER_TOPIC), the way its documentation extends persistence.
Nothing here knows the domain: what goes in a catalog entry is computed by the caller
(ledger.store) and handed in.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.persistence import (
    InterfaceError,
    Notification,
    OperationalError,
    RecordConflictError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

CATALOG = "ledger_streams"
PAGE = 2_000  # rows fetched at a time when a read is streamed


@dataclass(frozen=True)
class StreamEntry:
    """What the catalog knows of a stream (written with its first event)."""

    stream_id: uuid.UUID
    tenant_id: str
    kind: str  # the aggregate class
    member_id: str | None = None  # the member the stream is about, if any


# How to catalog a stream already in the store, from its first event (the migration).
EntryOf = Callable[[StoredEvent], StreamEntry | None]


class Batch(ABC):
    """One open transaction. `insert` adds one command's events (raising
    RecordConflictError, with nothing of that command kept, when another writer got there
    first); `commit` makes every insert durable at once; `rollback` keeps none."""

    @abstractmethod
    def insert(self, stored: Sequence[StoredEvent], streams: Sequence[StreamEntry]) -> list[int]:
        """The positions of `stored`, in order."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


Row = tuple[int, uuid.UUID, int, str, bytes]  # position, stream, version, topic, state


class LedgerRecorder(ABC):
    """What the ledger asks of its recorder beyond the library's ApplicationRecorder."""

    rows_read = 0  # event rows fetched by the reads below (audits are judged by it)

    @abstractmethod
    def create_tables(self, entry_of: EntryOf) -> None:
        """Create what is missing, and catalog streams written before the catalog, under
        the store's lock (another process may be doing the same right now)."""

    @abstractmethod
    def batch(self) -> Batch: ...

    @abstractmethod
    def page_rows(self, after: int, limit: int) -> list[Row]:
        """The notification log after a position, as rows: the library's
        select_notifications without its Notification objects (the relay and the
        projector read every event once, and only need these five columns)."""

    @abstractmethod
    def stream_rows(self, stream_id: uuid.UUID) -> list[Row]:
        """One stream's events, in version order."""

    @abstractmethod
    def streams_rows(self, stream_ids: Sequence[uuid.UUID]) -> list[Row]:
        """Several streams' events, in position order."""

    @abstractmethod
    def position_of(self, stream_id: uuid.UUID, version: int) -> int | None: ...

    @abstractmethod
    def tenants(self) -> list[str]:
        """Every tenant the catalog knows, sorted."""

    @abstractmethod
    def tenant_rows(self, tenant_id: str, kinds: Sequence[str] = ()) -> Iterator[Row]:
        """The tenant's events (of streams of these kinds, if any), in position order,
        streamed: memory does not grow with the history."""

    @abstractmethod
    def member_streams(self, tenant_id: str, member_id: str) -> list[uuid.UUID]:
        """The streams about a member (their awards, their membership)."""

    @abstractmethod
    def uncatalogued(self) -> dict[uuid.UUID, str]:
        """Streams with events but no catalog entry, each with the tenant its first event
        names ("" if none can be read). The ledger catalogs every stream it writes, so
        only an edit behind its back leaves one; the database picks the tenant out, so
        no event of another tenant is fetched to learn whose it is."""

    def _counted(self, rows: Iterable[Row]) -> Iterator[Row]:
        for row in rows:
            self.rows_read += 1
            yield row


# -- SQLite ---------------------------------------------------------------------------------


def prepare_sqlite_file(path: Path, timeout: float = 30.0) -> None:
    """The store's file exists, private to its owner, in WAL mode.

    A company's history is its owner's only (SQLite gives the WAL the file's mode). The
    switch to WAL needs the file to itself and SQLite answers "database is locked" at
    once, without waiting, when another connection is looking: so processes opening a
    new file together try again for a while. Once in WAL mode a file stays so, and the
    library's connections find it there.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=timeout)) as connection:
                mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SQLiteLedgerRecorder(SQLiteApplicationRecorder, LedgerRecorder):
    """SQLite: positions are rowids; the catalog keys streams by the same hex text."""

    def create_tables(self, entry_of: EntryOf) -> None:
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            # IMMEDIATE takes the write lock now: a second process waits (busy timeout)
            # and then finds everything created.
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (CATALOG,)
                )
                migrating = cursor.fetchone() is None
                for statement in self.create_table_statements:
                    cursor.execute(statement)
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {CATALOG} (originator_id TEXT PRIMARY KEY, "
                    "tenant_id TEXT NOT NULL, kind TEXT NOT NULL, member_id TEXT) WITHOUT ROWID"
                )
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {CATALOG}_tenant ON {CATALOG} (tenant_id, kind)"
                )
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {CATALOG}_member ON {CATALOG} "
                    "(tenant_id, member_id) WHERE member_id IS NOT NULL"
                )
                if migrating:
                    cursor.execute(
                        f"SELECT originator_id, originator_version, topic, state "  # noqa: S608
                        f"FROM {self.events_table_name} WHERE originator_version = 1"
                    )
                    entries = [
                        entry_of(StoredEvent(uuid.UUID(r[0]), r[1], r[2], r[3]))
                        for r in cursor.fetchall()
                    ]
                    cursor.executemany(_SQLITE_CATALOG_INSERT, _sqlite_entries(entries))
                connection.commit()
            except BaseException:
                connection.rollback()
                raise

    def batch(self) -> Batch:
        return _SQLiteBatch(self)

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return list(self._counted(_sqlite_row(r) for r in cursor.fetchall()))

    def page_rows(self, after: int, limit: int) -> list[Row]:
        return self._rows(
            f"SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        )

    def stream_rows(self, stream_id: uuid.UUID) -> list[Row]:
        return self._rows(
            f"SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self.events_table_name} WHERE originator_id = ? ORDER BY originator_version",
            (stream_id.hex,),
        )

    def streams_rows(self, stream_ids: Sequence[uuid.UUID]) -> list[Row]:
        rows: list[Row] = []
        for chunk in _chunks(stream_ids, 500):
            rows += self._rows(
                f"SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {self.events_table_name} "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))})",
                [s.hex for s in chunk],
            )
        return sorted(rows)

    def position_of(self, stream_id: uuid.UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid FROM {self.events_table_name} "  # noqa: S608
                "WHERE originator_id = ? AND originator_version = ?",
                (stream_id.hex, version),
            )
            row = cursor.fetchone()
        return int(row[0]) if row else None

    def tenants(self) -> list[str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {CATALOG} ORDER BY tenant_id")  # noqa: S608
            return [r[0] for r in cursor.fetchall()]

    def tenant_rows(self, tenant_id: str, kinds: Sequence[str] = ()) -> Iterator[Row]:
        kind_filter = f"AND s.kind IN ({','.join('?' * len(kinds))}) " if kinds else ""
        sql = (
            f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state "  # noqa: S608
            f"FROM {CATALOG} s JOIN {self.events_table_name} e "
            f"ON e.originator_id = s.originator_id WHERE s.tenant_id = ? {kind_filter}"
            "ORDER BY e.rowid"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (tenant_id, *kinds))
            raw = cursor.sqlite_cursor
            while page := raw.fetchmany(PAGE):
                yield from self._counted(_sqlite_row(r) for r in page)

    def member_streams(self, tenant_id: str, member_id: str) -> list[uuid.UUID]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT originator_id FROM {CATALOG} "  # noqa: S608
                "WHERE tenant_id = ? AND member_id = ?",
                (tenant_id, member_id),
            )
            return [uuid.UUID(r[0]) for r in cursor.fetchall()]

    def uncatalogued(self) -> dict[uuid.UUID, str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT e.originator_id, CASE WHEN json_valid(CAST(e.state AS TEXT)) "  # noqa: S608
                "THEN json_extract(CAST(e.state AS TEXT), '$.tenant_id') END "
                f"FROM {self.events_table_name} e WHERE NOT EXISTS (SELECT 1 FROM {CATALOG} s "
                "WHERE s.originator_id = e.originator_id) "
                "ORDER BY e.originator_id, e.originator_version DESC"
            )
            # Descending versions: the last row of a stream is its first event.
            return {uuid.UUID(r[0]): str(r[1] or "") for r in cursor.fetchall()}


_SQLITE_CATALOG_INSERT = f"INSERT OR IGNORE INTO {CATALOG} VALUES (?, ?, ?, ?)"  # noqa: S608


def _sqlite_entries(entries: Iterable[StreamEntry | None]) -> list[tuple[str, str, str, Any]]:
    return [(e.stream_id.hex, e.tenant_id, e.kind, e.member_id) for e in entries if e is not None]


def _sqlite_row(r: Any) -> Row:
    return (int(r[0]), uuid.UUID(r[1]), int(r[2]), r[3], r[4])


class _SQLiteBatch(Batch):
    def __init__(self, recorder: SQLiteLedgerRecorder) -> None:
        self._recorder = recorder
        self._stack = ExitStack()
        self._connection = self._stack.enter_context(recorder.datastore.get_connection(commit=True))
        try:
            self._cursor = self._connection.cursor().sqlite_cursor
            self._cursor.execute("BEGIN")
        except BaseException:
            self._stack.close()
            raise

    def insert(self, stored: Sequence[StoredEvent], streams: Sequence[StreamEntry]) -> list[int]:
        cursor = self._cursor
        statement = self._recorder.insert_events_statement
        cursor.execute("SAVEPOINT command")
        positions: list[int] = []
        try:
            for s in stored:
                stream = s.originator_id
                key = stream.hex if isinstance(stream, uuid.UUID) else stream
                cursor.execute(statement, (key, s.originator_version, s.topic, s.state))
                positions.append(int(cursor.lastrowid or 0))
            if streams:
                cursor.executemany(_SQLITE_CATALOG_INSERT, _sqlite_entries(streams))
        except sqlite3.IntegrityError as error:
            cursor.execute("ROLLBACK TO command")
            cursor.execute("RELEASE command")
            raise RecordConflictError(error) from error
        cursor.execute("RELEASE command")
        return positions

    def commit(self) -> None:
        try:
            self._connection.commit()
        except BaseException:
            # A failed COMMIT can leave the transaction open on the pooled connection.
            with contextlib.suppress(Exception):
                self._connection.rollback()
            raise
        finally:
            self._stack.close()

    def rollback(self) -> None:
        try:
            with contextlib.suppress(Exception):
                self._connection.rollback()
        finally:
            self._stack.close()


# -- PostgreSQL -----------------------------------------------------------------------------


class PostgresLedgerRecorder(PostgresApplicationRecorder, LedgerRecorder):
    """PostgreSQL: positions are the library's notification ids."""

    @property
    def _table(self) -> str:
        # Names come from the library's configuration (schema, application), never input.
        return f'"{self.datastore.schema}"."{self.events_table_name}"'

    @property
    def _catalog(self) -> str:
        return f'"{self.datastore.schema}".{CATALOG}'

    def create_tables(self, entry_of: EntryOf) -> None:
        with (
            self.datastore.get_connection() as connection,
            postgres_schema_lock(connection, self.datastore.schema),
        ):
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute("SELECT to_regclass(%s) AS found", (self._catalog,))
                row = cursor.fetchone()
                migrating = row is None or row["found"] is None
            self.create_table()  # the library's tables, types and function
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._catalog} (originator_id uuid PRIMARY "
                    "KEY, tenant_id text NOT NULL, kind text NOT NULL, member_id text)"
                )
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {CATALOG}_tenant ON {self._catalog} "
                    "(tenant_id, kind)"
                )
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {CATALOG}_member ON {self._catalog} "
                    "(tenant_id, member_id) WHERE member_id IS NOT NULL"
                )
                if migrating:
                    cursor.execute(
                        f"SELECT originator_id, originator_version, topic, state "  # noqa: S608
                        f"FROM {self._table} WHERE originator_version = 1"
                    )
                    entries = [
                        entry_of(StoredEvent(r["originator_id"], 1, r["topic"], bytes(r["state"])))
                        for r in cursor.fetchall()
                    ]
                    cursor.executemany(self._catalog_insert, _pg_entries(entries))

    @property
    def _catalog_insert(self) -> str:
        return f"INSERT INTO {self._catalog} VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"  # noqa: S608

    @property
    def _catalog_insert_many(self) -> str:
        return (
            f"INSERT INTO {self._catalog} SELECT * FROM "  # noqa: S608
            "unnest(%s::uuid[], %s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING"
        )

    # Opening a batch is tried this often (0.2 s apart) before the store counts as
    # unavailable. After PostgreSQL restarts, the pool hands out a fresh connection only
    # once its reconnection (in the pool's own threads) has gone through, which a loaded
    # machine can take longer than one checkout's timeout for; the library retries its
    # own calls the same way (ten times), a batch is ours.
    OPEN_ATTEMPTS = 3

    def batch(self) -> Batch:
        import psycopg

        unavailable = (
            OperationalError,
            InterfaceError,
            psycopg.OperationalError,
            psycopg.InterfaceError,
        )
        for _ in range(self.OPEN_ATTEMPTS - 1):
            with contextlib.suppress(*unavailable):
                return _PostgresBatch(self)
            time.sleep(0.2)
        return _PostgresBatch(self)  # the last try: its error is the caller's

    def _rows(self, sql: str, params: Sequence[Any]) -> list[Row]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, params)
            return list(self._counted(_pg_row(r) for r in cursor.fetchall()))

    def page_rows(self, after: int, limit: int) -> list[Row]:
        return self._rows(
            f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self._table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
            (after, limit),
        )

    def stream_rows(self, stream_id: uuid.UUID) -> list[Row]:
        return self._rows(
            f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self._table} WHERE originator_id = %s ORDER BY originator_version",
            (stream_id,),
        )

    def streams_rows(self, stream_ids: Sequence[uuid.UUID]) -> list[Row]:
        return self._rows(
            f"SELECT notification_id, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self._table} WHERE originator_id = ANY(%s) ORDER BY notification_id",
            (list(stream_ids),),
        )

    def position_of(self, stream_id: uuid.UUID, version: int) -> int | None:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT notification_id FROM {self._table} "  # noqa: S608
                "WHERE originator_id = %s AND originator_version = %s",
                (stream_id, version),
            )
            row = cursor.fetchone()
        return int(row["notification_id"]) if row else None

    def tenants(self) -> list[str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {self._catalog} ORDER BY tenant_id")  # noqa: S608
            return [r["tenant_id"] for r in cursor.fetchall()]

    def tenant_rows(self, tenant_id: str, kinds: Sequence[str] = ()) -> Iterator[Row]:
        kind_filter = "AND s.kind = ANY(%s) " if kinds else ""
        sql = (
            f"SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "  # noqa: S608
            f"e.state FROM {self._catalog} s JOIN {self._table} e "
            f"ON e.originator_id = s.originator_id WHERE s.tenant_id = %s {kind_filter}"
            "ORDER BY e.notification_id"
        )
        params: tuple[Any, ...] = (tenant_id, list(kinds)) if kinds else (tenant_id,)
        # A server-side cursor: rows arrive a page at a time, never all at once.
        with (
            self.datastore.get_connection() as connection,
            connection.transaction(),
            connection.cursor(name="ledger_tenant_rows") as cursor,
        ):
            cursor.itersize = PAGE
            cursor.execute(sql, params)
            yield from self._counted(_pg_row(r) for r in cursor)

    def member_streams(self, tenant_id: str, member_id: str) -> list[uuid.UUID]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT originator_id FROM {self._catalog} "  # noqa: S608
                "WHERE tenant_id = %s AND member_id = %s",
                (tenant_id, member_id),
            )
            return [r["originator_id"] for r in cursor.fetchall()]

    def uncatalogued(self) -> dict[uuid.UUID, str]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT DISTINCT ON (e.originator_id) e.originator_id AS stream, "  # noqa: S608
                'substring(encode(e.state, \'escape\') from \'"tenant_id": ?"([^"]*)"\') '
                f"AS tenant FROM {self._table} e WHERE NOT EXISTS (SELECT 1 FROM "
                f"{self._catalog} s WHERE s.originator_id = e.originator_id) "
                "ORDER BY e.originator_id, e.originator_version"
            )
            return {r["stream"]: str(r["tenant"] or "") for r in cursor.fetchall()}


def _pg_entries(entries: Iterable[StreamEntry | None]) -> list[tuple[Any, ...]]:
    return [(e.stream_id, e.tenant_id, e.kind, e.member_id) for e in entries if e is not None]


def _pg_columns(entries: Sequence[StreamEntry]) -> tuple[list[Any], ...]:
    """Catalog entries as four arrays (one unnest insert)."""
    rows = _pg_entries(entries)
    return tuple([row[i] for row in rows] for i in range(4))


def _pg_row(r: Any) -> Row:
    return (
        int(r["notification_id"]),
        r["originator_id"],
        int(r["originator_version"]),
        r["topic"],
        bytes(r["state"]),
    )


class _PostgresBatch(Batch):
    def __init__(self, recorder: PostgresLedgerRecorder) -> None:
        self._recorder = recorder
        self._stack = ExitStack()
        self._connection = self._stack.enter_context(recorder.datastore.get_connection())
        self._transaction = self._connection.transaction()
        try:
            self._entered = self._transaction.__enter__()  # psycopg's Transaction
        except BaseException:
            self._stack.close()
            raise
        self._locked = False

    def insert(self, stored: Sequence[StoredEvent], streams: Sequence[StreamEntry]) -> list[int]:
        import psycopg

        recorder = self._recorder
        events = [
            recorder.construct_pg_stored_event(
                s.originator_id, s.originator_version, s.topic, s.state
            )
            for s in stored
        ]
        with self._connection.cursor() as cursor:
            try:
                # A savepoint: whatever fails here undoes this command only, and leaves
                # the batch's transaction usable for the commands after it.
                with self._connection.transaction():
                    if not self._locked:
                        # As the library does per insert, once per batch: positions are
                        # issued and committed in the same order, so no reader passes
                        # over a gap that fills in later.
                        recorder._lock_table(cursor)
                        recorder._notify_channel(cursor)
                    cursor.execute(recorder.insert_events_statement, (events,), prepare=True)
                    positions = [int(r["notification_id"]) for r in cursor.fetchall()]
                    if streams:
                        # One statement for all of them (executemany is a pipeline of
                        # one statement each: more round trips and Python per command).
                        cursor.execute(
                            recorder._catalog_insert_many,
                            _pg_columns(streams),
                            prepare=True,
                        )
            except psycopg.errors.UniqueViolation as error:
                raise RecordConflictError(str(error)) from error
        self._locked = True
        return positions

    def commit(self) -> None:
        from psycopg import Transaction
        from psycopg.pq import TransactionStatus

        if self._connection.info.transaction_status == TransactionStatus.INERROR:
            # COMMIT would roll back without an error: nothing may be answered as done.
            self.rollback()
            raise OperationalError("the batch's transaction failed; nothing was committed")
        try:
            self._transaction.__exit__(None, None, None)
            # psycopg returns quietly from a transaction whose connection was lost (no
            # COMMIT sent): only a transaction it saw committed was.
            committed = self._entered.status == Transaction.Status.COMMITTED
            if not committed or self._connection.broken:
                raise OperationalError(
                    "the connection was lost before COMMIT; nothing was committed"
                )
        finally:
            self._stack.close()

    def rollback(self) -> None:
        try:
            with contextlib.suppress(Exception):
                error = RuntimeError("batch rolled back")
                self._transaction.__exit__(type(error), error, None)
        finally:
            self._stack.close()


@contextlib.contextmanager
def postgres_schema_lock(connection: Any, schema: str) -> Iterator[None]:
    """Hold the store's advisory lock while creating its schema and tables.

    `CREATE ... IF NOT EXISTS` is not safe against itself: two sessions creating the same
    table at once can fail on PostgreSQL's catalog (`pg_type_typname_nsp_index`). Every
    process that creates anything in the schema (the event store, the key store, the
    relay's tracking table) takes this lock first, so they create one after another and
    the later ones find everything there.
    """
    key = f"ledger.schema:{schema}"
    # A session lock on an autocommit connection: held across the creators' own
    # transactions until released (or until the connection closes, if this one dies).
    connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
    try:
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        yield
    finally:
        connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def notification(row: Row) -> Notification:
    position, stream_id, version, topic, state = row
    return Notification(
        id=position, originator_id=stream_id, originator_version=version, topic=topic, state=state
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
