"""A realistic sample company with half a year of history, made through the command handlers.

Everything goes through `Ledger.execute`, so the demo history obeys every
rule (refusals included) and exercises what a real tenant would: a strategy
change, a campaign, a team move, backdated completions, verification by
managers, and the slow leak the drift watch exists for: after the strategy turns
to customers the product team follows it for a couple of months, then drifts back
to shipping experiments a little more every week.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.base import Caller, Command
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.members import AddMember, MoveMember
from ledger.commands.missions import PublishMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import DefineValue, ReviseStrategy
from ledger.commands.tenancy import CreateTenant, IssueApiKey
from ledger.errors import LedgerError
from ledger.periods import local_date
from ledger.service import Ledger

TENANT = "northwind"
TIMEZONE = "Europe/Stockholm"
WEEKS = 26
STRATEGY_TURN = 6 * 7  # the day the strategy turns to customers
FADE_FROM, FADE_WEEKS = 15, 8  # product's customer focus fades from this week, over these
TEAMS = {"sales": 9, "support": 8, "product": 8, "operations": 7}
VALUES = {
    "customer-focus": "Customer focus",
    "ownership": "Ownership",
    "innovation": "Innovation",
    "teamwork": "Teamwork",
    "transparency": "Transparency",
    "speed": "Speed",
}
FIRST_NAMES = [
    "Ana",
    "Bo",
    "Cy",
    "Dee",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Oda",
    "Per",
    "Quin",
    "Rut",
    "Sam",
    "Tove",
    "Uma",
    "Vik",
    "Wen",
    "Xia",
    "Yan",
    "Zoe",
    "Aron",
    "Bea",
    "Cleo",
    "Dag",
    "Emil",
    "Frida",
]
MISSIONS: list[dict[str, Any]] = [
    {
        "mission_id": "customer-follow-up",
        "title": "Follow up with 3 customers today",
        "values": ["customer-focus"],
        "points": 10,
        "cadence": "daily",
    },
    {
        "mission_id": "ticket-deep-dive",
        "title": "Solve one hard ticket end to end",
        "values": ["customer-focus", "ownership"],
        "points": 15,
        "cadence": "daily",
        "teams": ["support"],
    },
    {
        "mission_id": "weekly-retro-action",
        "title": "Close one action from the retro",
        "values": ["ownership", "teamwork"],
        "points": 20,
        "cadence": "weekly",
    },
    {
        "mission_id": "ship-experiment",
        "title": "Ship a small experiment to users",
        "values": ["innovation", "speed"],
        "points": 30,
        "cadence": "weekly",
    },
    {
        "mission_id": "customer-demo",
        "title": "Run a live demo with a customer",
        "values": ["customer-focus", "innovation"],
        "points": 40,
        "cadence": "weekly",
        "requires_verification": True,
    },
    {
        "mission_id": "share-learning",
        "title": "Share a learning in the open channel",
        "values": ["transparency"],
        "points": 5,
        "cadence": "daily",
    },
    {
        "mission_id": "pair-session",
        "title": "Pair with someone from another team",
        "values": ["teamwork"],
        "points": 10,
        "cadence": "weekly",
    },
    {
        "mission_id": "fast-answer",
        "title": "Answer a customer within the hour",
        "values": ["speed", "customer-focus"],
        "points": 5,
        "cadence": "daily",
    },
    {
        "mission_id": "onboarding-buddy",
        "title": "Be an onboarding buddy",
        "values": ["teamwork", "ownership"],
        "points": 50,
        "cadence": "once",
    },
    {
        "mission_id": "process-cleanup",
        "title": "Remove one wasteful process step",
        "values": ["ownership", "speed"],
        "points": 25,
        "cadence": "weekly",
        "teams": ["operations", "product"],
    },
]
# What each team tends to do: mission ids with weights. Product changes over time
# (product_habits): it follows the customer strategy at first, then fades from it.
HABITS = {
    "sales": {
        "customer-follow-up": 5,
        "customer-demo": 2,
        "fast-answer": 3,
        "share-learning": 1,
        "pair-session": 1,
        "weekly-retro-action": 1,
    },
    "support": {
        "ticket-deep-dive": 5,
        "fast-answer": 4,
        "customer-follow-up": 2,
        "share-learning": 1,
        "weekly-retro-action": 1,
    },
    "product": {
        "ship-experiment": 5,
        "process-cleanup": 2,
        "share-learning": 2,
        "pair-session": 1,
        "customer-demo": 1,
    },
    "operations": {
        "process-cleanup": 4,
        "weekly-retro-action": 3,
        "share-learning": 2,
        "pair-session": 2,
        "fast-answer": 1,
    },
}


# Product after the strategy turn: customer follow-ups and demos, sliding back to
# experiments over FADE_WEEKS weeks (the slow leak); `fade` 0 is the start, 1 the end.
PRODUCT_TURNED = {
    "customer-follow-up": 4.0,
    "customer-demo": 2.0,
    "ship-experiment": 2.0,
    "share-learning": 1.0,
    "process-cleanup": 1.0,
}
PRODUCT_FADED = {
    "customer-follow-up": 0.4,
    "customer-demo": 0.4,
    "ship-experiment": 6.0,
    "share-learning": 1.5,
    "process-cleanup": 1.7,
}


def product_habits(day: int) -> Mapping[str, float]:
    if day < STRATEGY_TURN:
        return HABITS["product"]
    fade = min(max((day / 7 - FADE_FROM) / FADE_WEEKS, 0.0), 1.0)
    return {
        mission: (1 - fade) * PRODUCT_TURNED.get(mission, 0.0) + fade * weight
        for mission, weight in PRODUCT_FADED.items()
    }


# The demo's campaigns: (id, name, first day, days, value, multiplier, winners, reward).
# They move people a little: while one runs, missions with its value are chosen
# CAMPAIGN_PULL times as often (what recalibration learns its elasticity from).
CAMPAIGNS = (
    ("ship-it-sprint", "Ship-it sprint", 3 * 7, 14, "innovation", 2.0, 3, "A day off"),
    (
        "customer-month",
        "Customer month",
        10 * 7,
        21,
        "customer-focus",
        1.5,
        5,
        "Lunch with the CEO",
    ),
)
CAMPAIGN_PULL = 2.0


def campaigned(habits: Mapping[str, float], day: int) -> Mapping[str, float]:
    running = {c[4] for c in CAMPAIGNS if c[2] <= day < c[2] + c[3]}
    if not running:
        return habits
    values = {m["mission_id"]: set(m["values"]) for m in MISSIONS}
    return {m: w * (CAMPAIGN_PULL if values[m] & running else 1.0) for m, w in habits.items()}


@dataclass
class DemoResult:
    tenant_id: str
    admin_key: str
    analyst_key: str
    commands: int = 0
    refusals: int = 0
    members: list[str] = field(default_factory=list)


def build_demo(
    ledger: Ledger,
    clock: FixedClock,
    end: datetime,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> DemoResult:
    """Write the demo company's history so that it ends at `end`."""
    rng = random.Random(seed)
    start = end - timedelta(weeks=WEEKS)
    clock.set(start - timedelta(days=1))
    created = ledger.execute(
        CreateTenant(tenant_id=TENANT, name="Northwind Traders", timezone=TIMEZONE),
        Caller(TENANT, "operator", "demo"),
    )
    admin = Caller(TENANT, "admin", "initial admin key")
    service = Caller(TENANT, "service", "chat-bot")
    manager = Caller(TENANT, "manager", "team-leads")
    analyst = ledger.execute(IssueApiKey(role="analyst", label="demo analyst"), admin)
    result = DemoResult(TENANT, created.body["admin_key"], analyst.body["key"])

    def send(command: Command, caller: Caller = admin) -> dict[str, Any] | None:
        result.commands += 1
        try:
            return ledger.execute(command, caller).response
        except LedgerError:
            result.refusals += 1
            return None

    for key, name in VALUES.items():
        send(DefineValue(key=key, name=name))
    roster: dict[str, str] = {}
    names = iter(FIRST_NAMES)
    for team, size in TEAMS.items():
        for _ in range(size):
            member_id = next(names).lower()
            roster[member_id] = team
            send(
                AddMember(
                    member_id=member_id,
                    display_name=f"{member_id.title()} Demo",
                    email=f"{member_id}@northwind.example",
                    team=team,
                    joined_at=start - timedelta(days=30),
                )
            )
    result.members = sorted(roster)
    send(
        ReviseStrategy(
            effective_from=start,
            note="Grow with new products",
            goals=[
                {
                    "key": "new-products",
                    "title": "Launch new products",
                    "weight": 3,
                    "values": {"innovation": 2, "speed": 1},
                },
                {
                    "key": "own-it",
                    "title": "Own the outcome",
                    "weight": 1,
                    "values": {"ownership": 1, "teamwork": 1},
                },
            ],
        )
    )
    for mission in MISSIONS:
        send(PublishMission(**mission))

    pending: list[str] = []
    days = WEEKS * 7 + 1  # the last simulated day is today, so "this week" has data
    for day in range(days):
        today = min(start + timedelta(days=day, hours=8), end - timedelta(minutes=10))
        clock.set(today)
        if day == STRATEGY_TURN:
            # The strategy turns to customers.
            send(
                ReviseStrategy(
                    effective_from=today,
                    note="Customers first",
                    goals=[
                        {
                            "key": "cx",
                            "title": "Improve customer experience",
                            "weight": 3,
                            "values": {"customer-focus": 3, "speed": 1},
                        },
                        {
                            "key": "trust",
                            "title": "Be an open, reliable team",
                            "weight": 1,
                            "values": {"transparency": 1, "teamwork": 1, "ownership": 1},
                        },
                    ],
                )
            )
        for campaign_id, name, first, length, value, multiplier, winners, reward in CAMPAIGNS:
            if day == first:
                send(
                    LaunchCampaign(
                        campaign_id=campaign_id,
                        name=name,
                        starts_at=today,
                        ends_at=today + timedelta(days=length),
                        values=[value],
                        multiplier=multiplier,
                        winners=winners,
                        reward=reward,
                    )
                )
            if day == first + length + 1:
                send(DeclareWinners(campaign_id=campaign_id))
        if day == 22 * 7:
            send(MoveMember(member_id="jun", team="sales", effective_from=today))
        # Weekends are quiet, except today's: whatever day the demo is made, its current
        # week and month show some behavior.
        if local_date(today, TIMEZONE).weekday() >= 5 and day != days - 1:
            continue
        for member_id, team in roster.items():
            habits = product_habits(day) if team == "product" else HABITS[team]
            habits = campaigned(habits, day)
            for _ in range(rng.choice((0, 1, 1, 2))):
                mission_id = rng.choices(list(habits), weights=list(habits.values()))[0]
                # Some completions are reported late: backdated up to three days.
                back = timedelta(days=rng.choice((0, 0, 0, 0, 1, 3)), hours=rng.randint(0, 8))
                occurred = max(today - back, start)
                done = send(
                    CompleteMission(
                        mission_id=mission_id, member_id=member_id, occurred_at=occurred
                    ),
                    service,
                )
                if done and done["status"] == "pending":
                    pending.append(done["completion_id"])
            if rng.random() < 0.25:
                peer = rng.choice([m for m in roster if m != member_id])
                send(
                    GiveRecognition(
                        from_member=member_id,
                        to_member=peer,
                        value=rng.choice(list(VALUES)),
                        points=rng.choice((5, 10, 20)),
                        message="Thanks for the help this week!",
                    ),
                    service,
                )
        while pending and rng.random() < 0.8:
            completion_id = pending.pop(0)
            send(
                VerifyCompletion(
                    completion_id=completion_id,
                    decision="approve" if rng.random() < 0.85 else "reject",
                ),
                manager,
            )
        if day % 20 == 5:
            send(
                AdjustPoints(
                    member_id=rng.choice(result.members),
                    points=-5,
                    reason="Duplicate report corrected",
                ),
                manager,
            )
        if progress:
            progress(day + 1, days)
    clock.set(end)
    return result
