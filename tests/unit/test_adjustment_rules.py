"""Adjustments (RULES.md "Adjustments")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger.commands.adjustments import AdjustPoints
from ledger.commands.members import RecordDeparture
from ledger.history import balance
from tests.support import World, days, refused


def test_manager_adjusts_points_with_a_reason(world: World) -> None:
    before = world.position()
    world.run(AdjustPoints(member_id="ana", points=-30, reason="double entry"), world.manager)
    assert world.event_types_after(before) == ["PointsAdjusted", "PointsAwarded"]
    assert balance(world.ledger.store, "acme", "ana") == -30


def test_departed_member_can_still_be_adjusted(world: World) -> None:
    world.run(RecordDeparture(member_id="bo", effective_from=world.clock.now() - days(1)))
    world.run(AdjustPoints(member_id="bo", points=5, reason="late fix"), world.manager)
    assert balance(world.ledger.store, "acme", "bo") == 5


@pytest.mark.parametrize("points", [0, 1001, -1001])
def test_points_are_nonzero_within_a_thousand(points: int) -> None:
    with pytest.raises(ValidationError):
        AdjustPoints(member_id="ana", points=points, reason="x")


def test_reason_is_required() -> None:
    with pytest.raises(ValidationError):
        AdjustPoints(member_id="ana", points=5, reason="  ")


def test_unknown_member_is_422_and_service_may_not_adjust(world: World) -> None:
    refused(world, AdjustPoints(member_id="ghost", points=5, reason="x"), 422, world.manager)
    refused(world, AdjustPoints(member_id="ana", points=5, reason="x"), 403, world.service)


def test_adjustment_occurred_at_obeys_the_behavior_window(world: World) -> None:
    refused(
        world,
        AdjustPoints(
            member_id="ana", points=5, reason="x", occurred_at=world.clock.now() - days(15)
        ),
        422,
        world.manager,
    )
