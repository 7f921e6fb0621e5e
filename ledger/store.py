"""The event store: an eventsourcing Application over SQLite (embedded) or PostgreSQL.

Positions are the recorder's notification ids: one total order over every
tenant's events, the watermark every downstream consumer dedupes by.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
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

from ledger.aggregates.base import LedgerAggregate
from ledger.events import LedgerEvent
from ledger.mapper import LedgerMapper

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
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # A company's history is its owner's only; SQLite gives the WAL the same mode.
            if not Path(path).exists():
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
    elif parsed.scheme in ("postgresql", "postgres"):
        env |= {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
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
    import psycopg

    with psycopg.connect(postgres_dsn(url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{postgres_schema(url)}"')


class EventStore(Application[uuid.UUID]):
    """Loads and saves ledger aggregates; exposes the notification log by position."""

    name = "Ledger"

    def __init__(self, url: str, cache_size: int = 20_000) -> None:
        self.url = url
        if url.startswith(("postgresql", "postgres")):
            ensure_postgres_schema(url)
        # Only our own keys: the library otherwise merges os.environ into its settings.
        super().__init__(env=store_env(url, cache_size))
        pool = getattr(getattr(self.recorder, "datastore", None), "pool", None)
        if pool is not None:
            # psycopg_pool backs off for up to 5 minutes between reconnections: after an
            # outage, commands would answer 503 long after PostgreSQL is back.
            pool.reconnect_timeout = 5.0
        # The cache is correct up to `_seen`: every position up to it was either written
        # by this process (and so is in the cache) or looked at by `sync`.
        self._sync_lock = threading.Lock()
        self._seen = self.max_position()
        self._ours: set[int] = set()  # positions this process wrote after `_seen`
        self._epoch = 0  # counts syncs that evicted foreign changes
        self._local = threading.local()  # the writer thread's open group, if any

    def construct_env(self, name: str, env: Any = None) -> Any:
        from eventsourcing.utils import Environment

        return Environment(name, dict(env or {}))

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return LedgerMapper(transcoder=self.construct_transcoder())

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgresql", "postgres"))

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

    def append(self, *aggregates: LedgerAggregate) -> list[Recording[uuid.UUID]]:
        """Save every pending event of the aggregates in one atomic write (on the writer's
        thread while it holds a group open: staged in the group, durable at its commit)."""
        group = getattr(self._local, "group", None)
        if group is not None:
            return list(group.stage(aggregates))
        try:
            recordings = self.save(*aggregates)
        except RecordConflictError:
            # Someone else wrote one of them first: the cached state is stale.
            self.evict(a.id for a in aggregates)
            raise
        self.wrote(recordings)
        return recordings

    @contextmanager
    def grouped_into(self, group: Any) -> Iterator[None]:
        """This thread's appends stage into `group` (see ledger.writer) until exit."""
        self._local.group = group
        try:
            yield
        finally:
            self._local.group = None

    def wrote(self, recordings: Sequence[Recording[uuid.UUID]]) -> None:
        """Note positions this process wrote (the cache already holds their state)."""
        with self._sync_lock:
            self._ours.update(
                r.notification.id for r in recordings if r.notification.id > self._seen
            )

    def evict(self, aggregate_ids: Iterable[uuid.UUID]) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

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
        return self.recorder.select_notifications(
            start=after, limit=limit, topics=topics, inclusive_of_start=False
        )

    def max_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def position_of(self, originator_id: uuid.UUID, version: int) -> int | None:
        """Notification id of one stored event (to replay an idempotent response).

        The event may be staged in the writer's open group (the first request with this
        Idempotency-Key ran just before in the same group): its position is known there.
        """
        group = getattr(self._local, "group", None)
        if group is not None:
            staged = group.position_of(originator_id, version)
            if staged is not None:
                return staged
        recorder: Any = self.recorder
        # Table names come from the library's own configuration, never from input.
        if self.is_postgres:
            table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
            sql = f"SELECT notification_id FROM {table} WHERE originator_id = %s AND originator_version = %s"  # noqa: S608, E501
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(sql, (originator_id, version))
                row = curs.fetchone()
            return int(row["notification_id"]) if row else None
        table = recorder.events_table_name
        sql = f"SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?"  # noqa: S608
        with recorder.datastore.transaction(commit=False) as cur:
            cur.execute(sql, (originator_id.hex, version))
            row = cur.fetchone()
        return int(row[0]) if row else None

    def stream(self, originator_id: uuid.UUID) -> list[tuple[int, LedgerEvent]]:
        """One aggregate's events with their positions, in version order (re-deciding a
        window loads the streams it needs as they stood at a position, not the history)."""
        recorder: Any = self.recorder
        # Table names come from the library's own configuration, never from input.
        if self.is_postgres:
            table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
            sql = (
                f"SELECT notification_id, originator_version, topic, state FROM {table} "  # noqa: S608
                "WHERE originator_id = %s ORDER BY originator_version"
            )
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(sql, (originator_id,))
                rows = [
                    (r["notification_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()
                ]
        else:
            table = recorder.events_table_name
            sql = (
                f"SELECT rowid, originator_version, topic, state FROM {table} "  # noqa: S608
                "WHERE originator_id = ? ORDER BY originator_version"
            )
            with recorder.datastore.transaction(commit=False) as cur:
                cur.execute(sql, (originator_id.hex,))
                rows = [tuple(r) for r in cur.fetchall()]
        events = []
        for position, version, topic, state in rows:
            stored = StoredEvent(
                originator_id=originator_id, originator_version=version, topic=topic, state=state
            )
            event = self.mapper.to_domain_event(stored)
            assert isinstance(event, LedgerEvent)
            events.append((int(position), event))
        return events


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def topic_of(cls: type[LedgerEvent]) -> str:
    return get_topic(cls)
