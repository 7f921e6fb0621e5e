"""Time (RULES.md "Time"): windows, UTC storage, local periods across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.periods import cadence_period, local_midnight, month_key, week_key
from ledger.service import Ledger
from tests.support import World, days, refused

STOCKHOLM = "Europe/Stockholm"


def test_occurred_at_at_most_five_minutes_in_the_future(world: World) -> None:
    now = world.clock.now()
    refused(
        world,
        CompleteMission(
            mission_id="follow-up",
            member_id="ana",
            occurred_at=now + timedelta(minutes=5, seconds=1),
        ),
        422,
        world.service,
    )
    assert (
        world.run(
            CompleteMission(
                mission_id="follow-up", member_id="ana", occurred_at=now + timedelta(minutes=5)
            ),
            world.service,
        )["status"]
        == "counted"
    )


def test_occurred_at_at_most_backdate_days_in_the_past(world: World) -> None:
    now = world.clock.now()
    refused(
        world,
        CompleteMission(
            mission_id="follow-up",
            member_id="ana",
            occurred_at=now - days(14) - timedelta(seconds=1),
        ),
        422,
        world.service,
    )
    assert (
        world.run(
            CompleteMission(mission_id="follow-up", member_id="ana", occurred_at=now - days(14)),
            world.service,
        )["points"]
        == 10
    )


def test_backdate_window_is_a_tenant_setting(ledger: Ledger, clock: FixedClock) -> None:
    world = World(ledger, clock, backdate_days=0).standard()
    refused(
        world,
        CompleteMission(
            mission_id="follow-up", member_id="ana", occurred_at=clock.now() - timedelta(minutes=1)
        ),
        422,
        world.service,
    )


def test_iso_week_starts_monday_local_across_the_october_dst_change() -> None:
    # 2026-10-25 is the last Sunday of October: clocks go back 03:00 -> 02:00 in Stockholm.
    monday = date(2026, 10, 19)
    start = local_midnight(monday, STOCKHOLM)
    end = local_midnight(monday + timedelta(days=7), STOCKHOLM)
    assert start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)  # CEST, UTC+2
    assert end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # CET, UTC+1
    assert end - start == timedelta(hours=169)
    assert week_key(end - timedelta(seconds=1), STOCKHOLM) == "2026-10-19"
    assert week_key(end, STOCKHOLM) == "2026-10-26"
    # Sunday 23:30 UTC is already Monday 00:30 in Stockholm.
    assert week_key(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), STOCKHOLM) == "2026-10-26"
    assert week_key(datetime(2026, 10, 25, 23, 30, tzinfo=UTC), "UTC") == "2026-10-19"


def test_days_and_months_are_local() -> None:
    late = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 1 November 00:30 in Stockholm
    assert cadence_period("daily", late, STOCKHOLM) == "2026-11-01"
    assert cadence_period("daily", late, "UTC") == "2026-10-31"
    assert month_key(late, STOCKHOLM) == "2026-11"
    assert month_key(late, "UTC") == "2026-10"


def test_weekly_slot_in_stockholm_across_dst(ledger: Ledger, clock: FixedClock) -> None:
    clock.set(datetime(2026, 10, 27, 10, 0, tzinfo=UTC))
    world = World(ledger, clock, timezone=STOCKHOLM).standard()
    world.mission("weekly", ["ownership"], cadence="weekly")
    # Sunday 25 Oct 22:30 UTC = 23:30 CET Sunday: still the week of 19 Oct locally.
    sunday_night = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)
    world.run(
        CompleteMission(mission_id="weekly", member_id="ana", occurred_at=sunday_night),
        world.service,
    )
    # 23:00 UTC Sunday = Monday 00:00 CET: a new week, a new slot.
    assert (
        world.run(
            CompleteMission(
                mission_id="weekly",
                member_id="ana",
                occurred_at=datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
            ),
            world.service,
        )["status"]
        == "counted"
    )
    refused(world, CompleteMission(mission_id="weekly", member_id="ana"), 409, world.service)


def test_naive_timestamps_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CompleteMission(mission_id="m", member_id="a", occurred_at=datetime(2026, 1, 1))
