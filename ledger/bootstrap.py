"""The composition root: every process of the ledger is assembled here, from Settings.

`ledger serve` (ServeRuntime), `ledger project` (ProjectorRuntime), `ledger relay`
(RelayRuntime), `ledger rebuild` (rebuild_into) and the analysts' tools
(analyst_connection) take their parts from here and nowhere else: which key store goes
with which event store, one single writer per process, the metrics each process
reports, which source a projector follows. The CLI (ledger.cli) only parses arguments
and prints; the web app (ledger.app) and the services receive what they need.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from consumers.sources import KafkaSource, StoreSource
from ledger.clock import Clock, ShiftedClock
from ledger.config import Settings
from ledger.drift.raising import DriftRaiser
from ledger.logs import cause, get_logger
from ledger.monitoring import HttpMetrics, OpsServer, ProcessMetrics
from ledger.personal_data import PersonalData, PostgresKeyStore, SQLiteKeyStore, keys_path
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.store import EventStore, postgres_dsn, postgres_schema
from ledger.webhooks.dispatcher import Dispatcher
from ledger.writer import Writer


def clock_for(settings: Settings) -> Clock:
    """The process's clock: the wall clock, or (tests only) one started at LEDGER_TEST_NOW."""
    if settings.test_now is None:
        return Clock()
    get_logger("ledger").warning(
        "LEDGER_TEST_NOW is set: this process's clock runs from a chosen moment (tests only)",
        moment=settings.test_now.isoformat(),
    )
    return ShiftedClock(settings.test_now)


def open_ledger(settings: Settings, clock: Clock | None = None) -> Ledger:
    """The write side over the configured event store, with the key store that goes with
    it: member keys beside the events (SQLite: a file of their own; PostgreSQL: a table
    in the same schema), so erasing a member's key reaches the same place as the events."""
    store = EventStore(settings.event_store_url, settings.aggregate_cache_size)
    keys: SQLiteKeyStore | PostgresKeyStore
    try:
        if store.is_postgres:
            url = settings.event_store_url
            keys = PostgresKeyStore(postgres_dsn(url), postgres_schema(url))
        else:
            events = store.env["SQLITE_DBNAME"]
            keys = SQLiteKeyStore(keys_path(events), legacy_path=events)
    except BaseException:
        store.close()
        raise
    return Ledger(store, PersonalData(keys), clock or clock_for(settings))


def open_projection(
    settings: Settings, ledger: Ledger, path: Path | None = None, owner: str | None = None
) -> Projection:
    """The projection file; `owner` (serve, project) claims it for this process's lifetime."""
    return Projection(
        path or settings.projection_path,
        ledger.personal.decrypt,
        owner,
        settings.duckdb_memory_limit,
    )


def snapshot_path(settings: Settings) -> Path:
    """The analysts' copy: replaced atomically, opened read-only, never blocks the writer."""
    path = settings.projection_path
    return path.with_name(path.stem + ".snapshot.duckdb")


def serve_projection_path(settings: Settings) -> Path:
    """In Kafka mode `ledger serve` owns its own DuckDB file; `ledger project` owns the main one."""
    path = settings.projection_path
    return path.with_name(path.stem + ".serve.duckdb")


def kafka_source(
    settings: Settings, projection: Projection, group_id: str | None = None, until_end: bool = False
) -> KafkaSource:
    return KafkaSource(settings, projection.source_position, group_id=group_id, until_end=until_end)


def store_source(ledger: Ledger, page: int = 5_000) -> StoreSource:
    return StoreSource(ledger.store, page=page)


def executor(ledger: Ledger, writer: Writer | None = None) -> Callable[..., dict[str, Any]]:
    """Run a background command (the watch, the dispatcher) through the process's single
    writer when there is one, else straight through the ledger; its answer's body."""

    def execute(command: Any, caller: Any) -> dict[str, Any]:
        if writer is None:
            return ledger.execute(command, caller).body
        return dict(writer.run(lambda batch: ledger.execute(command, caller, batch=batch)).body)

    return execute


