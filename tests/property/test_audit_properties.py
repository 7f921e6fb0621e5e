"""The audit tools over generated histories: verify, explain, simulate, time travel.

Histories are those of `histories.py` (completions, recognitions, adjustments, team
moves, strategy revisions, time passing) with what an audit cares about added:
campaigns launched along the way, a mission that needs approval and decisions on it,
reversals by an admin and campaign winners declared. Every property is checked
against a plain computation from the recorded envelopes, following RULES.md.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.aggregates.award import PointsAwarded
from ledger.audit.explain import explain_member
from ledger.audit.simulate import Change, simulate_change
from ledger.audit.verify import verify
from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.members import MoveMember
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.reversals import ReverseAward
from ledger.commands.strategy import ReviseStrategy
from ledger.config import Settings
from ledger.envelope import envelope_of
from ledger.errors import LedgerError, NotFound
from ledger.projections import known, queries
from ledger.projections.projection import Projection
from ledger.service import Ledger
from ledger.store import topic_of
from tests.conftest import open_ledger
from tests.property.histories import MEMBERS, START, TEAMS, TENANTS, VALUES, hours_back, member
from tests.property.histories import step as behavior_step
from tests.property.histories import tenant as tenant_key
from tests.support import World

# The missions of histories.py, and one that counts only when a manager approves it.
MISSIONS: dict[str, tuple[list[str], int, str, bool]] = {
    "call": (["customer-focus"], 10, "daily", False),
    "review": (["ownership", "innovation"], 15, "weekly", False),
    "ship": (["innovation", "speed", "customer-focus"], 7, "daily", False),
    "demo": (["ownership", "speed"], 25, "daily", True),
}
CAMPAIGNS = ["autumn", "blitz", "sprint"]
# 1.13: 15 * 1.13 = 16.95 and 7 * 1.5 = 10.5 exercise round-half-up in decimals.
MULTIPLIERS = [1.0, 1.13, 1.5, 2.0, 2.5]
CHANGED_MULTIPLIERS = [1.0, 1.13, 1.5, 2.0, 3.0, 5.0]

launch = st.tuples(
    st.just("launch"),
    tenant_key,
    st.sampled_from(CAMPAIGNS),
    st.sampled_from(MULTIPLIERS),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True),
    st.integers(0, 24 * 12),  # starts this many hours ago
    st.integers(24, 24 * 10),  # lasts this many hours
    st.integers(1, 3),  # winners
)
complete = st.tuples(
    st.just("complete"), tenant_key, st.sampled_from(["call", "review", "ship"]), member, hours_back
)
audit_step = st.one_of(
    behavior_step,
    complete,  # more behaviors than histories.py draws: an audit needs awards to look at
    complete,
    complete,
    st.tuples(st.just("complete"), tenant_key, st.just("demo"), member, hours_back),
    st.tuples(st.just("decide"), tenant_key, st.integers(0, 1000), st.booleans()),
    st.tuples(st.just("reverse"), tenant_key, st.integers(0, 10_000)),
    st.tuples(st.just("declare"), tenant_key, st.sampled_from(CAMPAIGNS)),
    launch,
)
# Campaigns first (so behaviors can fall into them), then anything, campaigns included.
audit_histories = st.tuples(
    st.lists(launch, min_size=1, max_size=3), st.lists(audit_step, min_size=20, max_size=50)
).map(lambda parts: parts[0] + parts[1])

BOUNDED = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- running a history ---------------------------------------------------------------------


@dataclass
class History:
    ledger: Ledger
    clock: FixedClock
    directory: str
    envelopes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return str(self.ledger.store.env["SQLITE_DBNAME"])

    def settings(self) -> Settings:
        return Settings(event_store=f"sqlite:///{self.path}", _env_file=None)  # type: ignore[call-arg]


def award_ids(ledger: Ledger, tenant_id: str) -> list[str]:
    topic = topic_of(PointsAwarded)
    return [
        str(n.originator_id)
        for n in ledger.store.select(0, 1_000_000, topics=[topic])
        if orjson.loads(n.state)["tenant_id"] == tenant_id
    ]


@contextmanager
def recorded(steps: list[tuple[Any, ...]], approvals: bool = True) -> Iterator[History]:
    """Run the steps through a fresh ledger on SQLite (refusals are part of any history).

    `approvals=False` leaves out completions of the mission that needs approval."""
    directory = tempfile.mkdtemp()
    clock = FixedClock(START)
    ledger = open_ledger(f"sqlite:///{directory}/events.sqlite", clock)
    try:
        worlds = {}
        for tenant_id, tz in TENANTS.items():
            world = World(ledger, clock, tenant_id=tenant_id, timezone=tz)
            world.values(*VALUES)
            for i, member_id in enumerate(MEMBERS):
                world.member(member_id, team=TEAMS[i % 2], joined_days_ago=40)
            for mission_id, (values, points, cadence, verified) in MISSIONS.items():
                world.mission(
                    mission_id,
                    values,
                    points=points,
                    cadence=cadence,
                    requires_verification=verified,
                )
            worlds[tenant_id] = world
        pending: dict[str, list[str]] = defaultdict(list)
        for kind, *args in steps:
            if kind == "advance":
                clock.advance(timedelta(hours=args[0]))
                continue
            world = worlds[args[0]]
            with suppress(LedgerError):  # refusals are part of any real history
                run_step(world, kind, args, pending, approvals)
        history = History(ledger, clock, directory)
        history.envelopes = [e for n in ledger.store.select(0, 1_000_000) if (e := envelope_of(n))]
        yield history
    finally:
        ledger.close()
        shutil.rmtree(directory, ignore_errors=True)


def run_step(
    world: World, kind: str, args: list[Any], pending: dict[str, list[str]], approvals: bool
) -> None:
    now = world.clock.now()
    tenant_id = args[0]
    if kind == "complete":
        if args[1] == "demo" and not approvals:
            return
        done = world.run(
            CompleteMission(
                mission_id=args[1], member_id=args[2], occurred_at=now - timedelta(hours=args[3])
            ),
            world.service,
        )
        if done["status"] == "pending":
            pending[tenant_id].append(done["completion_id"])
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
                member_id=args[1], team=args[2], effective_from=now - timedelta(days=args[3])
            )
        )
    elif kind == "revise":
        world.run(
            ReviseStrategy(
                effective_from=now - timedelta(days=args[2]),
                goals=[{"key": "g", "title": "Goal", "weight": 1, "values": args[1]}],
            )
        )
    elif kind == "decide" and pending[tenant_id]:
        completion_id = pending[tenant_id].pop(args[1] % len(pending[tenant_id]))
        world.run(
            VerifyCompletion(
                completion_id=uuid.UUID(completion_id),
                decision="approve" if args[2] else "reject",
            ),
            world.manager,
        )
    elif kind == "reverse":
        awards = award_ids(world.ledger, tenant_id)
        if awards:
            world.run(
                ReverseAward(award_id=uuid.UUID(awards[args[1] % len(awards)]), reason="audit"),
                world.admin,
            )
    elif kind == "declare":
        world.run(DeclareWinners(campaign_id=args[1]), world.admin)
    elif kind == "launch":
        _, campaign_id, multiplier, values, back, hours, winners = args
        starts_at = now - timedelta(hours=back)
        world.run(
            LaunchCampaign(
                campaign_id=campaign_id,
                name=campaign_id.title(),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                values=values,
                multiplier=multiplier,
                winners=winners,
            ),
            world.admin,
        )


# -- the record, read plainly --------------------------------------------------------------


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Award:
    award_id: str
    tenant: str
    member: str
    points: int
    kind: str
    values: list[str]
    occurred_at: datetime
    position: int
    recorded_at: datetime
    source_id: str
    rule: dict[str, Any]
    cause_type: str  # the event that caused it: CompletionRecorded, CompletionApproved, ...


@dataclass
class Campaign:
    campaign_id: str
    tenant: str
    starts_at: datetime
    ends_at: datetime
    values: list[str]
    multiplier: float
    winners: int
    position: int


class Record:
    """Awards, reversals, campaigns and missions as the envelopes tell them."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.awards: dict[str, Award] = {}
        self.reversals: dict[str, tuple[int, datetime]] = {}  # award id -> position, recorded_at
        self.campaigns: list[Campaign] = []  # in launch order
        self.declarations: list[int] = []
        # (tenant, campaign id) -> (position, winners) of its declaration
        self.declared: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
        self.mission_of: dict[str, str] = {}  # completion id -> mission id
        self.completed_at: dict[str, int] = {}  # completion id -> position recorded
        self.timezone: dict[str, str] = {}
        self.joined: dict[tuple[str, str], datetime] = {}  # (tenant, member) -> recorded_at
        event_type: dict[str, str] = {}
        for env in sorted(envelopes, key=lambda e: e["position"]):
            p, kind, tenant = env["payload"], env["event_type"], env["tenant_id"]
            event_type[env["event_id"]] = kind
            if kind in ("TenantCreated", "TenantSettingsChanged"):
                self.timezone[tenant] = p["settings"]["timezone"]
            elif kind == "MemberJoined":
                self.joined[(tenant, p["member_id"])] = ts(env["recorded_at"])
            elif kind == "CompletionRecorded":
                self.mission_of[p["completion_id"]] = p["mission_id"]
                self.completed_at[p["completion_id"]] = env["position"]
            elif kind == "CampaignLaunched":
                self.campaigns.append(
                    Campaign(
                        p["campaign_id"],
                        tenant,
                        ts(p["starts_at"]),
                        ts(p["ends_at"]),
                        p["values"],
                        p["multiplier"],
                        p["winners"],
                        env["position"],
                    )
                )
            elif kind == "CampaignWinnersDeclared":
                self.declarations.append(env["position"])
                self.declared[(tenant, p["campaign_id"])] = (env["position"], p["winners"])
            elif kind == "PointsAwarded":
                self.awards[env["aggregate_id"]] = Award(
                    env["aggregate_id"],
                    tenant,
                    p["member_id"],
                    p["points"],
                    p["kind"],
                    p["values"],
                    ts(p["occurred_at"]),
                    env["position"],
                    ts(env["recorded_at"]),
                    p["source"]["id"],
                    p["rule"],
                    event_type.get(p["cause_event_id"], ""),
                )
            elif kind == "AwardReversed":
                self.reversals[env["aggregate_id"]] = (env["position"], ts(env["recorded_at"]))

    def of(self, tenant: str) -> list[Award]:
        return [a for a in self.awards.values() if a.tenant == tenant]

    def counted(self, award: Award, as_of: datetime | None = None) -> bool:
        """Recorded by `as_of`, and not reversed by then."""
        if as_of is not None and award.recorded_at > as_of:
            return False
        reversal = self.reversals.get(award.award_id)
        return reversal is None or (as_of is not None and reversal[1] > as_of)


