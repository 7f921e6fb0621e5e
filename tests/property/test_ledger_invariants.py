"""Stateful property test: generated command sequences keep the ledger's invariants.

Invariants: a member's balance equals the sum of their awards; the monthly
allowance is never exceeded; at most one pending or counted completion per
slot; a refused command records nothing; every award carries full
provenance; replaying the events rebuilds the same aggregate state.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.members import MoveMember, RecordDeparture
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import LedgerError
from ledger.events import LedgerEvent
from ledger.history import balance
from ledger.periods import month_key
from ledger.store import EventStore
from tests.conftest import open_ledger
from tests.support import NOW, World

MEMBERS = ["ana", "bo", "cy", "dee"]
MISSIONS = ["daily-call", "weekly-review", "verified-demo", "once-onboard"]
VALUES = ["customer-focus", "ownership", "innovation"]


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.clock = FixedClock(NOW)
        self.ledger = open_ledger(f"sqlite:///{self.dir}/e.sqlite", self.clock)
        self.world = World(self.ledger, self.clock, monthly_allowance=60, max_recognition_points=40)
        self.world.values(*VALUES)
        for i, member in enumerate(MEMBERS):
            self.world.member(member, team="sales" if i % 2 else "support", joined_days_ago=60)
        self.world.mission("daily-call", ["customer-focus"], points=10, cadence="daily")
        self.world.mission(
            "weekly-review", ["ownership", "innovation"], points=25, cadence="weekly"
        )
        self.world.mission(
            "verified-demo",
            ["customer-focus"],
            points=40,
            cadence="daily",
            requires_verification=True,
        )
        self.world.mission("once-onboard", ["ownership"], points=5, cadence="once")
        self.expected: dict[str, int] = defaultdict(int)
        self.pending: list[tuple[str, int]] = []
        self.pending_member: dict[str, str] = {}

    def teardown(self) -> None:
        self.ledger.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def attempt(self, command: Any, caller: Any) -> dict[str, Any] | None:
        before = self.world.position()
        try:
            return self.world.run(command, caller)
        except LedgerError:
            assert self.world.position() == before, "a refused command recorded events"
            return None

    @rule(
        mission=st.sampled_from(MISSIONS),
        member=st.sampled_from(MEMBERS),
        hours_back=st.integers(0, 24 * 13),
    )
    def complete(self, mission: str, member: str, hours_back: int) -> None:
        result = self.attempt(
            CompleteMission(
                mission_id=mission,
                member_id=member,
                occurred_at=self.clock.now() - timedelta(hours=hours_back),
            ),
            self.world.service,
        )
        if result is None:
            return
        if result["status"] == "counted":
            self.expected[member] += result["points"]
        else:
            self.pending.append((result["completion_id"], result["points"]))
            self.pending_member[result["completion_id"]] = member

    @precondition(lambda self: bool(self.pending))
    @rule(approve=st.booleans(), pick=st.integers(0, 100))
    def verify(self, approve: bool, pick: int) -> None:
        completion_id, points = self.pending.pop(pick % len(self.pending))
        result = self.attempt(
            VerifyCompletion(
                completion_id=uuid.UUID(completion_id), decision="approve" if approve else "reject"
            ),
            self.world.manager,
        )
        assert result is not None
        if approve:
            self.expected[self.pending_member[completion_id]] += points

    @rule(
        giver=st.sampled_from(MEMBERS),
        recipient=st.sampled_from(MEMBERS),
        points=st.integers(1, 45),
        hours_back=st.integers(0, 24 * 13),
        value=st.sampled_from(VALUES),
    )
    def give(self, giver: str, recipient: str, points: int, hours_back: int, value: str) -> None:
        if giver == recipient:
            return
        result = self.attempt(
            GiveRecognition(
                from_member=giver,
                to_member=recipient,
                value=value,
                points=points,
                occurred_at=self.clock.now() - timedelta(hours=hours_back),
            ),
            self.world.service,
        )
        if result is not None:
            self.expected[recipient] += points

    @rule(member=st.sampled_from(MEMBERS), points=st.integers(-50, 50).filter(bool))
    def adjust(self, member: str, points: int) -> None:
        if (
            self.attempt(
                AdjustPoints(member_id=member, points=points, reason="fix"), self.world.manager
            )
            is not None
        ):
            self.expected[member] += points

    @rule(
        member=st.sampled_from(MEMBERS),
        team=st.sampled_from(["sales", "support", "ops"]),
        days_back=st.integers(0, 30),
    )
    def move(self, member: str, team: str, days_back: int) -> None:
        self.attempt(
            MoveMember(
                member_id=member,
                team=team,
                effective_from=self.clock.now() - timedelta(days=days_back),
            ),
            self.world.admin,
        )

    @rule(member=st.sampled_from(MEMBERS))
    def depart(self, member: str) -> None:
        self.attempt(
            RecordDeparture(member_id=member, effective_from=self.clock.now()), self.world.admin
        )

    @rule(hours=st.integers(1, 24 * 9))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))

    # -- invariants ------------------------------------------------------------------

    def events(self) -> list[LedgerEvent]:
        return self.world.events_after(0)

    @invariant()
    def balance_equals_sum_of_awards(self) -> None:
        for member in MEMBERS:
            assert balance(self.ledger.store, "acme", member) == self.expected[member]

    @invariant()
    def allowance_never_exceeded(self) -> None:
        spent: dict[tuple[str, str], int] = defaultdict(int)
        for event in self.events():
            if type(event).__name__ == "RecognitionGiven":
                key = (event.from_member, month_key(event.occurred_at, "UTC"))  # type: ignore[attr-defined]
                spent[key] += event.points  # type: ignore[attr-defined]
        assert all(total <= 60 for total in spent.values()), spent

    @invariant()
    def at_most_one_live_completion_per_slot(self) -> None:
        live: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
        slot_of: dict[uuid.UUID, uuid.UUID] = {}
        for event in self.events():
            name = type(event).__name__
            if name == "CompletionRecorded":
                live[event.slot_id].add(event.originator_id)  # type: ignore[attr-defined]
                slot_of[event.originator_id] = event.slot_id  # type: ignore[attr-defined]
            elif name == "CompletionRejected":
                live[slot_of[event.originator_id]].discard(event.originator_id)
        assert all(len(ids) <= 1 for ids in live.values())

    @invariant()
    def every_award_has_full_provenance(self) -> None:
        events = self.events()
        event_ids = {str(e.event_id) for e in events}
        for award in (e for e in events if type(e).__name__ == "PointsAwarded"):
            assert award.cause_event_id in event_ids  # type: ignore[attr-defined]
            rule = award.rule  # type: ignore[attr-defined]
            assert rule["name"] and rule["version"] >= 1 and rule["inputs"]
            command = award.command  # type: ignore[attr-defined]
            assert command["command_id"] and command["key_label"] and command["received_at"]
            assert award.source["type"] == award.kind  # type: ignore[attr-defined]

    def replay_equals_cached_state(self) -> None:
        fresh = EventStore(self.ledger.store.url, cache_size=0)
        try:
            from ledger.aggregates.member import Member

            for member in MEMBERS:
                from ledger import ids

                aggregate_id = ids.aggregate_id("acme", "member", member)
                cached = self.ledger.store.load(Member, aggregate_id)
                replayed = fresh.load(Member, aggregate_id)
                assert cached is not None and replayed is not None
                assert vars(cached) == vars(replayed)
        finally:
            fresh.close()

    @invariant()
    def replay_rebuilds_the_same_state(self) -> None:
        if self.world.position() % 5 == 0:  # a fresh store per step would dominate the run
            self.replay_equals_cached_state()


LedgerMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ledger_invariants = LedgerMachine.TestCase
