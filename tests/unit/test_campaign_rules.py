"""Campaigns and the points rule (RULES.md "Campaigns", "Missions and completions")."""

from __future__ import annotations

from ledger.commands.adjustments import AdjustPoints
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import RetireValue
from tests.support import World, days, refused


def launch(
    world: World,
    campaign_id: str,
    values: list[str],
    multiplier: float,
    start: float = -5,
    end: float = 5,
    winners: int = 2,
) -> None:
    now = world.clock.now()
    world.run(
        LaunchCampaign(
            campaign_id=campaign_id,
            name=campaign_id,
            starts_at=now + days(start),
            ends_at=now + days(end),
            values=values,
            multiplier=multiplier,
            winners=winners,
        )
    )


def complete(world: World, mission: str = "follow-up", member: str = "ana", **kw: object) -> dict:
    return world.run(CompleteMission(mission_id=mission, member_id=member, **kw), world.service)


def test_largest_multiplier_of_active_matching_campaigns_applies_without_stacking(
    world: World,
) -> None:
    launch(world, "a", ["customer-focus"], 1.5)
    launch(world, "b", ["customer-focus", "ownership"], 2.0)
    launch(world, "c", ["innovation"], 5.0)  # no shared value
    assert complete(world)["points"] == 20


def test_points_round_half_up(world: World) -> None:
    world.mission("odd", ["ownership"], points=5)
    launch(world, "a", ["ownership"], 1.5)  # 7.5 -> 8
    assert complete(world, "odd")["points"] == 8
    world.mission("odd2", ["innovation"], points=3)
    launch(world, "b", ["innovation"], 1.25)  # 3.75 -> 4
    assert complete(world, "odd2")["points"] == 4


def test_campaign_must_be_active_at_occurred_at(world: World) -> None:
    launch(world, "later", ["customer-focus"], 3.0, start=1, end=5)
    assert complete(world)["points"] == 10


def test_campaign_created_afterwards_never_changes_recorded_points(world: World) -> None:
    world.mission("demo-call", ["customer-focus"], points=10, requires_verification=True)
    pending = complete(world, "demo-call")
    launch(world, "late", ["customer-focus"], 2.0)
    from ledger.commands.completions import VerifyCompletion

    approved = world.run(
        VerifyCompletion(completion_id=pending["completion_id"], decision="approve"), world.manager
    )
    assert approved["points"] == 10


def test_award_records_rule_inputs_and_campaign(world: World) -> None:
    launch(world, "push", ["customer-focus"], 1.5)
    before = world.position()
    complete(world)
    award = world.events_after(before)[-1]
    assert award.rule["name"] == "mission-completion" and award.rule["version"] == 1
    assert award.rule["inputs"]["mission_points"] == 10
    assert award.rule["inputs"]["multiplier"] == 1.5
    assert award.rule["inputs"]["campaign_id"] == "push"
    assert award.cause_event_id == str(world.events_after(before)[1].event_id)
    assert award.command["key_label"] == "chatbot" and award.command["command_id"]


def test_campaign_validation(world: World) -> None:
    import pytest
    from pydantic import ValidationError

    now = world.clock.now()
    for bad in (
        {"multiplier": 0.5},
        {"multiplier": 5.5},
        {"winners": 0},
        {"ends_at": now - days(6)},
        {"values": []},
    ):
        with pytest.raises(ValidationError):
            LaunchCampaign(
                **{
                    "campaign_id": "x",
                    "name": "x",
                    "starts_at": now - days(5),
                    "ends_at": now,
                    "values": ["ownership"],
                    "multiplier": 2.0,
                    "winners": 1,
                    **bad,
                }
            )
    refused(
        world,
        LaunchCampaign(
            campaign_id="x",
            name="x",
            starts_at=now,
            ends_at=now + days(1),
            values=["nope"],
            multiplier=2,
            winners=1,
        ),
        422,
    )
    world.run(RetireValue(key="innovation"))
    refused(
        world,
        LaunchCampaign(
            campaign_id="x",
            name="x",
            starts_at=now,
            ends_at=now + days(1),
            values=["innovation"],
            multiplier=2,
            winners=1,
        ),
        409,
    )
    launch(world, "dup", ["ownership"], 2.0)
    refused(
        world,
        LaunchCampaign(
            campaign_id="dup",
            name="x",
            starts_at=now,
            ends_at=now + days(1),
            values=["ownership"],
            multiplier=2,
            winners=1,
        ),
        409,
    )


def test_winners_before_the_end_are_refused_and_declaring_twice_is_409(world: World) -> None:
    launch(world, "push", ["customer-focus"], 1.0, start=-5, end=1)
    refused(world, DeclareWinners(campaign_id="push"), 409)
    refused(world, DeclareWinners(campaign_id="missing"), 404)
    world.clock.advance(days(1))
    world.run(DeclareWinners(campaign_id="push"))
    refused(world, DeclareWinners(campaign_id="push"), 409)


def test_winners_rank_counted_behaviors_in_window_with_campaign_values(world: World) -> None:
    world.member("dee")
    launch(world, "push", ["customer-focus", "ownership"], 1.0, start=-5, end=1, winners=2)
    complete(world, member="ana")  # 10, customer-focus
    complete(world, member="bo")  # 10
    world.run(
        GiveRecognition(from_member="cy", to_member="dee", value="ownership", points=10),
        world.service,
    )  # dee 10: a three-way tie for first
    world.run(
        GiveRecognition(from_member="ana", to_member="cy", value="innovation", points=40),
        world.service,
    )  # not a campaign value
    world.run(AdjustPoints(member_id="cy", points=500, reason="bonus"), world.manager)  # excluded
    complete(world, member="cy", occurred_at=world.clock.now() - days(6))  # before the window
    world.clock.advance(days(1))
    result = world.run(DeclareWinners(campaign_id="push"))
    assert result["winners"] == [
        {"member_id": "ana", "rank": 1, "points": 10},
        {"member_id": "bo", "rank": 1, "points": 10},
        {"member_id": "dee", "rank": 1, "points": 10},
    ]


def test_ties_at_the_cut_all_win(world: World) -> None:
    launch(world, "push", ["customer-focus", "ownership"], 1.0, start=-5, end=1, winners=1)
    complete(world, member="ana")
    world.run(
        GiveRecognition(from_member="ana", to_member="cy", value="ownership", points=30),
        world.service,
    )
    world.run(
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=30),
        world.service,
    )
    world.clock.advance(days(1))
    winners = world.run(DeclareWinners(campaign_id="push"))["winners"]
    assert [(w["member_id"], w["rank"]) for w in winners] == [("bo", 1), ("cy", 1)]