def ranked(scores: dict[str, int]) -> list[dict[str, Any]]:
    """Competition ranking by points descending, ties by member_id; zero scores left out."""
    ordered = sorted((-points, m) for m, points in scores.items() if points != 0)
    entries: list[dict[str, Any]] = []
    for i, (negative, member_id) in enumerate(ordered):
        rank = entries[-1]["rank"] if entries and entries[-1]["points"] == -negative else i + 1
        entries.append({"member_id": member_id, "rank": rank, "points": -negative})
    return entries


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- 1. an honest history verifies, and every point is explained ----------------------------


@settings(BOUNDED, max_examples=12)  # four explanations per example, each a projection
@given(steps=audit_histories, tenant_id=tenant_key)
def test_an_honest_history_verifies_and_every_point_is_explained(
    steps: list[Any], tenant_id: str
) -> None:
    with recorded(steps) as h:
        result = verify(h.ledger.store)
        assert result.problems == [] and result.ok
        # Every invocation that recorded an award or a reversal was re-decided.
        invocations = {
            e["causation_id"]
            for e in h.envelopes
            if e["event_type"] in ("PointsAwarded", "AwardReversed")
        }
        assert result.events >= len(h.envelopes) and result.commands >= len(invocations)
        record = Record(h.envelopes)
        for member_id in MEMBERS:
            doc = explain_member(h.ledger, tenant_id, member_id, None)
            awards = [a for a in record.of(tenant_id) if a.member == member_id]
            expected = sum(a.points for a in awards if record.counted(a))
            assert sum(e["points"] for e in doc["awards"]) == doc["balance"] == expected
            # Every award once, every reversal once as its own entry of minus the points.
            assert sorted(e["award_id"] for e in doc["awards"] if e["kind"] != "reversal") == (
                sorted(a.award_id for a in awards)
            )
            reversals = [e for e in doc["awards"] if e["kind"] == "reversal"]
            assert sorted(e["award_id"] for e in reversals) == sorted(
                a.award_id for a in awards if a.award_id in record.reversals
            )
            for entry in reversals:
                assert entry["points"] == -record.awards[entry["award_id"]].points
                assert entry["position"] == record.reversals[entry["award_id"]][0]


