"""Wiring: builds the ledger, projection and sources from Settings, in one place."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from consumers.sources import StoreSource
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


def store_source(
    ledger: Ledger, recorded_until: datetime | None = None, page: int = 5_000
) -> StoreSource:
    return StoreSource(ledger.store, page=page, recorded_until=recorded_until)
