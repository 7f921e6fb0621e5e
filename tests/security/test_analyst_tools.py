"""What an analyst's tools can reach (issue 17): `ledger sql` reads the projections and
nothing else; `ledger export parquet DIR` takes any directory name as a name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.projections.projection import Projection
from tests.conftest import open_ledger
from tests.support import NOW, World, process_env


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a few awards, its projections, and the analysts' snapshot of them."""
    data = tmp_path_factory.mktemp("analyst")
    world = World(
        open_ledger(f"sqlite:///{data / 'events.sqlite'}", FixedClock(NOW)), FixedClock(NOW)
    )
    world.standard()
    world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
    world.ledger.close()
    built = ledger("rebuild", "--data-dir", str(data))
    assert built.returncode == 0, built.stdout + built.stderr
    # The analysts' snapshot as a server publishes it: views over Parquet parts.
    projection = Projection(data / "projections.duckdb")
    projection.publish_snapshot(data / "projections.snapshot.duckdb")
    projection.close()
    return data


def ledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=process_env(COLUMNS="300"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sql(data_dir: Path, query: str) -> subprocess.CompletedProcess[str]:
    return ledger("sql", query, "--data-dir", str(data_dir))


def test_sql_reads_the_projections(data_dir: Path) -> None:
    answer = sql(data_dir, "SELECT member_id, points FROM awards")
    assert answer.returncode == 0, answer.stderr
    assert "ana" in answer.stdout and "10" in answer.stdout


@pytest.mark.parametrize(
    "reach",
    [
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_blob('{data}/member-keys.sqlite')",
        "SELECT * FROM read_blob('{data}/events.sqlite')",
        "COPY awards TO '{data}/stolen.csv'",
        # The parts' directory is readable (the views read it), never writable.
        "COPY awards TO '{data}/projections.snapshot.parts/planted.parquet'",
        "SELECT 1; COPY awards TO '{data}/projections.snapshot.parts/planted.csv'",
        "SELECT * FROM read_blob('{data}/projections.snapshot.parts/../events.sqlite')",
        "EXPORT DATABASE '{data}/stolen'",
        "ATTACH '{data}/projections.duckdb' AS live",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "CREATE TABLE planted AS SELECT 1",
    ],
)
def test_sql_refuses_every_reach_beyond_the_snapshot(data_dir: Path, reach: str) -> None:
    before = sorted(p.name for p in data_dir.iterdir())
    answer = sql(data_dir, reach.format(data=data_dir))
    output = answer.stdout + answer.stderr
    assert answer.returncode == 2, output
    assert output.startswith("SQL: ") and len(output.strip().splitlines()) == 1, output
    assert "Traceback" not in output
    assert sorted(p.name for p in data_dir.iterdir()) == before  # nothing written
    assert not list((data_dir / "projections.snapshot.parts").glob("planted*"))
    assert "root:" not in output


def test_sql_help_says_what_it_can_read() -> None:
    shown = ledger("sql", "--help").stdout
    assert "nothing else" in shown and "ATTACH" in shown


@pytest.mark.parametrize(
    "name", ["o'brien", "x' (FORMAT csv); COPY awards TO '/tmp/ledger-pwned.csv' --"]
)
def test_export_takes_any_directory_name_as_a_name(
    data_dir: Path, tmp_path: Path, name: str
) -> None:
    target = tmp_path / name
    answer = ledger("export", "parquet", str(target), "--data-dir", str(data_dir))
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert not Path("/tmp/ledger-pwned.csv").exists()
    awards = duckdb.connect().execute(
        "SELECT member_id FROM read_parquet(?)", [str(target / "awards.parquet")]
    )
    assert awards.fetchall() == [("ana",)]
