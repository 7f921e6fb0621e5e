"""Hypothesis strategies for ledger histories, run through the real command handlers."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.completions import CompleteMission
from ledger.commands.members import MoveMember
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import ReviseStrategy
from ledger.envelope import envelope_of
from ledger.errors import LedgerError
from ledger.service import Ledger
from tests.conftest import open_ledger
from tests.support import World

# Ten days before the last Sunday of October: histories cross the DST change.
START = datetime(2026, 10, 15, 9, 0, tzinfo=UTC)
TENANTS = {"acme": "UTC", "nord": "Europe/Stockholm"}
MEMBERS = ["ana", "bo", "cy", "dee"]
VALUES = ["customer-focus", "ownership", "innovation", "speed"]
TEAMS = ["sales", "support", "ops"]

tenant = st.sampled_from(sorted(TENANTS))
member = st.sampled_from(MEMBERS)
hours_back = st.integers(0, 24 * 12)

complete = st.tuples(
    st.just("complete"), tenant, st.sampled_from(["call", "review", "ship"]), member, hours_back
)
give = st.tuples(
    st.just("give"), tenant, member, member, st.integers(1, 40), st.sampled_from(VALUES), hours_back
)
# Behaviors are drawn most often; moves and revisions reach further back than behaviors.
step = st.one_of(
    complete,
    complete,
    complete,
    give,
    give,
    st.tuples(st.just("adjust"), tenant, member, st.integers(-30, 30).filter(bool), hours_back),
    st.tuples(st.just("move"), tenant, member, st.sampled_from(TEAMS), st.integers(0, 20)),
    st.tuples(
        st.just("revise"),
        tenant,
        st.dictionaries(st.sampled_from(VALUES), st.integers(1, 5), min_size=1, max_size=3),
        st.integers(0, 10),
    ),
    st.tuples(st.just("advance"), st.integers(1, 60)),
)
histories = st.lists(step, min_size=15, max_size=80)


def run_history(steps: list[tuple[Any, ...]]) -> tuple[Ledger, list[dict[str, Any]]]:
    """Run the steps through a fresh ledger; returns it and every public envelope."""
    clock = FixedClock(START)
    ledger = open_ledger(f"sqlite:///{tempfile.mkdtemp()}/events.sqlite", clock)
    worlds = {}
    for tenant_id, tz in TENANTS.items():
        world = World(ledger, clock, tenant_id=tenant_id, timezone=tz)
        world.values(*VALUES)
        for i, member_id in enumerate(MEMBERS):
            world.member(member_id, team=TEAMS[i % 2], joined_days_ago=40)
        world.mission("call", ["customer-focus"], points=10, cadence="daily")
        world.mission("review", ["ownership", "innovation"], points=15, cadence="weekly")
        world.mission("ship", ["innovation", "speed", "customer-focus"], points=7, cadence="daily")
        worlds[tenant_id] = world
    for kind, *args in steps:
        if kind == "advance":
            clock.advance(timedelta(hours=args[0]))
            continue
        world = worlds[args[0]]
        now = clock.now()
        try:
            if kind == "complete":
                world.run(
                    CompleteMission(
                        mission_id=args[1],
                        member_id=args[2],
                        occurred_at=now - timedelta(hours=args[3]),
                    ),
                    world.service,
                )
            elif kind == "give" and args[1] != args[2]:
                world.run(
                    GiveRecognition(
                        from_member=args[1],
                        to_member=args[2],
                        points=args[3],
                        value=args[4],
                        occurred_at=now - timedelta(hours=args[5]),
                    ),
                    world.service,
                )
            elif kind == "adjust":
                world.run(
                    AdjustPoints(
                        member_id=args[1],
                        points=args[2],
                        reason="fix",
                        occurred_at=now - timedelta(hours=args[3]),
                    ),
                    world.manager,
                )
            elif kind == "move":
                world.run(
                    MoveMember(
                        member_id=args[1],
                        team=args[2],
                        effective_from=now - timedelta(days=args[3]),
                    )
                )
            elif kind == "revise":
                world.run(
                    ReviseStrategy(
                        effective_from=now - timedelta(days=args[2]),
                        goals=[{"key": "g", "title": "Goal", "weight": 1, "values": args[1]}],
                    )
                )
        except LedgerError:
            pass  # refusals are part of any real history
    envelopes = [e for n in ledger.store.select(0, 1_000_000) if (e := envelope_of(n))]
    return ledger, envelopes
