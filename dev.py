#!/usr/bin/env python3
"""Set-up and entry points for a fresh machine that has only Python 3.11+.

    python3 dev.py demo    # create .venv, install, run `ledger demo`
    python3 dev.py test    # create .venv, install with test extras, run the whole test suite
    python3 dev.py check   # ruff and mypy
    python3 dev.py bench [--quick|--smoke]   # the performance table (bench/, docs/performance.md)
    python3 dev.py ledger ARGS...   # any ledger command inside the venv

The venv is (re)installed only when pyproject.toml changed since the last install.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"
# DuckDB's long-term-support line, beside the venv: the fault tests open analysts'
# snapshots with it (and with the released CLI, a test dependency) to prove they can.
DUCKDB_LTS = "1.4.5"
LTS_DIR = VENV / "lts" / f"duckdb-{DUCKDB_LTS}"


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is required")
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the ledger and its test tools into .venv (first run only) ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[test]"], check=True)
    if not LTS_DIR.exists():
        # A side directory, not the venv: the ledger itself runs the pinned DuckDB.
        lts = [*pip, "--no-deps", "--target", str(LTS_DIR), f"duckdb=={DUCKDB_LTS}"]
        subprocess.run(lts, check=True)
    STAMP.write_text(wanted)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium (never a downloaded browser)."""
    if Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "no /usr/bin/chromium: the browser tests will be skipped "
            "(as root: apt-get install -y chromium)",
            flush=True,
        )
        return
    print("installing Chromium for the browser tests (apt-get, first run only) ...", flush=True)
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)


def run(*argv: str) -> int:
    child = subprocess.Popen(list(argv), cwd=ROOT)
    try:
        return child.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the child too (same process group): let it stop cleanly (a
        # server checkpoints its files) instead of killing it, then say so in one line.
        try:
            child.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            child.kill()
        raise


def main() -> int:
    task, *rest = sys.argv[1:] or ["help"]
    if task not in {"demo", "test", "check", "ledger", "bench"}:
        print(__doc__)
        return 0 if task == "help" else 2
    ensure_venv()
    if task == "demo":
        return run(str(BIN / "ledger"), "demo", *rest)
    if task == "ledger":
        return run(str(BIN / "ledger"), *rest)
    if task == "bench":
        return run(str(BIN / "python"), "-m", "bench", *rest)
    if task == "check":
        lint = run(str(BIN / "ruff"), "check", ".")
        types = run(str(BIN / "mypy"))
        return lint or types
    ensure_chromium()
    return run(str(BIN / "python"), "-m", "pytest", *rest)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nstopped (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