def dispatcher(settings: Settings, ledger: Ledger, writer: Writer | None = None) -> Dispatcher:
    return Dispatcher(
        ledger,
        executor(ledger, writer),
        allow_private=settings.webhook_allow_private,
        retry_base=settings.webhook_retry_seconds,
        lease=settings.webhook_lease_seconds,
    )


def drift_raiser(
    settings: Settings, projection: Projection, ledger: Ledger, writer: Writer | None = None
) -> DriftRaiser:
    """The drift watch's raising pass over `projection`."""
    return DriftRaiser(projection, executor(ledger, writer), ledger.clock, settings.drift_interval)


def ops_server(
    settings: Settings,
    port: int | None,
    metrics: ProcessMetrics,
    health: Callable[[], tuple[bool, dict[str, Any]]],
    handled: Callable[[], int],
    store: EventStore,
) -> OpsServer | None:
    """/metrics and /healthz of a relay or projector process, when a port is configured."""
    port = settings.metrics_port if port is None else port
    if not port:
        return None
    clock = clock_for(settings)

    def scrape() -> None:
        metrics.scrape(store, handled(), clock.now(), health()[0])

    return OpsServer(port, metrics.registry, health, before_scrape=scrape).start()


# -- ledger serve -----------------------------------------------------------------------------


class ServeRuntime:
    """Everything `ledger serve` runs in one process: store, projector thread, API app.

    Embedded mode (no Kafka): the projector follows the event store into the main
    projection file and publishes the analysts' snapshot. Kafka mode: the projector
    follows the topic (every partition, offsets kept in the file's own transactions)
    into a file only this process writes; `ledger project` owns the main file.
    """

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        from consumers.projector import EmbeddedProjector, Follower
        from consumers.snapshots import Snapshots

        self.settings = settings
        self.ledger = open_ledger(settings, clock)
        try:
            self.projection = open_projection(
                settings, self.ledger, self.projection_path, owner="serve"
            )
        except BaseException:
            self.ledger.close()
            raise
        if self.projection.catching_up and self.ledger.store.max_position() == 0:
            self.projection.catching_up = False  # a new file of a new store: nothing to wait for
        source: Any = (
            store_source(self.ledger)
            if settings.embedded
            else kafka_source(settings, self.projection)
        )
        self.source = source
        target = self.snapshot_path
        self.snapshots = Snapshots(self.projection, target) if target else None
        self.projector = EmbeddedProjector(
            Follower(self.projection, source, snapshots=self.snapshots)
        )
        # One writer thread per process: the API's commands and the watch's raising.
        self.writer = Writer(self.ledger.store)
        self.metrics = HttpMetrics()
        self.raiser = (
            drift_raiser(settings, self.projection, self.ledger, self.writer)
            if settings.embedded
            else None  # Kafka mode: `ledger project` watches the main projection
        )
        # Webhooks are sent from the store (the outbox); Kafka mode: by `ledger relay`.
        self.dispatcher = (
            dispatcher(settings, self.ledger, self.writer) if settings.embedded else None
        )
        given = settings.operator_token
        self.operator_token = (
            given.get_secret_value() if given else f"op_{secrets.token_urlsafe(24)}"
        )
        self.generated_token = settings.operator_token is None

    @property
    def projection_path(self) -> Path:
        if self.settings.embedded:
            return self.settings.projection_path
        return serve_projection_path(self.settings)

    @property
    def snapshot_path(self) -> Path | None:
        return snapshot_path(self.settings) if self.settings.embedded else None

    def app(self) -> Any:
        from ledger.app import create_app

        return create_app(
            self.ledger,
            self.projection,
            self.writer,
            self.operator_token,
            metrics=self.metrics,
            rate_limit=self.settings.rate_limit,
            snapshots=self.snapshots,
            auth_failure_rate=self.settings.auth_failure_rate,
            operator_rate=self.settings.operator_rate,
            trusted_proxies=self.settings.trusted_proxies,
            webhook_allow_private=self.settings.webhook_allow_private,
        )

    def start(self) -> None:
        self.projector.start()
        if self.raiser is not None:
            self.raiser.start()
        if self.dispatcher is not None:
            self.dispatcher.start()

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.stop()
        if self.raiser is not None:
            self.raiser.stop()
        self.projector.stop()
        self.writer.close()
        if isinstance(self.source, KafkaSource):
            self.source.close()
        self.projection.close()
        self.ledger.close()


