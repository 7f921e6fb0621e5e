"""A projector process killed with SIGKILL mid-batch restarts into tables equal to a rebuild."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.bootstrap import open_ledger
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.demo import build_demo
from ledger.projections.projection import Projection
from tests.property.test_projection_properties import tables
from tests.support import process_env


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    clock = FixedClock(datetime(2026, 11, 2, 9, tzinfo=UTC))
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None), clock=clock)  # type: ignore[call-arg]
    build_demo(ledger, clock, clock.now())
    ledger.close()
    return data_dir


@pytest.mark.parametrize("attempt", range(3))
def test_sigkill_mid_batch_then_restart_equals_rebuild(
    demo_dir: Path, tmp_path: Path, attempt: int
) -> None:
    projection_path = tmp_path / "projections.duckdb"
    env = {
        **process_env(),
        "LEDGER_DATA_DIR": str(demo_dir),
        "LEDGER_DUCKDB_PATH": str(projection_path),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "project",
            "--batch-size",
            "150",
            "--snapshot-every",
            "1000",
            "--report",
        ],
        env={**env, "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    process.stdout.readline()  # "projecting ..."
    rng = random.Random(attempt)
    for _ in range(rng.randint(1, 20)):  # let some batches commit ...
        assert process.stdout.readline().startswith(b"committed")
    time.sleep(rng.uniform(0, 0.02))  # ... then kill it inside the next one

    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    ledger = open_ledger(Settings(data_dir=demo_dir, _env_file=None))  # type: ignore[call-arg]
    restarted = Projection(projection_path, decrypt=ledger.personal.decrypt)
    partial = restarted.source_position("store")
    catch_up(restarted, StoreSource(ledger.store, page=150))
    clean = Projection(":memory:", decrypt=ledger.personal.decrypt)
    catch_up(clean, StoreSource(ledger.store))
    assert 0 < partial < ledger.store.max_position(), "not killed mid-way"
    assert tables(restarted) == tables(clean)
    ledger.close()
