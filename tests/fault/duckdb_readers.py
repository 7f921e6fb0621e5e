"""Other DuckDB versions than the ledger's own, to prove analysts can open what they get.

The released CLI comes from the `duckdb-cli` test dependency; the long-term-support
line is installed beside the venv by `dev.py` (`.venv/lts/duckdb-<version>`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LTS_DIRS = sorted((ROOT / ".venv" / "lts").glob("duckdb-*"))
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("LEDGER_TEST_REQUIRE_KAFKA") == "1"


def cli() -> str:
    found = shutil.which("duckdb", path=str(Path(sys.executable).parent))
    if found is None:
        if REQUIRED:
            raise RuntimeError("the duckdb CLI (duckdb-cli test dependency) is required")
        pytest.skip("install the test extra (duckdb-cli)")
    return found


def cli_query(path: Path, sql: str) -> tuple[str, str]:
    """(version, output) of a read-only query in the released DuckDB CLI."""
    binary = cli()
    version = subprocess.run([binary, "-version"], capture_output=True, text=True, check=True)
    result = subprocess.run(
        [binary, "-readonly", "-csv", "-noheader", str(path), sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return version.stdout.split()[0], result.stdout.strip()


def lts_query(path: Path, sql: str) -> tuple[str, str]:
    """(version, output) of a read-only query in DuckDB's long-term-support line."""
    if not LTS_DIRS:
        if REQUIRED:
            raise RuntimeError("DuckDB LTS is missing: run `python3 dev.py test` to install it")
        pytest.skip("DuckDB LTS not installed (python3 dev.py installs it)")
    code = (
        "import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(duckdb.__version__); "
        "print('\\n'.join(','.join(map(str, r)) for r in con.execute(sys.argv[2]).fetchall()))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(LTS_DIRS[-1])!r}); {code}",
            str(path),
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    version, _, output = result.stdout.partition("\n")
    return version.strip(), output.strip()