# -- ledger project ---------------------------------------------------------------------------


class ProjectorRuntime:
    """`ledger project`: follows the store or Kafka into the main projection file,
    publishes the analysts' snapshot, and runs the drift watch's raising pass."""

    def __init__(
        self,
        settings: Settings,
        source: str,
        group: str,
        snapshot_every: float,
        batch_size: int,
        metrics_port: int | None,
        stopping: threading.Event,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        from consumers.projector import Follower
        from consumers.snapshots import Snapshots

        self.settings = settings
        self.stopping = stopping
        self.ledger = open_ledger(settings)
        self.projection: Projection | None = None
        try:
            self.projection = self._open_when_possible()
        except BaseException:
            self.ledger.close()
            raise
        if self.projection is None:  # stopped while waiting for the disk
            return
        projection = self.projection
        self.follow: Any = (
            kafka_source(settings, projection, group_id=group)
            if source == "kafka"
            else store_source(self.ledger, page=batch_size)
        )
        self.snapshot_path = snapshot_path(settings)
        self.follower = Follower(
            projection,
            self.follow,
            interval=0.1,
            snapshots=Snapshots(projection, self.snapshot_path, snapshot_every),
            progress=progress,
        )
        follower = self.follower
        self.ops = ops_server(
            settings,
            metrics_port,
            ProcessMetrics("projector"),
            health=lambda: (follower.healthy(), {"failures": follower.failures}),
            handled=projection.applied_position,
            store=self.ledger.store,
        )
        # The drift watch reads this process's projection and raises through its ledger.
        self.raiser = drift_raiser(settings, projection, self.ledger)

    def _open_when_possible(self) -> Projection | None:
        """Open the projection file, waiting out a full or unwritable disk (logged, retried)."""
        import duckdb

        backoff = 0.5
        while not self.stopping.is_set():
            try:
                return open_projection(self.settings, self.ledger, owner="project")
            except (duckdb.Error, OSError) as error:
                get_logger("ledger.projector").error(
                    "cannot open the projection file; retrying",
                    file=self.settings.projection_path.name,
                    error=cause(error),
                    retry_in_s=backoff,
                )
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        return None

    def run(self) -> None:
        if self.projection is None:
            self.ledger.close()
            return
        self.raiser.start()
        try:
            self.follower.run(self.stopping)
        finally:
            self.raiser.stop()
            if self.ops is not None:
                self.ops.stop()
            if hasattr(self.follow, "close"):
                self.follow.close()
            self.projection.close()
            self.ledger.close()


# -- ledger relay -----------------------------------------------------------------------------


class RelayRuntime:
    """`ledger relay`: publishes the store's new events to Kafka, and (the gateway to the
    outside) delivers webhooks from the store."""

    def __init__(self, settings: Settings, metrics_port: int | None) -> None:
        from consumers.relay import Relay

        self.settings = settings
        self.ledger = open_ledger(settings)
        try:
            self.publisher = publisher = Relay(settings, self.ledger.store)
        except BaseException:
            self.ledger.close()
            raise
        self.stopping = publisher.stopping
        metrics = ProcessMetrics("relay")
        self.published = metrics.counter(
            "ledger_relay_published", "Records acknowledged by the broker"
        )
        self.ops = ops_server(
            settings,
            metrics_port,
            metrics,
            health=lambda: (
                publisher.failures == 0 or time.monotonic() - publisher.last_ok < 60,
                {"failures": publisher.failures, "position": publisher.position_or_none()},
            ),
            handled=publisher.position,
            store=self.ledger.store,
        )
        self.hooks = dispatcher(settings, self.ledger)

    def run(self) -> None:
        self.hooks.start()
        try:
            self.publisher.run(on_page=self.published.inc)
        finally:
            self.hooks.stop()
            if self.ops is not None:
                self.ops.stop()
            self.publisher.close()
            self.ledger.close()


# -- ledger rebuild and the analysts' tools ---------------------------------------------------


def rebuild_into(
    settings: Settings,
    source: str,
    target: Path,
    moment: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, float]:
    """Build `target` afresh from the source in a side file, then swap it in with its WAL.

    Raises ProjectionInUse while another process owns the target; returns (events,
    seconds). `progress(applied, total)` follows along.
    """
    from consumers.projector import catch_up
    from consumers.sources import RecordedUntil
    from ledger.projections.files import OwnerLock, remove_database, swap_in

    claim = OwnerLock(target, "rebuild")
    claim.acquire()
    try:
        building = target.with_name(target.name + ".building")
        remove_database(building)  # a side file a killed rebuild left
        ledger = open_ledger(settings)
        projection = open_projection(settings, ledger, building)
        total = ledger.store.max_position()
        started = time.perf_counter()
        replay: Any = (
            kafka_source(settings, projection, until_end=True)
            if source == "kafka"
            else store_source(ledger, page=10_000)
        )
        if moment is not None:
            replay = RecordedUntil(replay, moment)
        applied_so_far = 0

        def advanced(n: int) -> None:
            nonlocal applied_so_far
            applied_so_far += n
            if progress is not None:
                progress(applied_so_far, total)

        applied = catch_up(projection, replay, progress=advanced, rebuild=True)
        if hasattr(replay, "close"):
            replay.close()
        projection.close()  # checkpointed: the side file has no WAL
        ledger.close()
        swap_in(building, target)
    finally:
        claim.release()
    return applied, time.perf_counter() - started


# What an analyst's connection may do: read the snapshot's tables, nothing else. The
# snapshot's tables are views over its Parquet parts, so file access stays on for that
# one directory; the configuration is locked once it is set (ICU is built in: no file
# is read for the time zone), and `read_only_statements` refuses anything but queries
# (a COPY could otherwise write into the parts' directory).
LOCKED_DOWN: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
}
QUERIES = ("SELECT", "EXPLAIN")


