"""A real uvicorn server on a free loopback port, for integration tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ledger.app import SERVER_OPTIONS
from ledger.bootstrap import ServeRuntime
from ledger.config import Settings
from tests.support import timeline

OPERATOR_TOKEN = "op_integration-test-operator-token"
LAST_RUNTIME: ServeRuntime | None = None  # lets a test stall the projector


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(data_dir: Path, rate_limit: float = 0, **settings: object) -> Iterator[str]:
    # Throttles off unless a test is about them: many tests refuse on purpose, fast.
    settings.setdefault("auth_failure_rate", 0)
    settings.setdefault("operator_rate", 0)
    config = Settings(
        data_dir=data_dir,
        operator_token=OPERATOR_TOKEN,
        rate_limit=rate_limit,
        _env_file=None,
        **settings,
    )  # type: ignore[call-arg]
    global LAST_RUNTIME
    runtime = ServeRuntime(config, timeline())
    LAST_RUNTIME = runtime
    runtime.start()
    with serving(runtime) as url:
        yield url


@contextmanager
def serving(runtime: ServeRuntime) -> Iterator[str]:
    """The runtime's app on a free loopback port; stops the server and the runtime after."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            runtime.app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            **SERVER_OPTIONS,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.stop()


def wait_until_up(url: str, process: Any, timeout: float = 60) -> None:
    """Wait for a server subprocess to answer /healthz; fail at once if it exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)


def store_head(url: str) -> int:
    """The event store's last position, from /metrics (exact, unlike the projections)."""
    import re

    text = httpx.get(f"{url}/metrics").text
    found = re.search(r"^ledger_event_store_position (\S+)$", text, re.M)
    assert found, text
    return int(float(found.group(1)))


def create_tenant(url: str, tenant_id: str, **body: object) -> str:
    response = httpx.post(
        f"{url}/v1/tenants",
        json={"tenant_id": tenant_id, "name": tenant_id, **body},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["admin_key"])


def fresh_snapshot(api: Any, position: int, timeout: float = 30) -> dict[str, Any]:
    """Ask for the analysts' snapshot until it holds `position` (copies are spaced: a
    request between two answers the one there is, with Retry-After)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api.post("/v1/projections/snapshot")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["position"] >= position:
            return body
        assert time.monotonic() < deadline, f"no snapshot holds position {position}: {body}"
        time.sleep(min(float(answer.headers.get("Retry-After", "0.2")), 2.0))