# -- 2. an award edited in the store is named ------------------------------------------------


@settings(BOUNDED, max_examples=20)
@given(
    steps=audit_histories,
    pick=st.integers(0, 10_000),
    delta=st.integers(-40, 40).filter(bool),
)
def test_an_award_edited_in_the_store_is_tampered_and_differs(
    steps: list[Any], pick: int, delta: int
) -> None:
    with recorded(steps) as h:
        record = Record(h.envelopes)
        awards = sorted(record.awards.values(), key=lambda a: a.position)
        assume(awards)
        target = awards[pick % len(awards)]
        con = sqlite3.connect(h.path)
        try:
            # The position is the notification id: SQLite's rowid of the stored event.
            stream, raw = con.execute(
                "SELECT originator_id, state FROM stored_events WHERE rowid = ?",
                [target.position],
            ).fetchone()
            assert uuid.UUID(stream) == uuid.UUID(target.award_id)
            state = orjson.loads(raw)
            assert state["points"] == target.points
            state["points"] += delta
            con.execute(
                "UPDATE stored_events SET state = ? WHERE rowid = ?",
                [orjson.dumps(state), target.position],
            )
            con.commit()
        finally:
            con.close()

        result = verify(h.ledger.store)
        assert not result.ok
        found = {(p.kind, p.position, p.aggregate_id) for p in result.problems}
        assert ("tampered", target.position, target.award_id) in found, result.problems
        assert ("award_differs", target.position, target.award_id) in found, result.problems
        # Nothing else is tampered; other differences are only winners declared later,
        # whose ranking read the edited award.
        others = [
            p
            for p in result.problems
            if (p.kind, p.position, p.aggregate_id)
            not in {
                ("tampered", target.position, target.award_id),
                ("award_differs", target.position, target.award_id),
            }
        ]
        for problem in others:
            assert problem.kind == "award_differs", result.problems
            assert problem.position in record.declarations, result.problems
            assert problem.position > target.position, result.problems


