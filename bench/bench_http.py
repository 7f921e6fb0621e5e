"""POST /v1/recognitions under a bounded local load, beside a bare FastAPI endpoint.

    python bench/bench_http.py [--requests 3000] [--concurrency 8]

Both servers run as their own uvicorn processes on loopback ports; the same
client (httpx, a thread pool) sends the same number of requests to each.
Prints requests/s and p50/p99 latency of each, and the ratio.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
OPERATOR = "op_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def load(
    url: str, headers: dict[str, str], bodies: list[dict], concurrency: int, deadline_s: float = 120
) -> tuple[float, list[float], int]:
    client = httpx.Client(
        headers=headers, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    )
    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + deadline_s

    def send(body: dict) -> tuple[float, int]:
        if time.monotonic() > stop_at:
            return 0.0, -1
        started = time.perf_counter()
        response = client.post(url, json=body)
        return time.perf_counter() - started, response.status_code

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        for latency, status in pool.map(send, bodies):
            if status == 201:
                latencies.append(latency)
            else:
                failures += 1
    elapsed = time.perf_counter() - started
    client.close()
    return len(latencies) / elapsed, latencies, failures


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    env = {
        **os.environ,
        "LEDGER_OPERATOR_TOKEN": OPERATOR,
        "LEDGER_RATE_LIMIT": "0",
        "LEDGER_DATA_DIR": tempfile.mkdtemp(),
    }
    ledger_port, bare_port = free_port(), free_port()
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--port", str(ledger_port)],
            env=env,
            stdout=subprocess.DEVNULL,
            cwd=ROOT,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.bare_app:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        ),
    ]
    try:
        ledger_url, bare_url = f"http://127.0.0.1:{ledger_port}", f"http://127.0.0.1:{bare_port}"
        wait_up(f"{ledger_url}/healthz")
        wait_up(f"{bare_url}/docs")
        key = httpx.post(
            f"{ledger_url}/v1/tenants",
            headers={"Authorization": f"Bearer {OPERATOR}"},
            json={
                "tenant_id": "bench",
                "name": "Bench",
                "settings": {
                    "monthly_allowance": 1_000_000,
                    "max_recognitions_per_pair_per_week": 1000,
                },
            },
        ).json()["admin_key"]
        admin = {"Authorization": f"Bearer {key}"}
        httpx.post(f"{ledger_url}/v1/values", headers=admin, json={"key": "teamwork", "name": "T"})
        members = [f"m{i}" for i in range(100)]
        for member in members:
            httpx.post(
                f"{ledger_url}/v1/members",
                headers=admin,
                json={
                    "member_id": member,
                    "display_name": member,
                    "team": "t",
                    "joined_at": "2020-01-01T00:00:00Z",
                },
            )
        bodies = [
            {
                "from_member": members[i % 100],
                "to_member": members[(i + 1 + i // 100) % 100],
                "value": "teamwork",
                "points": 1,
            }
            for i in range(args.requests)
        ]
        bodies = [b for b in bodies if b["from_member"] != b["to_member"]]
        bare_rate, bare_lat, _ = load(f"{bare_url}/v1/recognitions", {}, bodies, args.concurrency)
        rate, lat, failed = load(f"{ledger_url}/v1/recognitions", admin, bodies, args.concurrency)
        print(f"requests={len(bodies)} concurrency={args.concurrency}")
        print(
            f"bare FastAPI endpoint:   {bare_rate:7.0f} req/s  p50 {pct(bare_lat, 50):6.1f} ms  "
            f"p99 {pct(bare_lat, 99):6.1f} ms"
        )
        print(
            f"POST /v1/recognitions:   {rate:7.0f} req/s  p50 {pct(lat, 50):6.1f} ms  "
            f"p99 {pct(lat, 99):6.1f} ms  ({failed} not 201)"
        )
        print(f"ratio (ledger / bare): {rate / bare_rate:.2f}")
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
