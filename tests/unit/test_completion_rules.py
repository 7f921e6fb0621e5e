"""Missions and completions (RULES.md "Missions and completions")."""

from __future__ import annotations

from datetime import timedelta

from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.members import MoveMember, RecordDeparture
from ledger.commands.missions import ArchiveMission, PublishMission
from ledger.commands.strategy import RetireValue
from tests.support import World, days, refused


def complete(world: World, mission: str = "follow-up", member: str = "ana", **kw: object) -> dict:
    return world.run(CompleteMission(mission_id=mission, member_id=member, **kw), world.service)


def test_completion_without_verification_counts_at_once_with_an_award(world: World) -> None:
    before = world.position()
    result = complete(world)
    assert result["status"] == "counted" and result["points"] == 10
    assert world.event_types_after(before) == ["SlotClaimed", "CompletionRecorded", "PointsAwarded"]
    assert result["position"] == world.position()


def test_second_completion_in_same_day_is_refused(world: World) -> None:
    complete(world)
    refused(world, CompleteMission(mission_id="follow-up", member_id="ana"), 409, world.service)


def test_daily_mission_can_be_completed_again_the_next_local_day(world: World) -> None:
    complete(world, occurred_at=world.clock.now() - days(1))
    assert complete(world)["status"] == "counted"


def test_weekly_mission_once_per_iso_week(world: World) -> None:
    world.mission("weekly-demo", ["ownership"], cadence="weekly")
    # NOW is Wednesday: Monday of this week and Wednesday share a week; last Sunday does not.
    complete(world, "weekly-demo", occurred_at=world.clock.now() - days(2))
    refused(world, CompleteMission(mission_id="weekly-demo", member_id="ana"), 409, world.service)
    assert complete(world, "weekly-demo", occurred_at=world.clock.now() - days(3))["points"] == 10


def test_once_mission_can_be_completed_only_once_ever(world: World) -> None:
    world.mission("onboarding", ["ownership"], cadence="once")
    complete(world, "onboarding", occurred_at=world.clock.now() - days(10))
    refused(world, CompleteMission(mission_id="onboarding", member_id="ana"), 409, world.service)
    assert complete(world, "onboarding", member="bo")["status"] == "counted"


def test_unknown_mission_in_path_is_404(world: World) -> None:
    refused(world, CompleteMission(mission_id="nope", member_id="ana"), 404, world.service)


def test_unknown_member_in_body_is_422(world: World) -> None:
    refused(world, CompleteMission(mission_id="follow-up", member_id="ghost"), 422, world.service)


def test_archived_mission_is_refused(world: World) -> None:
    world.run(ArchiveMission(mission_id="follow-up"))
    refused(world, CompleteMission(mission_id="follow-up", member_id="ana"), 409, world.service)


def test_member_must_be_active_at_occurred_at(world: World) -> None:
    world.member("newbie", joined_days_ago=1)
    refused(
        world,
        CompleteMission(
            mission_id="follow-up", member_id="newbie", occurred_at=world.clock.now() - days(2)
        ),
        409,
        world.service,
    )
    world.run(RecordDeparture(member_id="bo", effective_from=world.clock.now() - days(1)))
    refused(world, CompleteMission(mission_id="follow-up", member_id="bo"), 409, world.service)
    # Before the departure took effect the member was active.
    assert complete(world, member="bo", occurred_at=world.clock.now() - days(2))["points"] == 10


def test_member_must_be_in_the_missions_teams_at_occurred_at(world: World) -> None:
    world.mission("support-only", ["customer-focus"], teams=["support"])
    refused(world, CompleteMission(mission_id="support-only", member_id="ana"), 409, world.service)
    assert complete(world, "support-only", member="cy")["status"] == "counted"
    # A backdated move makes ana a support member from two days ago on.
    world.run(
        MoveMember(member_id="ana", team="support", effective_from=world.clock.now() - days(2))
    )
    assert complete(world, "support-only", member="ana")["status"] == "counted"
    refused(
        world,
        CompleteMission(
            mission_id="support-only", member_id="ana", occurred_at=world.clock.now() - days(3)
        ),
        409,
        world.service,
    )


