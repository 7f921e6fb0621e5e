"""`ledger report` as a real process on the demo company's analysts' snapshot."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import duckdb
import pytest

from tests.integration.http_server import OPERATOR_TOKEN
from tests.support import process_env

# Its answers depend on the day: run again at fixed moments (.ci/run).
pytestmark = pytest.mark.calendar

SVG = "{http://www.w3.org/2000/svg}"


def ledger(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=process_env(LEDGER_OPERATOR_TOKEN=OPERATOR_TOKEN, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("report")
    ledger("demo", "--no-serve", "--data-dir", str(data_dir))
    return data_dir


def test_the_heatmap_picture_has_the_snapshots_numbers_as_svg_and_png(
    demo: Path, tmp_path: Path
) -> None:
    svg, png = tmp_path / "heatmap.svg", tmp_path / "heatmap.png"
    done = ledger(
        "report",
        "heatmap",
        "--tenant",
        "northwind",
        "--svg",
        str(svg),
        "--png",
        str(png),
        "--data-dir",
        str(demo),
    )
    assert f"-> {svg}" in done.stdout and f"-> {png}" in done.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    root = ET.fromstring(svg.read_text())
    numbers = sorted(int(t.text) for t in root.iter(f"{SVG}text") if t.text and t.text.isdigit())
    # Every (team, value, week) cell of the last 12 weeks carries its points.
    con = duckdb.connect(str(demo / "projections.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT points FROM value_heatmap WHERE tenant_id = 'northwind' "
        "AND week_start >= (SELECT max(week_start) FROM value_heatmap) - INTERVAL 77 DAY"
    ).fetchall()
    con.close()
    assert len(rows) > 100, rows  # 12 weeks x 4 teams x 6 values, nearly all with points
    assert [n for n in numbers if n > 0] == sorted(int(r[0]) for r in rows if r[0] > 0)


def test_alignment_and_leaderboard_pictures_are_drawn(demo: Path, tmp_path: Path) -> None:
    # Monthly: the demo's strategy turn (week 6 of 26) lies within the trend's months.
    for kind, period in (("alignment", "month"), ("leaderboard", "month")):
        out = tmp_path / f"{kind}.svg"
        ledger(
            "report",
            kind,
            "--tenant",
            "northwind",
            "--svg",
            str(out),
            "--period",
            period,
            "--data-dir",
            str(demo),
        )
        root = ET.fromstring(out.read_text())
        title = root.find(f"{SVG}title")
        assert title is not None
        # every picture states the dates it covers (issue 21)
        assert re.search(r"\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}", title.text or ""), title.text
    markers = [
        line
        for line in ET.fromstring((tmp_path / "alignment.svg").read_text()).iter(f"{SVG}line")
        if line.get("data-testid") == "revision-marker"
    ]
    assert len(markers) == 1  # the demo turns its strategy once


def test_wrong_use_is_refused_with_a_clear_message(demo: Path, tmp_path: Path) -> None:
    cases = (
        (["report", "pie", "--tenant", "northwind", "--svg", "x.svg"], "choose one of"),
        (["report", "heatmap", "--tenant", "northwind"], "--svg FILE"),
        (
            ["report", "alignment", "--tenant", "northwind", "--svg", "x.svg", "--period", "all"],
            "does not apply",
        ),
    )
    for args, message in cases:
        done = ledger(*args, "--data-dir", str(demo), check=False)
        assert done.returncode == 2, done
        assert message in done.stdout + done.stderr
    assert not (tmp_path / "x.svg").exists()
