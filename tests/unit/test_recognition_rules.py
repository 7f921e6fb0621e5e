"""Recognitions (RULES.md "Recognitions")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger.aggregates.tenant import TenantSettings
from ledger.commands.members import RecordDeparture
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import RetireValue
from ledger.commands.tenancy import ChangeSettings
from tests.support import World, days, refused


def give(world: World, points: int = 10, frm: str = "ana", to: str = "bo", **kw: object) -> dict:
    return world.run(
        GiveRecognition(from_member=frm, to_member=to, value="ownership", points=points, **kw),
        world.service,
    )


def test_recipient_is_awarded_exactly_the_points_never_multiplied(world: World) -> None:
    from ledger.commands.campaigns import LaunchCampaign

    now = world.clock.now()
    world.run(
        LaunchCampaign(
            campaign_id="push",
            name="Push",
            starts_at=now - days(5),
            ends_at=now + days(5),
            values=["ownership"],
            multiplier=3.0,
            winners=1,
        )
    )
    before = world.position()
    assert give(world, 7)["points"] == 7
    award = world.events_after(before)[-1]
    assert (award.member_id, award.points, award.kind) == ("bo", 7, "recognition")


def test_self_recognition_is_invalid() -> None:
    with pytest.raises(ValidationError):
        GiveRecognition(from_member="ana", to_member="ana", value="ownership", points=5)


def test_points_above_the_tenant_maximum_are_invalid(world: World) -> None:
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=51),
        422,
        world.service,
    )


def test_message_is_at_most_500_characters() -> None:
    with pytest.raises(ValidationError):
        GiveRecognition(
            from_member="ana", to_member="bo", value="ownership", points=5, message="x" * 501
        )


def test_unknown_members_or_value_are_invalid(world: World) -> None:
    refused(
        world,
        GiveRecognition(from_member="ghost", to_member="bo", value="ownership", points=5),
        422,
        world.service,
    )
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="ghost", value="ownership", points=5),
        422,
        world.service,
    )
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="nope", points=5),
        422,
        world.service,
    )


def test_retired_value_cannot_be_recognized(world: World) -> None:
    world.run(RetireValue(key="ownership"))
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
        409,
        world.service,
    )


def test_both_members_must_be_active(world: World) -> None:
    world.run(RecordDeparture(member_id="bo", effective_from=world.clock.now() - days(1)))
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
        409,
        world.service,
    )
    refused(
        world,
        GiveRecognition(from_member="bo", to_member="ana", value="ownership", points=5),
        409,
        world.service,
    )


def test_monthly_allowance_may_be_reached_but_not_passed(world: World) -> None:
    give(world, 50, to="bo")
    give(world, 40, to="cy")
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="cy", value="ownership", points=11),
        409,
        world.service,
    )
    assert give(world, 10, to="cy")["points"] == 10  # exactly 100


def test_allowance_is_per_local_calendar_month_of_occurred_at(world: World) -> None:
    # NOW is 10 June; 13 days back is 28 May: another month, another allowance.
    give(world, 50, occurred_at=world.clock.now() - days(13))
    give(world, 50, to="cy", occurred_at=world.clock.now() - days(13))
    assert give(world, 50)["points"] == 50


def test_allowance_month_follows_the_tenant_timezone(ledger, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from ledger.clock import FixedClock

    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 7, 1, 3, 0, tzinfo=UTC))  # 1 July 12:00 in Tokyo
    world = World(ledger, clock, timezone="Asia/Tokyo").standard()
    # 30 June 16:00 UTC is already 1 July 01:00 in Tokyo: the same local month as now.
    late_june_utc = datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    give(world, 50, occurred_at=late_june_utc)
    give(world, 50, to="cy")
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="cy", value="ownership", points=1),
        409,
        world.service,
    )


def test_at_most_two_recognitions_per_pair_per_iso_week(world: World) -> None:
    give(world, 1)
    give(world, 1)
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=1),
        409,
        world.service,
    )
    assert give(world, 1, to="cy")["points"] == 1
    assert give(world, 1, frm="bo", to="ana")["points"] == 1
    # Last week is another week.
    assert give(world, 1, occurred_at=world.clock.now() - days(7))["points"] == 1


def test_settings_change_applies_to_commands_from_then_on(world: World) -> None:
    give(world, 1)
    give(world, 1)
    world.run(ChangeSettings(settings=TenantSettings(max_recognitions_per_pair_per_week=3)))
    assert give(world, 1)["points"] == 1


def test_recognition_records_allowance_pair_recognition_and_award_atomically(world: World) -> None:
    before = world.position()
    give(world, 5, message="thanks for the demo")
    assert world.event_types_after(before) == [
        "AllowanceSpent",
        "PairRecognitionCounted",
        "RecognitionGiven",
        "PointsAwarded",
    ]
