"""What every benchmark row shares: rows, sizes, ports, child processes, memory, percentiles."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Only for the benchmark's own throw-away servers (at least 24 characters, see config).
OPERATOR = "op_bench_only_not_a_secret_0123"


@dataclass(frozen=True)
class Sizes:
    """How much each row does in one mode of the harness."""

    http_seconds: int  # each wrk run
    open_rate: float  # commands/s of the open-loop rows
    open_seconds: float  # each open-loop run
    commands: int  # in-process commands of each kind
    behaviors: int  # the large one-tenant history (queries, rebuild, lag, snapshot)
    members: int  # of that history
    small_behaviors: int  # the small history the lag is compared with
    kafka_behaviors: int  # the history relayed to Kafka and rebuilt from it
    query_repeats: int  # timed runs of each query (p95 of them)
    verify_behaviors: int  # the history `ledger verify` checks (0.3M behaviors: ~1M events)


SIZES = {
    "smoke": Sizes(2, 50, 2, 50, 2_000, 50, 300, 1_000, 5, 1_000),
    "quick": Sizes(6, 500, 8, 600, 100_000, 1_000, 2_000, 20_000, 30, 30_000),
    "full": Sizes(15, 500, 20, 3_000, 1_000_000, 1_000, 5_000, 100_000, 60, 300_000),
}


@dataclass
class Row:
    """One line of the table: a figure, its bare baseline from the same run, a goal.

    `held` is None when the row has no goal or could not run (`skipped` says why)."""

    name: str
    measured: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""
    held: bool | None = None
    detail: str = ""
    skipped: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def skipped(name: str, reason: str, goal: str = "") -> Row:
    return Row(name, None, "", goal=goal, skipped=reason)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is a latency someone saw)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """Resident memory of a live process (VmHWM: its peak so far), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


@dataclass
class ChildResult:
    stdout: str
    peak_rss_mb: float  # the child's own peak resident memory (from wait4, exact)
    seconds: float

    def result(self) -> dict[str, Any]:
        """The JSON object of the child's last `RESULT {...}` line."""
        lines = [x for x in self.stdout.splitlines() if x.startswith("RESULT ")]
        if not lines:
            raise RuntimeError(f"the child printed no RESULT line:\n{self.stdout[-2000:]}")
        found: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        return found


def run_child(
    args: list[str],
    timeout: float = 3_600,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> ChildResult:
    """Run a process to its end, bounded in time. Its peak RSS comes from the kernel's
    accounting of that one child (wait4), not from sampling that could miss the peak."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err
        )
        while True:
            pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - started > timeout:
                process.kill()
                os.wait4(process.pid, 0)
                process.returncode = -9
                raise TimeoutError(f"{' '.join(args[:4])} ... still running after {timeout:.0f} s")
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:4])} ... exited {process.returncode}:\n{stderr[-3000:]}"
        )
    return ChildResult(stdout, rusage.ru_maxrss / 1024, time.monotonic() - started)
