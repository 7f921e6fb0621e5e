"""Start-up that tolerates company: processes opening one fresh store at the same moment.

An orchestrator starts every replica, relay and projector at once. Each creates what it
needs in the store (schema, tables, types, the catalog, the key table, the tracking
table) and PostgreSQL's `CREATE ... IF NOT EXISTS` is not safe against itself: two
sessions creating one table together fail on `pg_type_typname_nsp_index`. Every
creator takes the store's advisory lock (ledger.persistence); SQLite's write lock does
the same for a file. Here: openers released by one barrier in one process (the
tightest race there is), then real processes started at one moment, round after round.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import drop_schema, postgres_url
from tests.fault.processes import (
    LedgerProcess,
    ledger_env,
    operator_token,
    started_together,
)
from tests.integration.kafka_broker import Broker

ROUNDS = 20


def race(openers: list[Callable[[], Any]]) -> list[str]:
    """Run the openers in threads released together; the errors they raised."""
    barrier = threading.Barrier(len(openers), timeout=60)
    errors: list[str] = []

    def run(opener: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            opened = opener()
            getattr(opened, "close", lambda: None)()
        except Exception as error:
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    threads = [threading.Thread(target=run, args=(o,)) for o in openers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def store_opener(url: str) -> Callable[[], Any]:
    def open_store() -> Any:
        from ledger.store import EventStore

        return EventStore(url)

    return open_store


def key_store_opener(url: str) -> Callable[[], Any]:
    def open_keys() -> Any:
        from ledger.personal_data import PostgresKeyStore
        from ledger.store import postgres_dsn, postgres_schema

        return PostgresKeyStore(postgres_dsn(url), postgres_schema(url))

    return open_keys


def tracking_opener(url: str) -> Callable[[], Any]:
    def open_tracking() -> Any:
        from ledger.store import EventStore

        store = EventStore(url)
        try:
            store.tracking_recorder()
        finally:
            store.close()

    return open_tracking


@pytest.mark.postgres
def test_openers_released_together_on_a_fresh_schema_all_succeed() -> None:
    """Given a fresh schema, when 8 openers of its event store, key store and tracking
    table are released at once, 20 rounds, then none fails (before the lock: about 3 of
    every 4 rounds had one fail on pg_type_typname_nsp_index or pg_namespace)."""
    failures: list[str] = []
    for _ in range(ROUNDS):
        url = postgres_url()
        try:
            failures += race(
                [store_opener(url)] * 4 + [key_store_opener(url)] * 2 + [tracking_opener(url)] * 2
            )
        finally:
            drop_schema(url)
    assert failures == []


def test_openers_released_together_on_a_fresh_sqlite_file_all_succeed(tmp_path: Path) -> None:
    failures: list[str] = []
    for round_ in range(ROUNDS):
        url = f"sqlite:///{tmp_path / f'events-{round_}.sqlite'}"
        failures += race([store_opener(url)] * 4)
    assert failures == []


@pytest.mark.postgres
@pytest.mark.kafka
@pytest.mark.timeout(900)
def test_four_processes_started_together_against_a_fresh_schema(
    broker: Broker, tmp_path: Path
) -> None:
    """Given a fresh schema each round, when two `ledger serve` replicas, `ledger relay`
    and `ledger project` begin at one moment (their modules imported beforehand, so they
    reach the store within milliseconds of each other), 20 rounds, then every one comes up
    and stops cleanly."""
    token = operator_token()
    failures: list[str] = []
    for round_ in range(ROUNDS):
        url = postgres_url()
        logs = tmp_path / f"round-{round_}"
        logs.mkdir()

        def env(name: str, url: str = url, logs: Path = logs) -> dict[str, str]:
            return ledger_env(
                logs / name,
                token,
                broker.bootstrap,
                f"ledger.events.{uuid.uuid4().hex[:8]}",
                LEDGER_EVENT_STORE=url,
            )

        topic_env = env("shared")
        processes = [
            LedgerProcess.serve({**topic_env, "LEDGER_DATA_DIR": str(logs / "a")}, logs),
            LedgerProcess.serve({**topic_env, "LEDGER_DATA_DIR": str(logs / "b")}, logs),
            LedgerProcess.relay({**topic_env, "LEDGER_DATA_DIR": str(logs / "relay")}, logs),
            LedgerProcess.project({**topic_env, "LEDGER_DATA_DIR": str(logs / "proj")}, logs),
        ]
        for i, process in enumerate(processes):
            process.name = f"{process.name}-{i}"
        try:
            started_together(processes)
            for process in processes:
                try:
                    process.wait_ready(timeout=60)
                except AssertionError as error:
                    failures.append(f"round {round_}: {error}")
            for process in processes:
                if process.alive() and process.terminate() != 0:
                    failures.append(f"round {round_}: {process.describe()}")
        finally:
            for process in processes:
                process.ensure_stopped()
            drop_schema(url)
    assert failures == []
