"""Wrong use of the CLI as a new user makes it (issue 21), as real processes: one line,
the right exit code (2 wrong use, 1 a failed check), and nothing created. None of it
depends on the day, so it stays out of the calendar run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_report_cli import demo, ledger
from tests.support import process_env

__all__ = ["demo"]  # the demo company, built once for this module


@pytest.mark.parametrize(
    "command",
    [
        ("report", "heatmap", "--tenant", "northwnd", "--svg", "{tmp}/x.svg"),
        ("audit", "ana", "--tenant", "northwnd"),
        ("verify", "--tenant", "northwnd"),
        ("detect", "--tenant", "northwnd"),
        ("drift", "--tenant", "northwnd"),
        ("recalibrate", "--tenant", "northwnd"),
        ("audit", "nobody", "--tenant", "northwind"),
    ],
)
def test_a_typo_in_a_tenant_or_member_is_refused_in_one_line_with_exit_2(
    demo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    done = ledger(*args, "--data-dir", str(demo), check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout.strip()
    assert len(said.splitlines()) == 1 and ("northwnd" in said or "nobody" in said), said
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.parametrize(
    "command",
    [
        ("audit", "ana", "--tenant", "northwind"),
        ("verify",),
        ("drift", "--tenant", "northwind"),
        ("sql", "SELECT 1"),
        ("report", "heatmap", "--tenant", "northwind", "--svg", "x.svg"),
    ],
)
def test_a_read_on_a_directory_that_does_not_exist_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "no-such-dir"
    done = ledger(*command, "--data-dir", str(missing), check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stdout.strip().splitlines()) == 1 and str(missing) in done.stdout
    assert not missing.exists()


def test_a_sql_error_and_a_bad_setting_are_one_line(demo: Path) -> None:
    wrong = ledger("sql", "SELEC 1", "--data-dir", str(demo), check=False)
    assert wrong.returncode == 2 and wrong.stdout.startswith("SQL: ")
    assert len(wrong.stdout.strip().splitlines()) == 1
    short = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "serve", "--data-dir", str(demo)],
        env=process_env(LEDGER_OPERATOR_TOKEN="too-short", COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert short.returncode == 2
    assert "LEDGER_OPERATOR_TOKEN" in short.stdout and "too-short" not in short.stdout
    assert len(short.stdout.strip().splitlines()) == 1 and "Traceback" not in short.stderr


def test_a_busy_port_is_refused_before_anything_is_issued(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        for command in ("serve", "demo"):
            data_dir = tmp_path / command
            done = ledger(command, "--data-dir", str(data_dir), "--port", port, check=False)
            assert done.returncode == 1, done.stdout + done.stderr
            assert "--port" in done.stdout and "admin key" not in done.stdout
            assert len(done.stdout.strip().splitlines()) == 1
            assert not data_dir.exists()  # no demo written, no key issued
