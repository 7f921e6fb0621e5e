"""`ledger verify` rate over a realistic history, against a bare read of the same store.

    python bench/bench_verify.py [--tenants 10]

Writes the demo company's twelve weeks once per tenant through the real command
path (so every event is sealed and every award decided by the handlers), then in
the same run times: the bare read of every stored event (`select_notifications`
plus JSON decoding), and the full `verify` (seals, then every command re-decided).
Prints both rates, their ratio and the extrapolated time per million events.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ledger import demo
from ledger.audit.verify import verify
from ledger.bootstrap import open_ledger
from ledger.clock import FixedClock
from ledger.config import Settings
from ledger.service import Ledger


def build(data_dir: Path, tenants: int) -> None:
    end = datetime(2026, 11, 20, 12, tzinfo=UTC)
    ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None))
    try:
        for n in range(tenants):
            demo.TENANT = f"company-{n}"  # the demo writes one tenant; one history each
            clock = FixedClock(end)
            ledger.clock = clock
            demo.build_demo(ledger, clock, end, seed=n)
    finally:
        ledger.close()


def bare_read(ledger: Ledger) -> int:
    events, after = 0, 0
    while True:
        page = ledger.store.select(after, 5_000)
        for n in page:
            orjson.loads(n.state)
        events += len(page)
        if len(page) < 5_000:
            return events
        after = page[-1].id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        build(data_dir, args.tenants)
        print(f"history written in {time.perf_counter() - started:.0f}s")
        ledger = open_ledger(Settings(data_dir=data_dir, _env_file=None))
        try:
            started = time.perf_counter()
            events = bare_read(ledger)
            bare = time.perf_counter() - started
            result = verify(ledger.store)
        finally:
            ledger.close()
    assert result.ok, result.problems[:3]
    print(f"events: {events}, commands re-decided: {result.commands}")
    print(f"bare read:  {events / bare:>10,.0f} events/s")
    print(f"verify:     {events / result.seconds:>10,.0f} events/s")
    print(f"ratio (verify / bare): {bare / result.seconds:.3f}")
    print(f"verify per 1M events: {result.seconds / events * 1e6:,.0f} s")


if __name__ == "__main__":
    main()
