"""A private PostgreSQL server for one test: initdb, start, crash (stop -m immediate), restart.

The machine's shared PostgreSQL (5432) is never touched: this one has its own data
directory, a free loopback port, trust authentication for the `postgres` role, and
its own socket directory. PostgreSQL refuses to run as root, so when the tests run
as root the server runs as an unprivileged user (`nobody` unless
LEDGER_TEST_POSTGRES_OS_USER says otherwise). Every wait is bounded, and the server
is stopped and its files removed on the way out, whatever happened in the test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

START_SECONDS = 30.0
STOP_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("LEDGER_TEST_REQUIRE_POSTGRES") == "1":
            raise RuntimeError(f"{name} is required to run the PostgreSQL fault tests")
        pytest.skip(f"{name} is not on PATH: cannot start a private PostgreSQL")
    return found


class PrivatePostgres:
    """One PostgreSQL cluster in `root`, listening on 127.0.0.1:`port` only."""

    def __init__(self, root: Path, port: int, os_user: str | None) -> None:
        self.root, self.port, self.os_user = root, port, os_user
        self.data = root / "data"
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        # `user=` drops root before exec; pg_ctl and initdb refuse to run as root.
        return subprocess.run(
            list(args),
            user=self.os_user,
            cwd=self.root,  # the server user must be able to stat its working directory
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def init(self) -> None:
        done = self._run(
            _binary("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # a throwaway cluster: no need to wait for the disk
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        # In the cluster's own configuration, so `pg_ctl start` after a crash uses the
        # same port and sockets. fsync stays on: a crash here is the server process
        # dying (SIGQUIT), which the OS page cache survives either way, but the WAL
        # replay on restart is exactly what production does.
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "max_connections = 60\n"
                "shared_buffers = 16MB\n"
                "logging_collector = off\n"
            )

    def start(self) -> None:
        done = self._run(
            _binary("pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(START_SECONDS)),
            timeout=START_SECONDS + 10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{done.stderr}\n{self.log_tail()}")
        self.wait_ready(START_SECONDS)

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: no checkpoint, connections cut, recovery on start."""
        done = self._run(
            _binary("pg_ctl"),
            "stop",
            "-D",
            str(self.data),
            "-m",
            "immediate",
            "-w",
            "-t",
            str(int(STOP_SECONDS)),
            timeout=STOP_SECONDS + 10,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed:\n{done.stderr}\n{self.log_tail()}")
        assert not self.accepts_connections(), "PostgreSQL still answers after stop"

    def accepts_connections(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.accepts_connections():
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL not ready after {seconds}s\n{self.log_tail()}")
            time.sleep(0.1)

    def postmaster_pid(self) -> int | None:
        with suppress(OSError, ValueError, IndexError):
            return int((self.data / "postmaster.pid").read_text().split()[0])
        return None

    def shutdown(self) -> None:
        """Stop the server if it runs; if pg_ctl cannot, kill our own postmaster."""
        if self.postmaster_pid() is None:
            return
        with suppress(RuntimeError, subprocess.TimeoutExpired):
            self.crash()
            return
        pid = self.postmaster_pid()
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # the postmaster this helper started

    def log_tail(self, lines: int = 30) -> str:
        with suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _os_user() -> str | None:
    """The user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("LEDGER_TEST_POSTGRES_OS_USER", "nobody")
    try:
        pwd.getpwnam(name)
    except KeyError:
        pytest.skip(f"no unprivileged user {name!r} to run PostgreSQL as")
    return name


@contextmanager
def private_postgres(keep_log_in: Path | None = None) -> Iterator[PrivatePostgres]:
    """A started private server; stopped and removed on exit (its log copied to keep_log_in).

    The cluster lives in its own temporary directory rather than under pytest's
    tmp_path: pytest makes its base directory private to root (0700), and the server
    runs as another user who must reach its data directory.
    """
    for name in ("initdb", "pg_ctl"):
        _binary(name)  # skip (or fail in CI) before creating anything
    os_user = _os_user()
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    if os_user is not None:
        entry = pwd.getpwnam(os_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server: PrivatePostgres | None = None
    try:
        for attempt in range(3):  # the free port can be taken between probe and bind
            server = PrivatePostgres(root, free_port(), os_user)
            if attempt == 0:
                server.init()
            else:
                _set_port(server)
            try:
                server.start()
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        assert server is not None
        yield server
    finally:
        if server is not None:
            server.shutdown()
            if keep_log_in is not None:
                with suppress(OSError):
                    shutil.copy(server.log, keep_log_in / "postgres.log")
        shutil.rmtree(root, ignore_errors=True)


def _set_port(server: PrivatePostgres) -> None:
    # The last `port =` line of postgresql.conf wins.
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {server.port}\n")