class NoProjections(Exception):
    """Neither the analysts' snapshot nor a projection file exists yet."""


def analyst_connection(settings: Settings, locked: bool = False) -> Any:
    """The analysts' snapshot (or, with no server running, the projection file), read-only;
    `locked`: no file, database, extension or setting beyond it is reachable."""
    import duckdb

    from ledger.projections.snapshot import parts_dir

    for path in (snapshot_path(settings), settings.projection_path):
        if path.exists():
            config = LOCKED_DOWN if locked else {}
            con = duckdb.connect(str(path), read_only=True, config=config)
            con.execute("SET TimeZone = 'UTC'")
            if locked:
                con.execute("SET autoload_known_extensions = false")
                parts = parts_dir(snapshot_path(settings))
                con.execute("SET allowed_directories = ?", [[f"{parts}/"]])
                con.execute("SET enable_external_access = false")
                con.execute("SET lock_configuration = true")
            return con
    raise NoProjections(f"no projections under {settings.data_dir}: run `ledger rebuild`")


def read_only_statements(con: Any, query: str) -> str | None:
    """Why `query` may not run on a locked analyst connection, or None if it may."""
    for statement in con.extract_statements(query):
        kind = statement.type.name
        if kind not in QUERIES:
            return f"only queries may run here (SELECT, EXPLAIN), not {kind}"
    return None
