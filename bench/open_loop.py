"""An open-loop load generator, run as its own process: requests leave on a fixed
schedule whether or not earlier ones were answered, and each latency is measured from
its scheduled moment (no coordinated omission). Bounded in count and time.

    python -m bench.open_loop URL KEY RATE SECONDS [--connections 64] [--members 100]

Prints one JSON line: sent, answered, errors, late, p50/p99/max latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import time
from typing import Any
from urllib.parse import urlparse


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    url = urlparse(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(await asyncio.open_connection(host, port))
    rng = random.Random(7)
    latencies: list[float] = []
    errors = 0
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate

    def body() -> bytes:
        a = rng.randrange(args.members)
        b = (a + rng.randrange(1, args.members)) % args.members
        payload = (
            f'{{"from_member":"m{a}","to_member":"m{b}","value":"teamwork","points":1}}'
        ).encode()
        return (
            f"POST {url.path or '/'} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {args.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload

    async def one(scheduled: float) -> None:
        nonlocal errors
        connection = await idle.get()  # waiting for a free connection counts as latency
        try:
            status = await asyncio.wait_for(_request(*connection, body()), timeout=10)
            if not 200 <= status < 300:
                errors += 1
            idle.put_nowait(connection)
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
            errors += 1
            connection[1].close()
            idle.put_nowait(await asyncio.open_connection(host, port))
        latencies.append(time.perf_counter() - scheduled)

    tasks = []
    start = time.perf_counter() + 0.2
    for i in range(total):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000

    return {
        "sent": total,
        "answered": len(latencies) - errors,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "achieved_rate": round(total / elapsed, 1),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def run(
    url: str, key: str, rate: float, seconds: float, members: int, timeout: float = 120
) -> dict[str, Any]:
    """This generator in a process of its own against POST {url}/v1/recognitions."""
    from bench.common import PYTHON, ROOT

    completed = subprocess.run(
        [
            PYTHON,
            "-m",
            "bench.open_loop",
            f"{url}/v1/recognitions",
            key or "x",
            str(rate),
            str(seconds),
            "--members",
            str(members),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + timeout,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("rate", type=float)
    parser.add_argument("seconds", type=float)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--members", type=int, default=100)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
