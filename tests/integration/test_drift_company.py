"""The drift watch on generated companies, through the real handlers and projections.

4 teams of 10 people, about 50 behaviors per team-week, values a/b/c/d targeted
0.4/0.3/0.2/0.1 by one strategy revision: one team lets `a` fade over 8 weeks and
the watch must see it within 9 weeks of the fade's start, with its onset in the fade,
and nothing else; a steady company over 52 weeks gives no alert at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.clock import FixedClock
from ledger.projections import drift
from ledger.projections.projection import Projection
from tests.conftest import open_ledger
from tests.drift_company import START, Mix, fading_mix, generate, steady_mix
from tests.support import World


@dataclass
class Company:
    world: World

    def watch(self, **at: datetime) -> dict:
        projection = Projection(":memory:", decrypt=self.world.ledger.personal.decrypt)
        catch_up(projection, StoreSource(self.world.ledger.store))
        try:
            return projection.run(drift.drift, "acme", now=self.world.clock.now(), **at)
        finally:
            projection.close()


def company_of(weeks: int, mix: Mix, seed: int) -> Iterator[Company]:
    clock = FixedClock(START)
    ledger = open_ledger("sqlite:///:memory:", clock)
    yield Company(generate(ledger, clock, weeks, mix, seed))
    ledger.close()


def week(index: int) -> str:
    return (START.date() + timedelta(weeks=index)).isoformat()


FADE_START = 14


@pytest.fixture(scope="module")
def company() -> Iterator[Company]:
    yield from company_of(32, fading_mix(FADE_START), seed=11)


@pytest.fixture(scope="module")
def fading(company: Company) -> dict:
    return company.watch()


def test_the_fading_value_is_alerted_within_nine_weeks_with_its_onset_in_the_fade(
    fading: dict,
) -> None:
    alerts = [a for a in fading["alerts"] if a["current"]]
    mine = [a for a in alerts if (a["scope"], a["team"], a["value"]) == ("team", "t0", "a")]
    assert mine, alerts
    first = min(mine, key=lambda a: a["week"])
    assert week(FADE_START) <= first["week"] <= week(FADE_START + 8), first
    assert week(FADE_START) <= first["onset"] <= week(FADE_START + 7), first
    assert first["share_since_onset"] < first["target"] == 0.4
    delay = (date.fromisoformat(first["week"]) - date.fromisoformat(week(FADE_START))).days // 7
    print(
        f"detection delay: {delay + 1} weeks (alert week {first['week']}, onset {first['onset']})"
    )


def test_nothing_fires_for_the_steady_teams(fading: dict) -> None:
    others = [a for a in fading["alerts"] if a["team"] in ("t1", "t2", "t3")]
    assert others == []


def test_every_team_and_value_is_watched_once_its_baseline_is_in(fading: dict) -> None:
    states = {(s["scope"], s["team"], s["value"]): s["state"] for s in fading["series"]}
    assert len(states) == 5 * 4  # the tenant and 4 teams, 4 values each
    steady = {k: v for k, v in states.items() if k[1] in ("t1", "t2", "t3")}
    assert set(steady.values()) == {"watching"}


def test_a_steady_company_over_52_weeks_raises_no_alert() -> None:
    for company in company_of(52, steady_mix, seed=5):
        watched = company.watch()
        assert watched["alerts"] == []
        assert {s["state"] for s in watched["series"]} == {"watching"}


def test_time_travel_computes_the_same_watch_from_the_facts(company: Company, fading: dict) -> None:
    travelled = company.watch(as_of=company.world.clock.now())
    assert travelled["series"] == fading["series"]
    assert travelled["alerts"] == fading["alerts"]
    # Before the alert's week completed, the facts recorded then gave no alert there yet.
    first = min(a["week"] for a in fading["alerts"] if a["team"] == "t0")
    before = datetime.fromisoformat(first).replace(tzinfo=UTC) + timedelta(days=6)
    earlier = company.watch(as_of=before)
    assert all(a["week"] < first for a in earlier["alerts"] if a["team"] == "t0")


def test_an_acknowledged_alert_shows_its_follow_up_after_four_complete_weeks() -> None:
    """RULES.md "Recalibration", follow-up: the value's share in the 4 weeks before the
    alert week and in the 4 complete weeks after the acknowledgement."""
    from ledger.commands.base import Caller
    from ledger.commands.drift import AcknowledgeDriftAlert
    from ledger.drift.raising import command

    clock = FixedClock(START)
    ledger = open_ledger("sqlite:///:memory:", clock)
    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    acknowledged: dict[str, object] = {}

    def act(world: World, week: int) -> None:
        if acknowledged:
            return
        catch_up(projection, StoreSource(ledger.store))
        watched = projection.run(drift.drift, "acme", now=clock.now(), scope="team", team="t0")
        alerts = [a for a in watched["alerts"] if a["value"] == "a"]
        if not alerts:
            return
        raised = world.run(command(alerts[0], clock.now()), Caller("acme", "system", "watch"))
        clock.set(clock.now() + timedelta(days=2, hours=3))  # a Wednesday afternoon
        world.run(
            AcknowledgeDriftAlert(alert_id=raised["alert_id"], note="A customer week"),
            world.manager,
        )
        acknowledged.update(alert=alerts[0], week=week, at=clock.now())

    generate(ledger, clock, 32, fading_mix(FADE_START), 11, on_week=act)
    catch_up(projection, StoreSource(ledger.store))
    watched = projection.run(drift.drift, "acme", now=clock.now(), scope="team", team="t0")
    (alert,) = [a for a in watched["alerts"] if a["acknowledged"] and a["value"] == "a"]
    follow_up = alert["follow_up"]
    alert_week = date.fromisoformat(alert["week"])
    assert follow_up["before"]["from"] == (alert_week - timedelta(weeks=4)).isoformat()
    # Acknowledged on a Wednesday: the 4 complete weeks after it start the next Monday.
    monday_after = START.date() + timedelta(weeks=acknowledged["week"] + 1)  # type: ignore[operator]
    assert follow_up["after"]["from"] == monday_after.isoformat()
    for side in ("before", "after"):
        weeks = follow_up[side]["weeks"]
        n = sum(w["behaviors"] for w in weeks)
        assert follow_up[side]["behaviors"] == n and len(weeks) == 4
        assert follow_up[side]["share"] == round(sum(w["mass"] for w in weeks) / n, 4)
    assert follow_up["after"]["share"] < follow_up["before"]["share"]  # still fading: honest
    projection.close()
    ledger.close()
