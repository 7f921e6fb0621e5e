"""Closed-loop HTTP load from wrk, its own (C) process, bounded by time.

wrk comes from the distribution (`apt-get install -y wrk`); when it is missing and the
harness runs as root it is installed, otherwise the HTTP rows are skipped with a note.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("recognitions.lua")


class WrkMissing(RuntimeError):
    pass


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: apt-get install -y wrk", flush=True)
        for args in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"]):
            subprocess.run(args, capture_output=True, timeout=600, check=False)
            if args[1] == "update":
                subprocess.run(
                    ["apt-get", "install", "-y", "-q", "wrk"],
                    capture_output=True,
                    timeout=600,
                    check=False,
                )
            found = shutil.which("wrk")
            if found:
                return found
    raise WrkMissing("wrk is not installed (as root: apt-get install -y wrk)")


def run(
    url: str, key: str, members: int, value: str, connections: int, seconds: int
) -> dict[str, Any]:
    """wrk against POST {url}/v1/recognitions. `rate` counts 2xx answers only."""
    threads = min(2, connections)  # two cores: more wrk threads would only take the server's
    completed = subprocess.run(
        [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(SCRIPT),
            f"{url}/v1/recognitions",
        ],
        env={
            **os.environ,
            "KEY": key,
            "MEMBERS": str(members),
            "VALUE": value,
            "NONCE": uuid.uuid4().hex[:12],  # a new run never replays an earlier one's keys
        },
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rate"] = result["ok"] / result["seconds"]
    result["errors"] = sum(result["refused"].values()) + result["socket_errors"]
    result["connections"] = connections
    return result
