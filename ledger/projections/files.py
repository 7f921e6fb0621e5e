"""The projection's files on disk: who owns them, how they are swapped, moved aside, copied.

A DuckDB database is two files, `X.duckdb` and its write-ahead log `X.duckdb.wal`.
A WAL replayed against a file it does not belong to stops DuckDB from opening it,
so every operation here treats the pair as one thing. Ownership is an advisory
`flock` on `X.duckdb.lock`: the kernel releases it when its process dies, even by
SIGKILL, so no crash ever leaves a lock for a human to delete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ledger.logs import get_logger

log = get_logger("ledger.projections")


class ProjectionInUse(Exception):
    """Another process owns the projection file."""


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def lock_of(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class OwnerLock:
    """An exclusive, crash-released claim on a projection file.

    `serve` and `project` own the file they write; `rebuild` owns the file it will
    replace for as long as it builds and swaps. The holder's pid and role are written
    into the lock file so a refusal can say who holds it.
    """

    def __init__(self, path: Path, role: str) -> None:
        self.path = lock_of(path)
        self.target = path
        self.role = role
        self.fd: int | None = None

    def holder(self) -> dict[str, object]:
        try:
            return dict(json.loads(self.path.read_text() or "{}"))
        except (OSError, ValueError):
            return {}

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "role": self.role}).encode())
        self.fd = fd
        return True

    def acquire(self, wait_for: Callable[[dict[str, object]], bool] = lambda _: False) -> None:
        """Take the lock, or raise ProjectionInUse; waits while `wait_for(holder)` says so."""
        announced = 0.0
        while not self.try_acquire():
            holder = self.holder()
            if not wait_for(holder):
                raise ProjectionInUse(
                    f"{self.target.name} is in use by `ledger {holder.get('role', '?')}` "
                    f"(pid {holder.get('pid', '?')}); stop it first"
                )
            if time.monotonic() - announced > 10:
                log.warning(
                    "waiting for the projection file",
                    file=self.target.name,
                    holder=holder.get("role"),
                    pid=holder.get("pid"),
                )
                announced = time.monotonic()
            time.sleep(0.2)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def remove_database(path: Path) -> None:
    """Delete a database file together with its WAL (a stale side file of a dead rebuild)."""
    wal_of(path).unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def swap_in(built: Path, target: Path) -> None:
    """Replace `target` by the fully checkpointed `built`, never leaving a foreign WAL.

    The old WAL goes first: a crash between the two steps leaves the old file at its
    last checkpoint, a consistent earlier state the projector resumes from; the other
    order could pair the new file with the old WAL, which DuckDB refuses to open.
    """
    wal_of(target).unlink(missing_ok=True)
    fsync_dir(target.parent)
    os.replace(built, target)
    wal_of(built).unlink(missing_ok=True)
    fsync_dir(target.parent)


def move_aside(path: Path) -> Path:
    """Keep an unreadable database (and its WAL) under a timestamped name; returns it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.name}.broken-{stamp}")
    if wal_of(path).exists():
        os.replace(wal_of(path), wal_of(kept))
    if path.exists():
        os.replace(path, kept)
    fsync_dir(path.parent)
    return kept


def temporary_for(target: Path) -> Path:
    """A unique temporary name beside `target`: concurrent publishers never trip over
    each other, and `remove_stale_temporaries` finds what a killed one left."""
    return target.with_name(f".{target.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")


def seal(path: Path) -> None:
    """Owner-only (a company's data) and on disk before anything names it."""
    os.chmod(path, 0o600)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(tmp: Path, target: Path) -> None:
    """Atomically replace `target` by the finished temporary `tmp`."""
    seal(tmp)
    os.replace(tmp, target)
    fsync_dir(target.parent)


def remove_stale_temporaries(directory: Path, name: str) -> None:
    """Temporary copies a killed publisher left behind (only the owner calls this)."""
    for stale in directory.glob(f".{name}.*.tmp"):
        stale.unlink(missing_ok=True)


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
