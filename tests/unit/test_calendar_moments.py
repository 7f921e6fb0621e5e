"""The calendar rules at the moment the tests run at (`--moment`; the calendar run picks
Monday 00:30, Sunday 23:30, DST nights, month and year ends), against expectations
computed here with zoneinfo alone (RULES.md "Time": local days, ISO weeks, months).

Each test asks the rules about `now` and an earlier instant and expects a refusal exactly
when the two share the period the rule counts in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import Conflict
from ledger.projections import queries
from tests.conftest import open_ledger
from tests.support import Projected, World, now

pytestmark = pytest.mark.calendar
TZ = "Europe/Stockholm"


def local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(TZ))


def iso_week(moment: datetime) -> tuple[int, int]:
    year, week, _ = local(moment).isocalendar()
    return year, week


def month(moment: datetime) -> tuple[int, int]:
    return local(moment).year, local(moment).month


@pytest.fixture
def world(sqlite_url: str) -> World:
    clock = FixedClock(now())
    w = World(open_ledger(sqlite_url, clock), clock, timezone=TZ, monthly_allowance=100)
    w.values("customer-focus", "ownership")
    w.member("ana")
    w.member("bo")
    w.mission("daily", ["customer-focus"], cadence="daily")
    w.mission("weekly", ["ownership"], cadence="weekly")
    return w


def accepted(world: World, command: object) -> bool:
    try:
        world.run(command, world.service)  # type: ignore[arg-type]
    except Conflict:
        return False
    return True


EARLIER = [timedelta(minutes=m) for m in (31, 61, 90, 150, 24 * 60 - 1, 24 * 60 + 1)]


@pytest.mark.parametrize("back", EARLIER, ids=lambda d: f"{d.total_seconds() / 3600:g}h")
def test_a_daily_mission_is_refused_again_only_on_the_same_local_day(
    world: World, back: timedelta
) -> None:
    moment = world.clock.now()
    assert accepted(world, CompleteMission(mission_id="daily", member_id="ana"))
    again = CompleteMission(mission_id="daily", member_id="ana", occurred_at=moment - back)
    same_day = local(moment).date() == local(moment - back).date()
    assert accepted(world, again) is not same_day


@pytest.mark.parametrize("back_days", [1, 2, 3, 6, 7])
def test_a_weekly_mission_is_refused_again_only_in_the_same_iso_week(
    world: World, back_days: int
) -> None:
    moment = world.clock.now()
    earlier = moment - timedelta(days=back_days, minutes=1)
    assert accepted(world, CompleteMission(mission_id="weekly", member_id="ana"))
    again = CompleteMission(mission_id="weekly", member_id="ana", occurred_at=earlier)
    assert accepted(world, again) is not (iso_week(moment) == iso_week(earlier))


@pytest.mark.parametrize("back_days", [0.05, 1, 2, 5])
def test_the_allowance_counts_the_local_month_of_occurred_at(
    world: World, back_days: float
) -> None:
    moment = world.clock.now()
    earlier = moment - timedelta(days=back_days)
    times = [moment, earlier - timedelta(hours=1)]
    give = GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=40)
    for at in times:
        assert accepted(world, give.model_copy(update={"occurred_at": at}))
    # A third 40 in a month that already holds two would make 120 of the 100 allowed.
    crowded = sum(month(at) == month(earlier) for at in times) == 2
    assert accepted(world, give.model_copy(update={"occurred_at": earlier})) is not crowded


def test_the_pair_limit_counts_the_iso_week_of_occurred_at(world: World) -> None:
    moment = world.clock.now()
    times = [moment, moment - timedelta(days=3)]
    give = GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=1)
    for at in times:
        assert accepted(world, give.model_copy(update={"occurred_at": at}))
    third = moment - timedelta(minutes=1)
    full = sum(iso_week(at) == iso_week(third) for at in times) == 2
    assert accepted(world, give.model_copy(update={"occurred_at": third})) is not full


def test_the_weekly_leaderboard_holds_the_behaviors_of_the_local_week(
    world: World, tmp_path: Path
) -> None:
    moment = world.clock.now()
    times = [moment - timedelta(hours=h) for h in (0, 1, 3, 25, 49, 73, 97, 121, 145, 169)]
    for index, at in enumerate(times):
        world.member(f"m{index}")
        world.run(
            CompleteMission(mission_id="daily", member_id=f"m{index}", occurred_at=at),
            world.service,
        )
    projected = Projected(world, str(tmp_path / "p.duckdb"))
    board = queries.leaderboard(
        projected.con(), "acme", period="week", at=None, now=moment, limit=100
    )
    expected = {f"m{i}" for i, at in enumerate(times) if iso_week(at) == iso_week(moment)}
    assert {e["member_id"] for e in board["entries"]} == expected
    monday = local(moment).date() - timedelta(days=local(moment).weekday())
    assert board["period"]["start"] == monday.isoformat()
    assert board["period"]["end"] == (monday + timedelta(days=7)).isoformat()
    sunday = monday + timedelta(days=6)
    heat = queries.heatmap(projected.con(), "acme", now=moment, date_from=monday, date_to=sunday)
    assert [(c["week_start"], c["behaviors"]) for c in heat["cells"]] == [
        (monday.isoformat(), len(expected))
    ]


def test_the_month_of_the_moment_starts_on_its_local_first_day(
    world: World, tmp_path: Path
) -> None:
    moment = world.clock.now()
    world.run(CompleteMission(mission_id="daily", member_id="ana"), world.service)
    projected = Projected(world, str(tmp_path / "p.duckdb"))
    board = queries.leaderboard(projected.con(), "acme", period="month", at=None, now=moment)
    first = date(local(moment).year, local(moment).month, 1)
    assert board["period"]["start"] == first.isoformat()
    assert [e["member_id"] for e in board["entries"]] == ["ana"]
