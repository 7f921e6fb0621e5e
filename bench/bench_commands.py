"""Command throughput through the handlers, against a bare event-store append in the same run.

    python bench/bench_commands.py [--store sqlite|postgres] [--n 3000]

Prints commands/s of mission completions and recognitions, the bare append
rate of one event per transaction on the same store, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from ledger.aggregates.base import LedgerAggregate
from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.config import Settings
from ledger.events import LedgerEvent
from ledger.service import Ledger
from tests.support import World


class Ping(LedgerEvent):
    n: int


class Pinger(LedgerAggregate):
    pass


def open_store(kind: str) -> tuple[Ledger, FixedClock]:
    clock = FixedClock(datetime(2026, 6, 10, 12, tzinfo=UTC))
    if kind == "postgres":
        dsn = os.environ.get(
            "LEDGER_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        )
        url = f"{dsn}?schema=bench_{uuid.uuid4().hex[:8]}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    return Ledger.open(Settings(event_store=url, _env_file=None), clock=clock), clock  # type: ignore[call-arg]


def bare_appends(ledger: Ledger, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        pinger = Pinger(uuid.uuid4(), "bench")
        pinger.trigger(Ping, n=i)
        ledger.store.append(pinger)
    return n / (time.perf_counter() - start)


def completions(world: World, n: int) -> float:
    members = [f"m{i}" for i in range(n)]
    for m in members:
        world.member(m)
    start = time.perf_counter()
    for m in members:
        world.run(CompleteMission(mission_id="follow-up", member_id=m), world.service)
    return n / (time.perf_counter() - start)


def recognitions(world: World, clock: FixedClock, n: int) -> float:
    givers = [f"m{i}" for i in range(n)]
    start = time.perf_counter()
    for i, giver in enumerate(givers):
        world.run(
            GiveRecognition(
                from_member=giver, to_member=givers[(i + 1) % n], value="ownership", points=5
            ),
            world.service,
        )
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    ledger, clock = open_store(args.store)
    world = World(ledger, clock).standard()
    bare = bare_appends(ledger, args.n)
    done = completions(world, args.n)
    given = recognitions(world, clock, args.n)
    clock.advance(timedelta(seconds=1))
    print(f"store={args.store} n={args.n}")
    print(f"bare append (1 event/txn):   {bare:8.0f} /s")
    print(f"complete mission (3 events): {done:8.0f} /s   ratio {done / bare:.2f}")
    print(f"give recognition (4 events): {given:8.0f} /s   ratio {given / bare:.2f}")
    ledger.close()


if __name__ == "__main__":
    main()
