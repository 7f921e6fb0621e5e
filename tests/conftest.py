"""Fixtures: a ledger on a SQLite file and, when a DSN is given, on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ledger import bootstrap
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.service import Ledger
from tests.support import NOW, World, start_timeline, timeline


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--moment",
        default=None,
        help="ISO instant with offset: where the tests' timeline starts (marker `calendar`).",
    )


def pytest_configure(config: pytest.Config) -> None:
    given = config.getoption("--moment")
    if given:
        moment = datetime.fromisoformat(given)
        if moment.tzinfo is None:
            raise pytest.UsageError("--moment needs an offset, e.g. 2027-03-28T03:30+02:00")
        start_timeline(moment)


def pytest_report_header(config: pytest.Config) -> str:
    return f"timeline of the calendar tests starts at {timeline().now().isoformat()}"


POSTGRES_DSN = os.environ.get("LEDGER_TEST_POSTGRES_DSN")
# CI sets this so a missing PostgreSQL fails the run instead of skipping its tests.
REQUIRE_POSTGRES = os.environ.get("LEDGER_TEST_REQUIRE_POSTGRES") == "1"


def postgres_url() -> str:
    if not POSTGRES_DSN:
        if REQUIRE_POSTGRES:
            raise RuntimeError("LEDGER_TEST_POSTGRES_DSN is required in CI")
        pytest.skip("set LEDGER_TEST_POSTGRES_DSN to run PostgreSQL tests")
    return f"{POSTGRES_DSN}?schema=t_{uuid.uuid4().hex[:12]}"


def drop_schema(url: str) -> None:
    import psycopg

    from ledger.store import postgres_dsn, postgres_schema

    with psycopg.connect(postgres_dsn(url), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{postgres_schema(url)}" CASCADE')


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def open_ledger(url: str, clock: FixedClock) -> Ledger:
    return bootstrap.open_ledger(Settings(event_store=url, _env_file=None), clock=clock)  # type: ignore[call-arg]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.sqlite'}"
        return
    url = postgres_url()
    yield url
    drop_schema(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.sqlite'}"


@pytest.fixture
def ledger(store_url: str, clock: FixedClock) -> Iterator[Ledger]:
    opened = open_ledger(store_url, clock)
    yield opened
    opened.close()


@pytest.fixture
def world(ledger: Ledger, clock: FixedClock) -> World:
    return World(ledger, clock).standard()


from tests.integration.kafka_broker import broker  # noqa: E402,F401  (session fixture)
