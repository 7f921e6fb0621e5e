"""Commands through the handlers, in one process, beside a bare append on the same store.

python -m bench.commands [--n 3000] [--store sqlite|postgres]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from ledger import bootstrap
from ledger.aggregates.base import LedgerAggregate
from ledger.clock import FixedClock
from ledger.commands.base import Caller
from ledger.commands.completions import CompleteMission
from ledger.commands.members import AddMember
from ledger.commands.missions import PublishMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import DefineValue
from ledger.commands.tenancy import CreateTenant
from ledger.config import Settings
from ledger.events import LedgerEvent
from ledger.service import Ledger
from ledger.store import WriteBatch
from ledger.writer import Writer

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


class Ping(LedgerEvent):
    n: int


class Pinger(LedgerAggregate):
    kind = "bench-pinger"
    events = (Ping,)  # every aggregate declares its events (the stream catalog reads them)


def open_ledger(store: str) -> Ledger:
    if store == "postgres":
        dsn = os.environ.get(
            "LEDGER_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        )
        url = f"{dsn}?schema=bench_{uuid.uuid4().hex[:8]}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-')}/events.sqlite"
    return bootstrap.open_ledger(Settings(event_store=url, _env_file=None), clock=FixedClock(NOW))


def set_up(ledger: Ledger, members: int) -> tuple[Caller, Caller]:
    ledger.execute(
        CreateTenant(
            tenant_id="bench",
            name="Bench",
            settings={
                "timezone": "UTC",
                "monthly_allowance": 1_000_000,
                "max_recognitions_per_pair_per_week": 1000,
            },
        ),
        Caller("bench", "operator", "operator"),
    )
    admin, service = Caller("bench", "admin", "bench"), Caller("bench", "service", "bench")
    ledger.execute(DefineValue(key="teamwork", name="Teamwork"), admin)
    ledger.execute(
        PublishMission(
            mission_id="follow-up",
            title="Follow up",
            values=["teamwork"],
            points=10,
            cadence="daily",
        ),
        admin,
    )
    for i in range(members):
        ledger.execute(
            AddMember(
                member_id=f"m{i}",
                display_name=f"M {i}",
                team="t",
                joined_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
            admin,
        )
    return admin, service


def recognition(i: int, members: int) -> GiveRecognition:
    a = i % members
    b = (a + 1 + (i // members) % (members - 1)) % members
    return GiveRecognition(from_member=f"m{a}", to_member=f"m{b}", value="teamwork", points=1)


def _run(
    ledger: Ledger, command: GiveRecognition, caller: Caller
) -> Callable[[WriteBatch], object]:
    return lambda batch: ledger.execute(command, caller, batch=batch)


def measure(n: int, store: str = "sqlite") -> dict[str, float]:
    ledger = open_ledger(store)
    try:
        _, service = set_up(ledger, n)
        started = time.perf_counter()
        for i in range(n):
            pinger = Pinger(uuid.uuid4(), "bench")
            pinger.trigger(Ping, n=i)
            ledger.store.append(pinger)
        bare = n / (time.perf_counter() - started)

        started = time.perf_counter()
        for i in range(n):  # each member once: once per day per mission
            ledger.execute(CompleteMission(mission_id="follow-up", member_id=f"m{i}"), service)
        completion = n / (time.perf_counter() - started)

        started = time.perf_counter()
        for i in range(n):
            ledger.execute(recognition(i, n), service)
        one_by_one = n / (time.perf_counter() - started)

        # How the API runs them: queued to the single writer, committed in groups.
        writer = Writer(ledger.store)
        started = time.perf_counter()
        futures = [writer.submit(_run(ledger, recognition(n + i, n), service)) for i in range(n)]
        for future in futures:
            future.result()
        grouped = n / (time.perf_counter() - started)
        writer.close()
    finally:
        ledger.close()
    return {
        "bare_append": bare,
        "completion": completion,
        "recognition": one_by_one,
        "recognition_grouped": grouped,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    got = measure(args.n, args.store)
    bare = got.pop("bare_append")
    print(f"store={args.store} n={args.n} bare one-event append: {bare:,.0f}/s")
    for name, rate in got.items():
        print(f"  {name:22s} {rate:8,.0f}/s  ratio {rate / bare:.2f}")


if __name__ == "__main__":
    main()
