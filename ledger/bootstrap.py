"""Wiring: builds the ledger, projection and sources from Settings, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consumers.sources import KafkaSource, StoreSource
from ledger.clock import Clock
from ledger.config import Settings
from ledger.projections.projection import Projection
from ledger.service import Ledger


def open_ledger(settings: Settings, clock: Clock | None = None) -> Ledger:
    return Ledger.open(settings, clock=clock)


def open_projection(settings: Settings, ledger: Ledger, path: Path | None = None) -> Projection:
    return Projection(path or settings.projection_path, decrypt=ledger.personal.decrypt)


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

        from consumers.projector import EmbeddedProjector

        self.settings = settings
        self.ledger = open_ledger(settings, clock)
        if settings.embedded:
            self.projection = open_projection(settings, self.ledger)
            source: Any = store_source(self.ledger)
            snapshot_to: Path | None = snapshot_path(settings)
        else:
            self.projection = open_projection(
                settings, self.ledger, serve_projection_path(settings)
            )
            source = kafka_source(settings, self.projection)
            snapshot_to = None
        self.projector = EmbeddedProjector(self.projection, source, snapshot_to=snapshot_to)
        self.operator_token = settings.operator_token or f"op_{secrets.token_urlsafe(24)}"
        self.generated_token = settings.operator_token is None

    def app(self) -> Any:
        from ledger.api.app import create_app

        return create_app(
            self.ledger,
            self.projection,
            self.operator_token,
            self.settings.rate_limit,
            snapshot=self.projector.publish_snapshot,
        )

    def start(self) -> None:
        self.projector.start()

    def stop(self) -> None:
        self.projector.stop()
        self.projection.close()
        self.ledger.close()


def store_source(ledger: Ledger, page: int = 5_000) -> StoreSource:
    return StoreSource(ledger.store, page=page)