# -- 3 and 4. simulated changes --------------------------------------------------------------


def simulate(h: History, tenant_id: str, change: dict[str, Any]) -> dict[str, Any]:
    return simulate_change(
        h.ledger.store,
        h.ledger.personal,
        tenant_id,
        Change.model_validate(change),
        None,
        None,
        h.clock.now(),
    )


@settings(BOUNDED, max_examples=10)
@given(steps=audit_histories, tenant_id=tenant_key)
def test_simulating_no_change_changes_nothing(steps: list[Any], tenant_id: str) -> None:
    with recorded(steps) as h:
        result = simulate(h, tenant_id, {})
        assert result["awards_changed"] == 0
        assert result["leaderboard"]["before"] == result["leaderboard"]["after"]
        assert result["alignment"]["before"] == result["alignment"]["after"]
        for sides in result["winners"].values():
            assert sides["before"] == sides["after"]
        # and "before" is the recorded truth.
        record = Record(h.envelopes)
        scores: dict[str, int] = defaultdict(int)
        for award in record.of(tenant_id):
            if record.counted(award):
                scores[award.member] += award.points
        assert result["leaderboard"]["before"] == ranked(scores)


def best_campaign(
    campaigns: list[Campaign], award: Award, multiplier: Callable[[Campaign], float]
) -> tuple[float, str | None]:
    """RULES.md "Missions and completions": the largest multiplier of the campaigns active
    at occurred_at sharing a value (the first launched wins a tie); 1 when none."""
    best: tuple[float, str | None] = (1.0, None)
    for campaign in campaigns:
        if (
            campaign.starts_at <= award.occurred_at < campaign.ends_at
            and set(campaign.values) & set(award.values)
            and multiplier(campaign) > best[0]
        ):
            best = (multiplier(campaign), campaign.campaign_id)
    return best


