"""Rebuild rate over a large generated store, against the bare notification read rate.

    python bench/bench_rebuild.py [--events 1000000] [--tenants 20]

Writes a synthetic history straight into a SQLite event store (members,
team moves, strategy revisions and awards, in bulk transactions), then in
the same run measures: the bare `select_notifications` read rate, the full
projection rebuild rate, and the latency of the leaderboard, heatmap and
alignment queries on the result.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger import ids
from ledger.aggregates.award import Award
from ledger.aggregates.member import Member
from ledger.aggregates.strategy import Strategy
from ledger.aggregates.tenant import Tenant, TenantSettings
from ledger.events import EventMetadata, event_metadata
from ledger.projections import queries
from ledger.projections.projection import Projection
from ledger.store import EventStore

VALUES = ["customer-focus", "ownership", "innovation", "teamwork", "transparency", "speed"]
TEAMS = ["sales", "support", "product", "operations"]
END = datetime(2026, 11, 20, 12, tzinfo=UTC)


def generate(store: EventStore, events: int, tenants: int, members: int) -> int:
    rng = random.Random(1)
    start = END - timedelta(weeks=26)
    written = 0
    pending: list = []

    def flush() -> None:
        nonlocal written, pending
        if pending:
            written += sum(len(a.pending) for a in pending)
            store.append(*pending)
            pending = []

    with event_metadata(EventMetadata(recorded_at=start, causation_id="bench")):
        for t in range(tenants):
            tenant_id = f"t{t:04d}"
            tenant = Tenant(ids.tenant_aggregate_id(tenant_id), tenant_id)
            tenant.create(tenant_id, TenantSettings(timezone="Europe/Stockholm"))
            strategy = Strategy(ids.aggregate_id(tenant_id, "strategy"), tenant_id)
            for value in VALUES:
                strategy.define_value(value, value, None)
            strategy.revise(
                start,
                [
                    {
                        "key": "g",
                        "title": "g",
                        "weight": 1,
                        "values": {"customer-focus": 2, "ownership": 1},
                    }
                ],
                None,
            )
            strategy.revise(
                start + timedelta(weeks=13),
                [{"key": "g", "title": "g", "weight": 1, "values": {"innovation": 1, "speed": 1}}],
                None,
            )
            pending += [tenant, strategy]
            for m in range(members):
                member = Member(ids.aggregate_id(tenant_id, "member", f"m{m}"), tenant_id)
                member.join(f"m{m}", None, None, TEAMS[m % 4], start - timedelta(days=1))
                if m % 10 == 0:
                    member.move(TEAMS[(m + 1) % 4], start + timedelta(days=rng.randint(1, 150)))
                pending.append(member)
        flush()
    span = (END - start).total_seconds()
    while written < events:
        for _ in range(2_000):
            tenant_id = f"t{rng.randrange(tenants):04d}"
            occurred = start + timedelta(seconds=rng.random() * span)
            kind = rng.choice(("completion", "completion", "recognition", "adjustment"))
            values = [] if kind == "adjustment" else rng.sample(VALUES, rng.randint(1, 2))
            with event_metadata(EventMetadata(recorded_at=occurred, causation_id="bench")):
                award = Award(uuid.uuid4(), tenant_id)
                award.grant(
                    member_id=f"m{rng.randrange(members)}",
                    points=rng.randint(1, 50),
                    kind=kind,
                    occurred_at=occurred,
                    values=values,
                    source={"type": kind, "id": str(uuid.uuid4())},
                    cause_event_id=str(uuid.uuid4()),
                    rule={"name": "bench", "version": 1, "inputs": {}},
                    command={
                        "command_id": "bench",
                        "key_label": "bench",
                        "idempotency_key": None,
                        "received_at": occurred.isoformat(),
                    },
                )
            pending.append(award)
        flush()
    return written


def timed(fn, repeat: int = 20) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--members", type=int, default=200)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp())
    store = EventStore(f"sqlite:///{directory / 'events.sqlite'}", cache_size=0)
    started = time.perf_counter()
    total = generate(store, args.events, args.tenants, args.members)
    print(f"generated {total:,} events in {time.perf_counter() - started:.0f}s")

    started = time.perf_counter()
    after, read = 0, 0
    while page := store.select(after, 5_000):
        read += len(page)
        after = page[-1].id
    bare = read / (time.perf_counter() - started)

    projection = Projection(directory / "p.duckdb")
    started = time.perf_counter()
    applied = catch_up(projection, StoreSource(store, page=50_000), rebuild=True)
    rebuild = applied / (time.perf_counter() - started)
    print(f"bare select_notifications: {bare:12,.0f} events/s")
    print(f"rebuild into DuckDB:       {rebuild:12,.0f} events/s   ratio {rebuild / bare:.2f}")

    con = projection.reader()
    now = END
    print(f"query latency (median of 20, one tenant of {applied // args.tenants:,} events):")
    cases = {
        "leaderboard week": lambda: queries.leaderboard(
            con, "t0001", period="week", at=None, now=now
        ),
        "leaderboard all": lambda: queries.leaderboard(
            con, "t0001", period="all", at=None, now=now
        ),
        "heatmap 12 weeks": lambda: queries.heatmap(con, "t0001", now=now),
        "alignment month": lambda: queries.alignment(
            con, "t0001", scope="tenant", period="month", now=now
        ),
        "alignment team week": lambda: queries.alignment(
            con, "t0001", scope="team", team="sales", period="week", now=now
        ),
    }
    for name, query in cases.items():
        print(f"  {name:22s} {timed(query):7.1f} ms")


if __name__ == "__main__":
    main()
