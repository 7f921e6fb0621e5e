"""Generated companies for the drift watch's tests: teams, a strategy over values a/b/c/d
(targets 0.4/0.3/0.2/0.1) and about 50 behaviors per team-week, made through the real
command handlers; a mix per (team, week) says what people do."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.clock import FixedClock
from ledger.commands.campaigns import LaunchCampaign
from ledger.commands.completions import CompleteMission
from ledger.commands.strategy import ReviseStrategy
from ledger.service import Ledger
from tests.support import World

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: the revision's epoch starts here
VALUES = ("a", "b", "c", "d")
TARGETS = (0.4, 0.3, 0.2, 0.1)
PER_TEAM_WEEK = 50
Mix = Callable[[str, int], tuple[float, ...]]


def steady_mix(team: str, week: int) -> tuple[float, ...]:
    return TARGETS


def fading_mix(fade_start: int, weeks: int = 8, low: float = 0.1, team: str = "t0") -> Mix:
    """`team` lets `a` fall from 0.4 to `low` over `weeks` weeks; the rest share what it
    lost in proportion."""

    def mix(of: str, week: int) -> tuple[float, ...]:
        if of != team or week < fade_start:
            return TARGETS
        step = min(week - fade_start + 1, weeks) / weeks
        a = TARGETS[0] - (TARGETS[0] - low) * step
        rest = (1 - a) / sum(TARGETS[1:])
        return (a, *(t * rest for t in TARGETS[1:]))

    return mix


@dataclass(frozen=True)
class PastCampaign:
    """A campaign on one value over whole weeks; while it runs people choose that value
    `pull` times as often (what recalibration learns its elasticity from)."""

    campaign_id: str
    first_week: int
    weeks: int
    value: str
    multiplier: float
    pull: float


def pulled(mix: Mix, campaigns: tuple[PastCampaign, ...]) -> Mix:
    def during(team: str, week: int) -> tuple[float, ...]:
        shares = list(mix(team, week))
        for c in campaigns:
            if c.first_week <= week < c.first_week + c.weeks:
                shares[VALUES.index(c.value)] *= c.pull
        return tuple(shares)

    return during


def generate(
    ledger: Ledger,
    clock: FixedClock,
    weeks: int,
    mix: Mix,
    seed: int,
    teams: tuple[str, ...] = ("t0", "t1", "t2", "t3"),
    start: datetime = START,
    campaigns: tuple[PastCampaign, ...] = (),
    on_week: Callable[[World, int], None] | None = None,
) -> World:
    """Write the company's history; the clock ends just after its last week completed.
    `on_week(world, week)` runs at the start of each week (a person acting mid-history)."""
    mix = pulled(mix, campaigns)
    rng = random.Random(seed)
    clock.set(start - timedelta(days=1))
    world = World(ledger, clock)
    world.values(*VALUES)
    for team in teams:
        for i in range(10):
            world.member(f"{team}-{i}", team=team)
    for value in VALUES:
        world.mission(value, [value], cadence="daily")
    world.run(
        ReviseStrategy(
            effective_from=start,
            goals=[
                {"key": v, "title": v, "weight": w * 10, "values": {v: 1}}
                for v, w in zip(VALUES, TARGETS, strict=True)
            ],
        )
    )
    for week in range(weeks):
        if on_week is not None:
            clock.set(start + timedelta(weeks=week, hours=1))
            on_week(world, week)
        for c in campaigns:
            if c.first_week == week:
                clock.set(start + timedelta(weeks=week))
                world.run(
                    LaunchCampaign(
                        campaign_id=c.campaign_id,
                        name=c.campaign_id,
                        starts_at=clock.now(),
                        ends_at=clock.now() + timedelta(weeks=c.weeks),
                        values=[c.value],
                        multiplier=c.multiplier,
                        winners=3,
                    )
                )
        days: dict[int, list[tuple[str, str]]] = {d: [] for d in range(5)}
        for team in teams:
            taken: set[tuple[str, int, str]] = set()
            shares = mix(team, week)
            for _ in range(PER_TEAM_WEEK):
                value = rng.choices(VALUES, weights=shares)[0]
                while True:  # a free (member, day) for this value's daily mission
                    member, day = f"{team}-{rng.randrange(10)}", rng.randrange(5)
                    if (member, day, value) not in taken:
                        taken.add((member, day, value))
                        break
                days[day].append((member, value))
        for day, done in days.items():
            clock.set(start + timedelta(weeks=week, days=day, hours=10))
            for member, value in done:
                world.run(CompleteMission(mission_id=value, member_id=member), world.service)
    clock.set(start + timedelta(weeks=weeks, hours=1))
    return world