def repriced(
    record: Record, tenant_id: str, changed: str, new_multiplier: float
) -> dict[str, tuple[int, bool]]:
    """Award id -> (points, changed?) under the campaign's new multiplier: a completion is
    priced from the campaigns launched before it was recorded (and the mission's points)."""
    result = {}
    for award in record.of(tenant_id):
        if award.kind != "completion":
            result[award.award_id] = (award.points, False)
            continue
        # Priced when the completion was recorded (an approval awards exactly those points).
        completed = record.completed_at[award.source_id]
        launched = [c for c in record.campaigns if c.tenant == tenant_id and c.position < completed]
        mission_points = MISSIONS[record.mission_of[award.source_id]][1]
        old = best_campaign(launched, award, lambda c: c.multiplier)
        assert award.points == round_half_up(Decimal(mission_points) * Decimal(str(old[0])))
        assert (award.rule["inputs"]["multiplier"], award.rule["inputs"]["campaign_id"]) == old
        new = best_campaign(
            launched,
            award,
            lambda c: new_multiplier if c.campaign_id == changed else c.multiplier,
        )
        points = round_half_up(Decimal(mission_points) * Decimal(str(new[0])))
        result[award.award_id] = (points, new != old)
    return result


def campaign_winners(
    record: Record, campaign: Campaign, points: dict[str, int], through: int | None = None
) -> list[dict[str, Any]]:
    """RULES.md "Campaigns": the campaign leaderboard, rank <= N (ties at the cut win),
    today or, for a declaration, from what was recorded before it (`through`)."""
    scores: dict[str, int] = defaultdict(int)
    for award in record.of(campaign.tenant):
        if through is not None:
            reversal = record.reversals.get(award.award_id)
            if award.position > through or (reversal is not None and reversal[0] <= through):
                continue
        elif not record.counted(award):
            continue
        if (
            award.kind != "adjustment"
            and campaign.starts_at <= award.occurred_at < campaign.ends_at
            and set(award.values) & set(campaign.values)
        ):
            scores[award.member] += points[award.award_id]
    return [e for e in ranked(scores) if e["rank"] <= campaign.winners]


def check_repricing(h: History, tenant_id: str, campaign: Campaign, multiplier: float) -> None:
    """Simulating the campaign at another multiplier changes exactly the awards the rule
    prices differently, and the winners and leaderboard follow from those points."""
    result = simulate(
        h, tenant_id, {"campaigns": {campaign.campaign_id: {"multiplier": multiplier}}}
    )
    record = Record(h.envelopes)
    expected = repriced(record, tenant_id, campaign.campaign_id, multiplier)
    assert result["awards_changed"] == sum(changed for _, changed in expected.values())
    recorded_points = {a.award_id: a.points for a in record.of(tenant_id)}
    after_points = {award_id: points for award_id, (points, _) in expected.items()}
    ended = [c for c in record.campaigns if c.tenant == tenant_id and c.ends_at <= h.clock.now()]
    assert sorted(result["winners"]) == sorted(c.campaign_id for c in ended)
    for c in ended:
        sides = result["winners"][c.campaign_id]
        declared = record.declared.get((c.tenant, c.campaign_id))
        if declared is None:  # what a declaration today would give
            assert sides["before"] == campaign_winners(record, c, recorded_points)
            assert sides["after"] == campaign_winners(record, c, after_points)
            continue
        # "Before" is the recorded history exactly: the winners as declared; "after", the
        # declaration re-decided on what was recorded before it, re-priced.
        position, winners = declared
        assert sides["before"] == winners
        assert sides["after"] == campaign_winners(record, c, after_points, through=position)
    scores: dict[str, int] = defaultdict(int)
    for award in record.of(tenant_id):
        if record.counted(award):
            scores[award.member] += after_points[award.award_id]
    assert result["leaderboard"]["after"] == ranked(scores)


