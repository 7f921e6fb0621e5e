"""The event store: an eventsourcing Application over SQLite (embedded) or PostgreSQL.

Positions are the recorder's notification ids: one total order over every
tenant's events, the watermark every downstream consumer dedupes by.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.application import Application
from eventsourcing.persistence import (
    Mapper,
    Notification,
    RecordConflictError,
    Recording,
    StoredEvent,
)
from eventsourcing.utils import get_topic

from ledger.aggregates.base import AGGREGATE_OF, LedgerAggregate
from ledger.events import LedgerEvent
from ledger.mapper import LedgerMapper
from ledger.persistence import (
    Batch,
    LedgerRecorder,
    PostgresLedgerRecorder,
    Row,
    SQLiteLedgerRecorder,
    StreamEntry,
    postgres_schema_lock,
    prepare_sqlite_file,
)

A = TypeVar("A", bound=LedgerAggregate)


def store_env(url: str, cache_size: int = 20_000) -> dict[str, str]:
    """eventsourcing environment for an event-store URL."""
    # A write-through cache: this process's saves update it, so a hit costs no query.
    # Other writers' changes are found once per command by `EventStore.sync` instead.
    # No copy per load either (a tenth of a command's time): a command that fails after
    # changing what it loaded evicts it instead (Ledger._attempt).
    env = {
        "AGGREGATE_CACHE_MAXSIZE": str(cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else parsed.path
        if path != ":memory:":
            prepare_sqlite_file(Path(path))
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteLedgerRecorder),
            "CREATE_TABLE": "n",  # EventStore creates its tables, under the store's lock
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    elif parsed.scheme in ("postgresql", "postgres"):
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": get_topic(PostgresLedgerRecorder),
            "CREATE_TABLE": "n",  # EventStore creates its tables, under the store's lock
            "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_SCHEMA": postgres_schema(url),
            # When PostgreSQL goes away, every store call is tried 10 times by
            # eventsourcing (0.2 s apart), each waiting this long (whole seconds) for
            # a pooled connection. The library's default of 30 s makes a request hang
            # for 5 minutes; 1 s answers 503 after about 12 s, and under a burst a
            # request still has those ~12 s in all to get one of the 12 connections.
            "POSTGRES_CONNECT_TIMEOUT": "1",
            # A pooled connection is checked as it is handed out (one round trip): after
            # PostgreSQL restarts, the pool's dead connections are replaced instead of
            # failing the next group commit (the library retries its own inserts; a batch
            # is ours).
            "POSTGRES_PRE_PING": "y",
        }
    else:
        raise ValueError(f"unsupported event store URL {url!r} (sqlite:/// or postgresql://)")
    return env


def postgres_schema(url: str) -> str:
    """Schema from `?schema=NAME` (tests isolate themselves this way), else public."""
    return parse_qs(urlparse(url).query).get("schema", ["public"])[0]


def postgres_dsn(url: str) -> str:
    """The URL without our own query parameters, for psycopg."""
    return url.split("?", 1)[0]


def ensure_postgres_schema(url: str) -> None:
    """The schema exists (created under the store's lock: processes may start together)."""
    import psycopg

    with (
        psycopg.connect(postgres_dsn(url), autocommit=True) as connection,
        postgres_schema_lock(connection, postgres_schema(url)),
    ):
        pass


class EventStore(Application[uuid.UUID]):
    """Loads and saves ledger aggregates; exposes the notification log by position.

    Every write goes through a batch (ledger.persistence): one command's `append` opens
    and commits its own, the writer (ledger.writer) passes one open batch to every
    command of a group. The aggregate cache is written through at staging and evicted
    here, in one place, whenever what it holds may not be what the store holds.
    """

    name = "Ledger"

    def __init__(self, url: str, cache_size: int = 20_000) -> None:
        self.url = url
        if url.startswith(("postgresql", "postgres")):
            ensure_postgres_schema(url)
        # Only our own keys: the library otherwise merges os.environ into its settings.
        super().__init__(env=store_env(url, cache_size))
        self.records.create_tables(self._entry_of_stored)
        pool = getattr(getattr(self.recorder, "datastore", None), "pool", None)
        if pool is not None and hasattr(pool, "reconnect_timeout"):
            # psycopg_pool backs off for up to 5 minutes between reconnections: after an
            # outage, commands would answer 503 long after PostgreSQL is back.
            pool.reconnect_timeout = 5.0
        # The cache is correct up to `_seen`: every position up to it was either written
        # by this process (and so is in the cache) or looked at by `sync`.
        self._sync_lock = threading.Lock()
        self._seen = self.max_position()
        self._ours: set[int] = set()  # positions this process wrote after `_seen`
        self._epoch = 0  # counts syncs that evicted foreign changes
        self._open: set[WriteBatch] = set()  # batches staged but not yet committed

    def construct_env(self, name: str, env: Any = None) -> Any:
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return LedgerMapper(transcoder=self.construct_transcoder())

    @property
    def records(self) -> LedgerRecorder:
        """The recorder, as the ledger's persistence adapter (ledger.persistence)."""
        recorder = self.recorder
        assert isinstance(recorder, LedgerRecorder)
        return recorder

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql", "postgres"))

    def tracking_recorder(self) -> Any:
        """The library's tracking recorder (the relay's and the dispatcher's positions),
        its table created under the store's lock like every other."""
        recorder: Any = self.factory.tracking_recorder()
        if self.is_postgres:
            datastore = recorder.datastore
            with (
                datastore.get_connection() as connection,
                postgres_schema_lock(connection, datastore.schema),
            ):
                recorder.create_table()
        else:
            recorder.create_table()
        return recorder

    def load(self, cls: type[A], aggregate_id: uuid.UUID) -> A | None:
        """The aggregate, or None when it has no events."""
        from eventsourcing.application import AggregateNotFoundError

        epoch = self._epoch
        try:
            aggregate = self.repository.get(aggregate_id, projector_func=cls.projector())
        except AggregateNotFoundError:
            return None
        if self._epoch != epoch:
            # A sync evicted foreign changes while this load read the store: what it put
            # in the cache may predate them, so it does not stay there.
            self.evict([aggregate_id])
        if not isinstance(aggregate, cls):
            return None
        return aggregate

    def load_or_blank(self, cls: type[A], aggregate_id: uuid.UUID, tenant_id: str) -> A:
        return self.load(cls, aggregate_id) or cls(aggregate_id, tenant_id)

    def append(
        self, *aggregates: LedgerAggregate, batch: WriteBatch | None = None
    ) -> list[Recording[uuid.UUID]]:
        """Stage every pending event of the aggregates as one all-or-nothing insert: into
        `batch` (durable at its commit), or into a batch of their own, committed here.
        RecordConflictError: another writer changed one of them first (nothing staged)."""
        if batch is not None:
            return batch.stage(aggregates)
        with self.batch() as own:
            return own.stage(aggregates)

    def open_batch(self) -> WriteBatch:
        """An open batch: the caller commits or rolls it back (ledger.writer)."""
        batch = WriteBatch(self, self.records.batch())
        self._open.add(batch)
        return batch

    def closed(self, batch: WriteBatch) -> None:
        self._open.discard(batch)

    @contextmanager
    def batch(self) -> Iterator[WriteBatch]:
        """An open batch, committed when the block ends (rolled back if it raises)."""
        batch = self.open_batch()
        try:
            yield batch
        except BaseException:
            batch.rollback()
            raise
        batch.commit()

    def wrote(self, recordings: Sequence[Recording[uuid.UUID]]) -> None:
        """Note positions this process wrote (the cache already holds their state)."""
        with self._sync_lock:
            self._ours.update(
                r.notification.id for r in recordings if r.notification.id > self._seen
            )

    def evict(self, aggregate_ids: Iterable[uuid.UUID]) -> None:
        """Drop cached state that may not be what the store holds: the one place that does.

        An aggregate staged in an open batch is not in the store yet, so dropping it
        would let the next command of the batch decide without what the batch staged:
        it is rebuilt instead, from its committed events and the batch's staged ones.
        """
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)
            for batch in list(self._open):
                staged = batch.rebuilt(aggregate_id)
                if staged is not None:
                    cache.put(aggregate_id, staged)

    def cache(self, aggregates: Iterable[LedgerAggregate]) -> None:
        """Write-through: the next command decides on this state without reading it."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate in aggregates:
                cache.put(aggregate.id, aggregate)

    SYNC_LIMIT = 1_000  # beyond this many foreign events, dropping the cache is cheaper

    def sync(self) -> None:
        """Evict cached aggregates another process changed since the last look.

        One cheap query (the head position) per command: if every position since the
        last look is this process's own write, the cache is current. Otherwise the
        foreign events' aggregates are evicted (or the whole cache, after many), so a
        command never decides on state older than what was committed before it began.
        """
        head = self.max_position()
        with self._sync_lock:
            seen = self._seen
            if head <= seen:
                return
            foreign = {p for p in range(seen + 1, head + 1) if p not in self._ours}
            if foreign:
                self._epoch += 1
                if head - seen > self.SYNC_LIMIT:
                    self._drop_cache()
                else:
                    changed = self.select(seen, head - seen)
                    self.evict({_uuid(n.originator_id) for n in changed if n.id in foreign})
            self._ours = {p for p in self._ours if p > head}
            self._seen = head

    def _drop_cache(self) -> None:
        cache: Any = self.repository.cache
        if cache is not None:
            cache.clear() if hasattr(cache, "clear") else cache.cache.clear()

    def select(self, after: int, limit: int, topics: Sequence[str] = ()) -> Sequence[Notification]:
        found = self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )
        self.records.rows_read += len(found)
        return found

    def page(self, after: int, limit: int) -> list[Row]:
        """The notification log after a position as plain rows (see page_rows)."""
        return self.records.page_rows(after, limit)

    def max_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def position_of(
        self, originator_id: uuid.UUID, version: int, batch: WriteBatch | None = None
    ) -> int | None:
        """Notification id of one stored event (to replay an idempotent response).

        The event may be staged in the open batch (the first request with this
        Idempotency-Key ran just before in the same group): its position is known there.
        """
        if batch is not None:
            staged = batch.position_of(originator_id, version)
            if staged is not None:
                return staged
        return self.records.position_of(originator_id, version)

    def stream(self, originator_id: uuid.UUID) -> list[tuple[int, LedgerEvent]]:
        """One aggregate's events with their positions, in version order (re-deciding a
        window loads the streams it needs as they stood at a position, not the history)."""
        return [(row[0], self.event_of(row)) for row in self.records.stream_rows(originator_id)]

    def event_of(self, row: Row) -> LedgerEvent:
        _, stream_id, version, topic, state = row
        stored = StoredEvent(
            originator_id=stream_id, originator_version=version, topic=topic, state=state
        )
        event = self.mapper.to_domain_event(stored)
        assert isinstance(event, LedgerEvent)
        return event

    def _entry_of_stored(self, stored: StoredEvent) -> StreamEntry | None:
        """The catalog entry of a stream written before the catalog existed."""
        try:
            event = self.mapper.to_domain_event(stored)
        except Exception:
            # Unreadable (tampered): left out; verify finds it among uncatalogued streams.
            return None
        assert isinstance(event, LedgerEvent)
        return stream_entry(event)


def stream_entry(event: LedgerEvent) -> StreamEntry:
    """What the catalog records of the stream `event` opens: its tenant, its kind, and
    the member it is about (an award's, a member's own, a member's behavior)."""
    member = getattr(event, "member_id", None)
    return StreamEntry(
        _uuid(event.originator_id),
        event.tenant_id,
        AGGREGATE_OF[type(event)].__name__,
        member if isinstance(member, str) else None,
    )


class WriteBatch:
    """The store's side of an open batch: maps events to rows, catalogs new streams,
    writes the cache through, and evicts whatever a conflict or a failure leaves stale."""

    def __init__(self, store: EventStore, batch: Batch) -> None:
        self.store = store
        self._batch = batch
        self.recordings: list[Recording[uuid.UUID]] = []
        self._staged: dict[uuid.UUID, LedgerAggregate] = {}

    def stage(self, aggregates: Sequence[LedgerAggregate]) -> list[Recording[uuid.UUID]]:
        events: list[LedgerEvent] = []
        for aggregate in aggregates:
            events += aggregate.collect_events()
        stored = [self.store.mapper.to_stored_event(e) for e in events]
        opened = [stream_entry(e) for e in events if e.originator_version == 1]
        try:
            positions = self._batch.insert(stored, opened)
        except RecordConflictError:
            # Someone else wrote one of them first: the cached state is stale.
            self.store.evict(a.id for a in aggregates)
            raise
        recordings = [
            Recording(
                e,
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=position,
                ),
            )
            for e, s, position in zip(events, stored, positions, strict=True)
        ]
        self.store.cache(aggregates)
        self._staged.update((a.id, a) for a in aggregates)
        self.recordings += recordings
        return recordings

    @property
    def holds_write_lock(self) -> bool:
        """Has this batch written? Then it holds the store's write lock until it ends
        (SQLite's reserved lock, PostgreSQL's table lock): no other process can have
        written since, so a command joining it needs no head-position sync."""
        return bool(self.recordings)

    def rebuilt(self, aggregate_id: uuid.UUID) -> LedgerAggregate | None:
        """A staged aggregate as the batch left it, made again from its committed events
        and the events this batch staged (None: this batch staged nothing of it)."""
        kind = self._staged.get(aggregate_id)
        if kind is None:
            return None
        staged = [
            cast(LedgerEvent, r.domain_event)
            for r in self.recordings
            if r.domain_event.originator_id == aggregate_id
        ]
        first = staged[0].originator_version
        committed = [e for _, e in self.store.stream(aggregate_id) if e.originator_version < first]
        return type(kind).projector()(None, [*committed, *staged])

    def position_of(self, originator_id: uuid.UUID, version: int) -> int | None:
        for recording in self.recordings:
            event = recording.domain_event
            if event.originator_id == originator_id and event.originator_version == version:
                return int(recording.notification.id)
        return None

    def commit(self) -> None:
        self.store.closed(self)
        try:
            self._batch.commit()
        except BaseException:
            self.store.evict(self._staged)  # none of it is in the store
            raise
        self.store.wrote(self.recordings)

    def rollback(self) -> None:
        self.store.closed(self)
        self._batch.rollback()
        self.store.evict(self._staged)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def topic_of(cls: type[LedgerEvent]) -> str:
    return get_topic(cls)
