"""Projection files recover by themselves: clean stops, foreign WALs, unreadable files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import pytest

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.bootstrap import ServeRuntime, open_ledger
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.demo import build_demo
from ledger.projections.database import ProjectionUnavailable
from ledger.projections.files import OwnerLock, ProjectionInUse
from ledger.projections.projection import Projection
from tests.integration.http_server import OPERATOR_TOKEN, free_port, serving
from tests.property.test_projection_properties import tables
from tests.support import process_env

TOKEN = "op_" + "fault-suite-operator-token-0123456789"


def demo_store(data_dir: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 2, 9, tzinfo=UTC))
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None), clock=clock)  # type: ignore[call-arg]
    build_demo(ledger, clock, clock.now())
    ledger.close()


def serve(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        env={**process_env(), "LEDGER_OPERATOR_TOKEN": TOKEN, "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0][-3000:]
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not come up")


def equals_rebuild(data_dir: Path) -> None:
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    try:
        kept = Projection(data_dir / "projections.duckdb", decrypt=ledger.personal.decrypt)
        clean = Projection(":memory:", decrypt=ledger.personal.decrypt)
        catch_up(clean, StoreSource(ledger.store))
        assert tables(kept) == tables(clean)
        kept.close()
    finally:
        ledger.close()


def rebuild(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "rebuild", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**process_env(), "COLUMNS": "300"},
    )


def test_sigterm_closes_duckdb_cleanly_and_a_rebuild_then_start_works(tmp_path: Path) -> None:
    demo_store(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(tmp_path, port)
    wait_healthy(url, process)
    tenant = httpx.post(
        f"{url}/v1/tenants",
        json={"tenant_id": "late", "name": "Late"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert tenant.status_code == 201, tenant.text
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    # A clean stop checkpoints: no WAL is left to mismatch a rebuilt file.
    assert not (tmp_path / "projections.duckdb.wal").exists()
    rebuilt = rebuild(tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    process = serve(tmp_path, port)
    try:
        wait_healthy(url, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    equals_rebuild(tmp_path)


def test_a_rebuild_refuses_while_another_process_owns_the_file(tmp_path: Path) -> None:
    demo_store(tmp_path)
    port = free_port()
    process = serve(tmp_path, port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        before = (tmp_path / "projections.duckdb").stat().st_ino
        rebuilt = rebuild(tmp_path)
        assert rebuilt.returncode == 1
        assert "in use by `ledger serve`" in rebuilt.stdout
        assert "Traceback" not in rebuilt.stdout + rebuilt.stderr
        assert (tmp_path / "projections.duckdb").stat().st_ino == before, "it swapped anyway"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_the_owner_lock_is_released_by_a_killed_process(tmp_path: Path) -> None:
    target = tmp_path / "projections.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from ledger.projections.files import OwnerLock; "
            f"OwnerLock(Path({str(target)!r}), 'project').acquire(); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        OwnerLock(target, "rebuild").acquire()
        raise AssertionError("two owners at once")
    except ProjectionInUse as refused:
        assert f"pid {holder.pid}" in str(refused)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    claim = OwnerLock(target, "rebuild")
    claim.acquire()  # nobody had to delete a lock file
    claim.release()


def test_an_unreadable_projection_is_moved_aside_and_rebuilt_while_queries_answer_503(
    tmp_path: Path,
) -> None:
    demo_store(tmp_path)
    projection_path = tmp_path / "projections.duckdb"
    projection_path.write_bytes(b"not a database" * 1000)
    (tmp_path / "projections.duckdb.wal").write_bytes(b"a WAL of another file")
    settings = Settings(
        data_dir=tmp_path, operator_token=OPERATOR_TOKEN, rate_limit=0, _env_file=None
    )  # type: ignore[call-arg]
    runtime = ServeRuntime(settings)  # the projector thread is not started yet
    kept = sorted(tmp_path.glob("projections.duckdb.broken-*"))
    assert [p.name.endswith(".wal") for p in kept] == [False, True]
    assert kept[0].read_bytes().startswith(b"not a database"), "the unreadable file was lost"
    with serving(runtime) as url:
        admin = httpx.post(
            f"{url}/v1/tenants",
            json={"tenant_id": "during", "name": "During"},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        assert admin.status_code == 201, "commands must keep working"
        headers = {"Authorization": f"Bearer {admin.json()['admin_key']}"}
        query = httpx.get(f"{url}/v1/leaderboard", headers=headers)
        assert query.status_code == 503 and query.headers["Retry-After"]
        assert query.headers["content-type"] == "application/problem+json"
        runtime.start()
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/v1/leaderboard", headers=headers).status_code == 503:
            assert time.monotonic() < deadline, "never caught up"
            time.sleep(0.1)
        # The drift watch may raise alerts on the caught-up projection (the demo ends a
        # month before today): they are events too, and the file must hold them before
        # it is compared.
        if runtime.raiser is not None:
            runtime.raiser.stop()
        while runtime.projection.applied_position() < runtime.ledger.store.max_position():
            assert time.monotonic() < deadline, "never applied the last events"
            time.sleep(0.1)
    equals_rebuild(tmp_path)


def test_queries_answer_unavailable_while_a_failed_file_cannot_be_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given a projection whose connection died and whose file cannot be reopened yet,
    when queries and a lag scrape arrive, they get "unavailable" and the last applied
    position (never a closed connection); once reopening works, everything answers."""
    data_dir = tmp_path / "store"
    demo_store(data_dir)
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    projection = Projection(tmp_path / "p.duckdb", owner="project")
    try:
        catch_up(projection, StoreSource(ledger.store))
        applied = projection.applied_position()
        assert applied == ledger.store.max_position()

        projection.con.close()  # what DuckDB does to a connection after an I/O error
        real_open = projection.db._open

        def disk_still_full() -> duckdb.DuckDBPyConnection:
            raise duckdb.IOException('Could not write file "p.duckdb.wal": File too large')

        monkeypatch.setattr(projection.db, "_open", disk_still_full)
        projection.recover_connection()
        with pytest.raises(ProjectionUnavailable):
            projection.tenant_positions()
        assert projection.applied_position() == applied

        monkeypatch.setattr(projection.db, "_open", real_open)
        projection.recover_connection()
        assert projection.applied_position() == applied
        assert projection.tenant_positions()
    finally:
        projection.close()
        ledger.close()