@BOUNDED
@given(
    steps=audit_histories,
    tenant_id=tenant_key,
    pick=st.integers(0, 100),
    double=st.booleans(),
    other=st.sampled_from(CHANGED_MULTIPLIERS),
)
def test_changing_a_campaign_multiplier_reprices_exactly_its_awards(
    steps: list[Any], tenant_id: str, pick: int, double: bool, other: float
) -> None:
    # Without approvals: simulating an approved completion is the example test below.
    with recorded(steps, approvals=False) as h:
        campaigns = [c for c in Record(h.envelopes).campaigns if c.tenant == tenant_id]
        assume(campaigns)
        campaign = campaigns[pick % len(campaigns)]
        multiplier = min(5.0, campaign.multiplier * 2) if double else other
        assume(multiplier != campaign.multiplier)
        check_repricing(h, tenant_id, campaign, multiplier)


def test_changing_a_campaign_multiplier_reprices_an_approved_completion() -> None:
    steps: list[tuple[Any, ...]] = [
        ("launch", "acme", "autumn", 2.0, ["ownership"], 48, 96, 1),
        ("complete", "acme", "demo", "ana", 1),  # 25 * 2.0 = 50, pending approval
        ("decide", "acme", 0, True),  # approved: awarded 50
        ("complete", "acme", "review", "bo", 1),  # 15 * 2.0 = 30
        ("advance", 60),  # the campaign has ended
    ]
    with recorded(steps) as h:
        (campaign,) = Record(h.envelopes).campaigns
        # At 4.0: ana's award would be 100 and bo's 60, ana the winner.
        check_repricing(h, "acme", campaign, 4.0)


# -- 5. time travel --------------------------------------------------------------------------


def outcome(query: Callable[..., Any], projection: Projection, *args: Any, **kw: Any) -> Any:
    """The answer, or the refusal's name (a campaign not launched yet is NotFound in both)."""
    try:
        return projection.run(query, *args, **kw)
    except LedgerError as error:
        return type(error).__name__


def questions(record: Record, tenant_id: str, moment: datetime) -> list[dict[str, Any]]:
    """Leaderboard, heatmap and alignment questions about a moment, with explicit periods
    (`at` and dates), so that `now` only matters through `as_of`."""
    today = moment.astimezone(ZoneInfo(record.timezone[tenant_id])).date()
    earlier = today - timedelta(days=20)  # histories start mid-October: often last month
    asked: list[dict[str, Any]] = [
        {"query": queries.leaderboard, "period": "all", "at": None},
        {"query": queries.leaderboard, "period": "all", "at": None, "value": "ownership"},
        {"query": queries.leaderboard, "period": "month", "at": earlier},
        {"query": queries.leaderboard, "period": "week", "at": today, "team": "sales"},
        {"query": queries.heatmap, "date_from": date(2026, 9, 21), "date_to": date(2026, 12, 31)},
        {"query": queries.alignment, "scope": "tenant", "period": "month", "at": today},
        {
            "query": queries.alignment,
            "scope": "team",
            "team": "sales",
            "period": "week",
            "at": earlier,
        },
    ]
    asked += [
        {"query": queries.leaderboard, "period": "campaign", "campaign_id": c, "at": None}
        for c in CAMPAIGNS
    ]
    for q in asked:
        if q["query"] is queries.leaderboard:
            q["limit"] = 1000
    return asked


def answers(
    projection: Projection, tenant_id: str, moment: datetime, record: Record, **when: Any
) -> list[Any]:
    found = []
    for question in questions(record, tenant_id, moment):
        kw = {k: v for k, v in question.items() if k != "query"}
        found.append(outcome(question["query"], projection, tenant_id, **kw, **when))
    return found


def points_of(
    projection: Projection, tenant_id: str, record: Record, moment: datetime, **when: Any
) -> dict[str, Any]:
    """member_points of every member already recorded at the moment (before that, see
    test_points_as_of_before_a_member_was_recorded_is_not_found)."""
    return {
        member_id: outcome(queries.member_points, projection, tenant_id, member_id, **when)
        for member_id in MEMBERS
        if record.joined[(tenant_id, member_id)] <= moment
    }


def prefix_projection(
    envelopes: list[dict[str, Any]], moment: datetime, decrypt: Any
) -> Projection:
    """A rebuild from only the events recorded up to the moment."""
    projection = Projection(":memory:", decrypt=decrypt)
    projection.apply([e for e in envelopes if ts(e["recorded_at"]) <= moment], defer=True)
    projection.finish()
    return projection


