"""A full or unwritable projection disk: a clear error, then a resume that skips nothing."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.bootstrap import open_ledger
from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.members import AddMember
from ledger.config import Settings
from ledger.projections.projection import Projection
from ledger.service import Ledger
from tests.integration.http_server import free_port
from tests.property.test_projection_properties import tables
from tests.support import NOW, World, process_env


class Projector:
    """`ledger project` as a real process; its log read from a pipe (a file could fill up)."""

    def __init__(self, env: dict[str, str], user: str | None = None) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger.cli",
                "project",
                "--snapshot-every",
                "3600",
                "--metrics-port",
                str(self.port),
            ],
            env={**env, "LEDGER_LOG_FORMAT": "json", "COLUMNS": "300"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            user=user,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def lag(self) -> float | None:
        try:
            text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        found = re.search(r"^ledger_projector_lag_events (\S+)$", text, re.M)
        return float(found.group(1)) if found else None

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.process.poll() is None, "".join(self.lines[-20:])
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n" + "".join(self.lines[-20:]))

    def errors(self) -> list[str]:
        return [line for line in self.lines if '"level": "error"' in line]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@contextmanager
def company(data_dir: Path) -> Iterator[tuple[Ledger, World]]:
    clock = FixedClock(NOW)
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None), clock=clock)  # type: ignore[call-arg]
    try:
        yield ledger, World(ledger, clock).standard()
    finally:
        ledger.close()


def complete_missions(world: World, members: range) -> None:
    for n in members:
        world.run(AddMember(member_id=f"m{n}", display_name=f"M {n}", team="sales"))
        world.run(CompleteMission(mission_id="follow-up", member_id=f"m{n}"), world.service)


def assert_equals_rebuild(store_dir: Path, projection_path: Path) -> None:
    ledger = open_ledger(Settings(data_dir=store_dir, _env_file=None))  # type: ignore[call-arg]
    try:
        followed = Projection(projection_path, decrypt=ledger.personal.decrypt)
        clean = Projection(":memory:", decrypt=ledger.personal.decrypt)
        catch_up(clean, StoreSource(ledger.store))
        assert followed.source_position("store") == ledger.store.max_position()
        assert tables(followed) == tables(clean)
        followed.close()
    finally:
        ledger.close()


def test_a_full_disk_stops_the_projector_with_a_clear_error_and_it_resumes_skipping_nothing(
    tmp_path: Path,
) -> None:
    store_dir, projection_path = tmp_path / "store", tmp_path / "proj" / "projections.duckdb"
    with company(store_dir) as (_, world):
        complete_missions(world, range(5))
        projector = Projector(
            {
                **process_env(),
                "LEDGER_DATA_DIR": str(store_dir),
                "LEDGER_DUCKDB_PATH": str(projection_path),
            }
        )
        try:
            projector.wait_until(lambda: projector.lag() == 0, "the first catch-up")
            # The disk is full: no file of the projector may grow by a single byte.
            resource.prlimit(
                projector.process.pid, resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY)
            )
            complete_missions(world, range(5, 25))
            projector.wait_until(lambda: bool(projector.errors()), "a clear error")
            assert "File too large" in projector.errors()[0], projector.errors()
            time.sleep(1.5)  # a few failed retries
            # The scrape may be slow on a loaded machine: ask until it answers.
            seen: list[float | None] = []
            projector.wait_until(
                lambda: seen.append(projector.lag()) or seen[-1] is not None, "a metrics scrape"
            )
            assert (seen[-1] or 0) > 0, "it claimed progress on a full disk"
            unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
            resource.prlimit(projector.process.pid, resource.RLIMIT_FSIZE, unlimited)
            projector.wait_until(lambda: projector.lag() == 0, "the resume")
            # Logged after the batch it resumed with committed: the scrape may see it first.
            projector.wait_until(
                lambda: any('"projector resumed"' in line for line in projector.lines),
                "the resume logged",
                timeout=10,
            )
        finally:
            projector.stop()
        assert_equals_rebuild(store_dir, projection_path)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory another user can reach (pytest's own tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ledger-fault-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_an_unwritable_projection_directory_is_waited_out_then_everything_is_applied(
    shared_tmp: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("runs the projector as another user (needs root), so permissions bind")
    try:
        subprocess.run(
            [sys.executable, "-c", "import ledger"], user="nobody", capture_output=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        # A checkout under a directory only its owner may enter (`mktemp -d` makes 0700).
        pytest.skip(f"user nobody cannot run this checkout's Python from {sys.prefix}")
    tmp_path = shared_tmp
    store_dir, projection_dir = tmp_path / "store", tmp_path / "proj"
    projection_dir.mkdir()
    with company(store_dir) as (_, world):
        complete_missions(world, range(10))
    # The projector runs as `nobody`: it may use the store, not (yet) the projection directory.
    for path in (tmp_path, store_dir, *store_dir.iterdir(), projection_dir):
        shutil.chown(path, "nobody", "nogroup")
    projection_dir.chmod(0o500)
    projector = Projector(
        {
            **process_env(),
            "LEDGER_DATA_DIR": str(store_dir),
            "LEDGER_DUCKDB_PATH": str(projection_dir / "projections.duckdb"),
            "HOME": str(tmp_path),
        },
        user="nobody",
    )
    try:
        projector.wait_until(lambda: bool(projector.errors()), "a clear error")
        assert "Permission denied" in projector.errors()[0]
        assert projector.process.poll() is None, "the projector gave up"
        projection_dir.chmod(0o700)
        projector.wait_until(lambda: projector.lag() == 0, "the catch-up")
    finally:
        projector.stop()
    assert_equals_rebuild(store_dir, projection_dir / "projections.duckdb")
