"""Wiring: builds the ledger, projection and sources from Settings, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumers.sources import KafkaSource, StoreSource
from ledger.clock import Clock, ShiftedClock
from ledger.config import Settings
from ledger.drift.raising import DriftRaiser
from ledger.logs import get_logger
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.webhooks.dispatcher import Dispatcher


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
    return Ledger.open(settings, clock=clock or clock_for(settings))


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


class EmbeddedRuntime:
    """Everything `ledger serve` runs in one process: store, projector thread, API app.

    Embedded mode (no Kafka): the projector follows the event store into the main
    projection file and publishes the analysts' snapshot. Kafka mode: the projector
    follows the topic (every partition, offsets kept in the file's own transactions)
    into a file only this process writes; `ledger project` owns the main file.
    """

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        import secrets

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
        from ledger.writer import Writer

        # One writer thread per process: the API's commands and the watch's raising.
        self.writer = Writer(self.ledger.store)
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
        from ledger.api.app import create_app

        return create_app(
            self.ledger,
            self.projection,
            self.operator_token,
            self.settings.rate_limit,
            snapshots=self.snapshots,
            auth_failure_rate=self.settings.auth_failure_rate,
            operator_rate=self.settings.operator_rate,
            trusted_proxies=self.settings.trusted_proxies,
            writer=self.writer,
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


def store_source(ledger: Ledger, page: int = 5_000) -> StoreSource:
    return StoreSource(ledger.store, page=page)


def executor(ledger: Ledger, writer: Any = None) -> Any:
    """Run a background command (the watch, the dispatcher) through the process's single
    writer when there is one, else straight through the ledger; its answer's body."""

    def execute(command: Any, caller: Any) -> dict[str, Any]:
        if writer is None:
            return ledger.execute(command, caller).body
        return dict(writer.run(lambda: ledger.execute(command, caller)).body)

    return execute


def dispatcher(settings: Settings, ledger: Ledger, writer: Any = None) -> Dispatcher:
    return Dispatcher(
        ledger,
        executor(ledger, writer),
        allow_private=settings.webhook_allow_private,
        retry_base=settings.webhook_retry_seconds,
        lease=settings.webhook_lease_seconds,
    )


def drift_raiser(
    settings: Settings, projection: Projection, ledger: Ledger, writer: Any = None
) -> DriftRaiser:
    """The drift watch's raising pass over `projection`."""
    return DriftRaiser(projection, executor(ledger, writer), ledger.clock, settings.drift_interval)