@contextmanager
def filters_checked_against(present: Projection) -> Iterator[None]:
    """The API checks a filter against the present (known.require: a team or campaign
    that exists now but not yet at `as_of` is a filter, not a typo). A projection of only
    what was recorded by then cannot know the present, so while it answers, its filters
    are checked against the full projection, as the API's would be."""
    check = known.require

    def against_present(con: Any, tenant_id: str, **filters: str | None) -> None:
        present.run(check, tenant_id, **filters)

    with patch.object(known, "require", against_present):
        yield


@settings(BOUNDED, max_examples=10)
@given(steps=audit_histories, tenant_id=tenant_key, pick=st.integers(0, 10_000))
def test_time_travel_equals_a_projection_of_what_was_recorded_by_then(
    steps: list[Any], tenant_id: str, pick: int
) -> None:
    with recorded(steps) as h:
        record = Record(h.envelopes)
        decrypt = h.ledger.personal.decrypt
        full = Projection(":memory:", decrypt=decrypt)
        try:
            catch_up(full, StoreSource(h.ledger.store, page=64))  # incremental, not a rebuild
            now = h.clock.now()
            stamps = sorted({ts(e["recorded_at"]) for e in h.envelopes})
            # A moment at or between recording times, and just before and at a reversal.
            candidates = stamps + [a + (b - a) / 2 for a, b in itertools.pairwise(stamps)]
            moments = {candidates[pick % len(candidates)]}
            reversals = sorted(
                (position, at, award_id)
                for award_id, (position, at) in record.reversals.items()
                if record.awards[award_id].tenant == tenant_id
            )
            for _, reversed_at, _ in reversals[:1]:
                moments |= {reversed_at - timedelta(microseconds=1), reversed_at}
            for moment in sorted(moments):
                prefix = prefix_projection(h.envelopes, moment, decrypt)
                try:
                    past = answers(full, tenant_id, moment, record, now=now, as_of=moment)
                    then = points_of(full, tenant_id, record, moment, as_of=moment, decrypt=decrypt)
                    with filters_checked_against(full):
                        assert past == answers(prefix, tenant_id, moment, record, now=moment)
                        assert then == points_of(prefix, tenant_id, record, moment, decrypt=decrypt)
                finally:
                    prefix.close()
                # And plainly: the awards recorded by then and not reversed by then.
                scores: dict[str, int] = defaultdict(int)
                for award in record.of(tenant_id):
                    if record.counted(award, moment):
                        scores[award.member] += award.points
                board = [
                    {k: e[k] for k in ("member_id", "rank", "points")} for e in past[0]["entries"]
                ]
                assert board == ranked(scores)
            # A reversed award shows as it stood before its reversal, and reversed at it.
            for _, reversed_at, award_id in reversals[:1]:
                award = record.awards[award_id]
                before, at = reversed_at - timedelta(microseconds=1), reversed_at
                shown = points_of(full, tenant_id, record, before, as_of=before, decrypt=decrypt)
                if award.recorded_at <= before:
                    (entry,) = [
                        e for e in shown[award.member]["awards"] if e["award_id"] == award_id
                    ]
                    assert entry["kind"] == award.kind and entry["reversal"] is None
                shown = points_of(full, tenant_id, record, at, as_of=at, decrypt=decrypt)
                entries = [e for e in shown[award.member]["awards"] if e["award_id"] == award_id]
                assert [e["kind"] for e in entries] == [award.kind, "reversal"]
                assert entries[0]["reversal"]["reason"] == "audit"
                assert entries[1]["points"] == -award.points
        finally:
            full.close()


def test_points_as_of_before_a_member_was_recorded_is_not_found() -> None:
    with recorded([("advance", 1), ("complete", "acme", "call", "ana", 0)]) as h:
        record = Record(h.envelopes)
        moment = record.joined[("acme", "ana")] - timedelta(seconds=1)
        with pytest.raises(NotFound):
            explain_member(h.ledger, "acme", "ana", moment)  # the audit CLI's answer
        full = Projection(":memory:", decrypt=h.ledger.personal.decrypt)
        try:
            catch_up(full, StoreSource(h.ledger.store))
            # GET /v1/members/ana/points?as_of=<moment>
            answer = outcome(queries.member_points, full, "acme", "ana", as_of=moment)
            assert answer == "NotFound", answer
        finally:
            full.close()
