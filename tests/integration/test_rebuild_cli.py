"""`ledger rebuild [--as-of]` through the real CLI, against a store on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from ledger.bootstrap import open_ledger
from ledger.cli import app
from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.config import Settings
from tests.support import World


def test_rebuild_as_of_uses_only_events_recorded_up_to_the_moment(
    tmp_path: Path, clock: FixedClock
) -> None:
    ledger = open_ledger(Settings(data_dir=tmp_path, _env_file=None), clock=clock)  # type: ignore[call-arg]
    world = World(ledger, clock).standard()
    world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
    cut = clock.now()
    clock.advance(timedelta(hours=1))
    # Recorded after the cut, though it occurred before it.
    world.run(
        CompleteMission(
            mission_id="follow-up", member_id="bo", occurred_at=cut - timedelta(hours=2)
        ),
        world.service,
    )
    ledger.close()
    runner = CliRunner()
    full = runner.invoke(app, ["rebuild", "--data-dir", str(tmp_path)])
    past = runner.invoke(
        app, ["rebuild", "--data-dir", str(tmp_path), "--as-of", cut.strftime("%Y-%m-%dT%H:%M:%S")]
    )
    assert full.exit_code == 0 and past.exit_code == 0, full.output + past.output

    def members(path: Path) -> list[tuple[str]]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute("SELECT member_id FROM awards ORDER BY member_id").fetchall()
        finally:
            con.close()

    assert members(tmp_path / "projections.duckdb") == [("ana",), ("bo",)]
    as_of_files = list(tmp_path.glob("projections-asof-*.duckdb"))
    assert len(as_of_files) == 1 and members(as_of_files[0]) == [("ana",)]