def test_occurred_at_must_lie_in_the_mission_window(world: World) -> None:
    now = world.clock.now()
    world.mission("spring", ["ownership"], starts_at=now - days(3), ends_at=now - days(1))
    refused(world, CompleteMission(mission_id="spring", member_id="ana"), 409, world.service)
    refused(
        world,
        CompleteMission(mission_id="spring", member_id="ana", occurred_at=now - days(4)),
        409,
        world.service,
    )
    # ends_at is exclusive, starts_at inclusive.
    refused(
        world,
        CompleteMission(mission_id="spring", member_id="ana", occurred_at=now - days(1)),
        409,
        world.service,
    )
    assert complete(world, "spring", occurred_at=now - days(3))["status"] == "counted"


def test_retiring_a_value_does_not_stop_completions_of_existing_missions(world: World) -> None:
    world.run(RetireValue(key="customer-focus"))
    assert complete(world)["status"] == "counted"


def test_retired_value_cannot_be_used_on_a_new_mission(world: World) -> None:
    world.run(RetireValue(key="innovation"))
    refused(
        world,
        PublishMission(
            mission_id="m2", title="x", values=["innovation"], points=5, cadence="daily"
        ),
        409,
    )


def test_mission_with_unknown_value_is_422_and_duplicate_id_is_409(world: World) -> None:
    refused(
        world,
        PublishMission(mission_id="m3", title="x", values=["nope"], points=5, cadence="daily"),
        422,
    )
    refused(
        world,
        PublishMission(
            mission_id="follow-up", title="x", values=["ownership"], points=5, cadence="daily"
        ),
        409,
    )


def test_verification_pending_counts_only_when_approved(world: World) -> None:
    world.mission("demo-call", ["customer-focus"], points=30, requires_verification=True)
    pending = complete(world, "demo-call")
    assert pending["status"] == "pending" and pending["points"] == 30
    before = world.position()
    result = world.run(
        VerifyCompletion(completion_id=pending["completion_id"], decision="approve"), world.manager
    )
    assert result["status"] == "counted"
    assert world.event_types_after(before) == ["CompletionApproved", "PointsAwarded"]
    award = world.events_after(before)[-1]
    # The award takes the completion's occurred_at, not the approval's time.
    assert award.occurred_at == world.clock.now() and award.points == 30
    refused(
        world,
        VerifyCompletion(completion_id=pending["completion_id"], decision="reject"),
        409,
        world.manager,
    )


def test_rejected_completion_never_counts_and_frees_its_slot(world: World) -> None:
    world.mission("demo-call", ["customer-focus"], requires_verification=True)
    pending = complete(world, "demo-call")
    refused(world, CompleteMission(mission_id="demo-call", member_id="ana"), 409, world.service)
    before = world.position()
    world.run(
        VerifyCompletion(
            completion_id=pending["completion_id"], decision="reject", reason="no evidence"
        ),
        world.manager,
    )
    assert "PointsAwarded" not in world.event_types_after(before)
    assert complete(world, "demo-call")["status"] == "pending"


def test_only_managers_and_admins_verify(world: World) -> None:
    world.mission("demo-call", ["customer-focus"], requires_verification=True)
    pending = complete(world, "demo-call")
    for caller in (world.service, world.analyst):
        refused(
            world,
            VerifyCompletion(completion_id=pending["completion_id"], decision="approve"),
            403,
            caller,
        )
    assert (
        world.run(
            VerifyCompletion(completion_id=pending["completion_id"], decision="approve"),
            world.admin,
        )["status"]
        == "counted"
    )


def test_approval_does_not_need_an_active_member(world: World) -> None:
    world.mission("demo-call", ["customer-focus"], requires_verification=True)
    pending = complete(world, "demo-call", occurred_at=world.clock.now() - days(2))
    world.run(RecordDeparture(member_id="ana", effective_from=world.clock.now() - days(1)))
    assert (
        world.run(
            VerifyCompletion(completion_id=pending["completion_id"], decision="approve"),
            world.manager,
        )["status"]
        == "counted"
    )


def test_unknown_completion_is_404(world: World) -> None:
    import uuid

    refused(
        world, VerifyCompletion(completion_id=uuid.uuid4(), decision="approve"), 404, world.manager
    )


def test_completion_timestamps_are_utc_and_occurred_at_is_kept(world: World) -> None:
    from datetime import timezone

    local = (world.clock.now() - timedelta(hours=3)).astimezone(timezone(timedelta(hours=5)))
    before = world.position()
    complete(world, occurred_at=local)
    recorded = world.events_after(before)[1]
    assert recorded.occurred_at == local and recorded.occurred_at.utcoffset() == timedelta(0)
    assert recorded.timestamp == world.clock.now()
