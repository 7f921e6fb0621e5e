"""Slice tests of the write side: given these commands happened, when this one arrives,
then these events are decided (or this named refusal is given). RULES.md sections
"Missions and completions", "Recognitions", "Campaigns", "Adjustments", "Reversals"
and "Members and teams". In memory: no event store (tests/unit/slices.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.aggregates.adjustment import PointsAdjusted
from ledger.aggregates.allowance import AllowanceSpent
from ledger.aggregates.award import AwardReversed, PointsAwarded
from ledger.aggregates.campaign import CampaignWinnersDeclared
from ledger.aggregates.completion import (
    CompletionApproved,
    CompletionRecorded,
    CompletionRejected,
    SlotClaimed,
    SlotReleased,
)
from ledger.aggregates.member import MemberForgotten as MemberForgottenEvent
from ledger.aggregates.pair_counter import PairRecognitionCounted
from ledger.aggregates.recognition import RecognitionGiven
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.members import AddMember, ForgetMember, MoveMember, RecordDeparture
from ledger.commands.missions import ArchiveMission, PublishMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.reversals import ReverseAward
from ledger.commands.strategy import DefineValue, RetireValue
from ledger.commands.tenancy import CreateTenant
from ledger.errors import (
    AllowanceExceeded,
    AlreadyDone,
    AlreadyExists,
    CampaignNotEnded,
    Forbidden,
    Invalid,
    MemberForgotten,
    NotActive,
    NotFound,
    NotOnTeam,
    OutsideWindow,
    PairLimitReached,
    RetiredValue,
    SlotTaken,
)
from tests.unit.slices import NOW, Slice, event


def days(n: float) -> timedelta:
    return timedelta(days=n)


# -- given: the usual company ------------------------------------------------------------


def member(member_id: str, team: str = "sales", joined_days_ago: int = 100) -> AddMember:
    return AddMember(
        member_id=member_id,
        display_name=member_id.title(),
        team=team,
        joined_at=NOW - days(joined_days_ago),
    )


def mission(
    mission_id: str = "follow-up",
    values: list[str] | None = None,
    points: int = 10,
    cadence: str = "daily",
    **kw: Any,
) -> PublishMission:
    return PublishMission(
        mission_id=mission_id,
        title=mission_id,
        values=values or ["customer-focus"],
        points=points,
        cadence=cadence,
        **kw,
    )


def campaign(
    campaign_id: str,
    values: list[str],
    multiplier: float = 2.0,
    start: float = -5,
    end: float = 5,
    winners: int = 2,
) -> LaunchCampaign:
    return LaunchCampaign(
        campaign_id=campaign_id,
        name=campaign_id,
        starts_at=NOW + days(start),
        ends_at=NOW + days(end),
        values=values,
        multiplier=multiplier,
        winners=winners,
    )


def complete(
    mission_id: str = "follow-up", member_id: str = "ana", at: datetime | None = None
) -> CompleteMission:
    return CompleteMission(mission_id=mission_id, member_id=member_id, occurred_at=at)


def recognize(
    points: int = 10,
    frm: str = "ana",
    to: str = "bo",
    value: str = "ownership",
    at: datetime | None = None,
) -> GiveRecognition:
    return GiveRecognition(
        from_member=frm, to_member=to, value=value, points=points, occurred_at=at
    )


def acme(timezone: str = "UTC") -> Slice:
    """Three values, ana and bo in sales, cy in support, a daily 10-point mission."""
    return (
        Slice()
        .given(CreateTenant(tenant_id="acme", name="Acme", timezone=timezone))
        .given(
            DefineValue(key="customer-focus", name="Customer Focus"),
            DefineValue(key="ownership", name="Ownership"),
            DefineValue(key="innovation", name="Innovation"),
            member("ana"),
            member("bo"),
            member("cy", team="support"),
            mission(),
        )
    )


# -- missions and completions ------------------------------------------------------------


def test_completion_counts_at_once_with_an_award_and_its_rule_inputs() -> None:
    s = acme().when(complete())
    _, recorded, award = s.then(
        SlotClaimed,
        event(CompletionRecorded, member_id="ana", status="counted", points=10),
        event(
            PointsAwarded,
            member_id="ana",
            points=10,
            kind="completion",
            occurred_at=NOW,
            values=["customer-focus"],
            rule={
                "name": "mission-completion",
                "version": 1,
                "inputs": {
                    "mission_points": 10,
                    "multiplier": 1.0,
                    "campaign_id": None,
                    "period": "2026-06-10",
                },
            },
            command={"key_label": "chatbot"},
        ),
    )
    assert isinstance(recorded, CompletionRecorded) and isinstance(award, PointsAwarded)
    assert award.cause_event_id == str(recorded.event_id)
    assert award.source == {"type": "completion", "id": str(recorded.completion_id)}
    assert s.result == {
        "completion_id": str(recorded.completion_id),
        "status": "counted",
        "points": 10,
    }


def test_completion_of_a_mission_requiring_verification_is_pending_without_award() -> None:
    (
        acme()
        .given(mission("demo-call", points=30, requires_verification=True))
        .when(complete("demo-call"))
        .then(SlotClaimed, event(CompletionRecorded, status="pending", points=30))
    )


def test_second_completion_in_the_same_day_is_slot_taken() -> None:
    (
        acme()
        .given(complete(at=NOW - timedelta(hours=3)))
        .when(complete())
        .then_refused(SlotTaken, field="occurred_at")
    )


def test_daily_mission_again_the_next_day_and_by_another_member() -> None:
    s = acme().given(complete(at=NOW - days(1)))
    s.when(complete()).then(SlotClaimed, CompletionRecorded, PointsAwarded)
    s.when(complete(member_id="bo")).then(SlotClaimed, CompletionRecorded, PointsAwarded)


def test_daily_period_is_the_tenants_local_day() -> None:
    # 9 June 22:30 UTC is already 10 June 00:30 in Berlin: the same local day as NOW.
    (
        acme("Europe/Berlin")
        .given(complete(at=datetime(2026, 6, 9, 22, 30, tzinfo=UTC)))
        .when(complete())
        .then_refused(SlotTaken)
    )


def test_weekly_mission_once_per_iso_week() -> None:
    # NOW is Wednesday 10 June; Monday 8 June is the same ISO week, Sunday 7 June is not.
    s = acme().given(
        mission("weekly-demo", cadence="weekly"), complete("weekly-demo", at=NOW - days(2))
    )
    s.when(complete("weekly-demo")).then_refused(SlotTaken)
    s.when(complete("weekly-demo", at=NOW - days(3))).then(
        SlotClaimed,
        event(CompletionRecorded, rule={"inputs": {"period": "W2026-06-01"}}),
        PointsAwarded,
    )


def test_once_mission_only_once_ever() -> None:
    s = acme().given(
        mission("onboarding", cadence="once"), complete("onboarding", at=NOW - days(10))
    )
    s.when(complete("onboarding")).then_refused(SlotTaken)
    s.when(complete("onboarding", member_id="bo")).then(
        SlotClaimed, CompletionRecorded, PointsAwarded
    )


@pytest.mark.parametrize(
    ("occurred", "accepted"),
    [
        (NOW, False),  # after the window
        (NOW - days(4), False),  # before it
        (NOW - days(1), False),  # ends_at is exclusive
        (NOW - days(3), True),  # starts_at is inclusive
    ],
)
def test_occurred_at_must_lie_in_the_mission_window(occurred: datetime, accepted: bool) -> None:
    s = (
        acme()
        .given(mission("spring", starts_at=NOW - days(3), ends_at=NOW - days(1)))
        .when(complete("spring", at=occurred))
    )
    if accepted:
        s.then(SlotClaimed, CompletionRecorded, PointsAwarded)
    else:
        s.then_refused(OutsideWindow)


def test_member_must_be_in_the_missions_teams() -> None:
    s = acme().given(mission("support-only", teams=["support"]))
    s.when(complete("support-only", member_id="ana")).then_refused(NotOnTeam)
    s.when(complete("support-only", member_id="cy")).then(
        SlotClaimed, CompletionRecorded, PointsAwarded
    )


def test_team_is_judged_at_occurred_at_after_a_backdated_move() -> None:
    s = acme().given(
        mission("support-only", teams=["support"]),
        MoveMember(member_id="ana", team="support", effective_from=NOW - days(2)),
    )
    s.when(complete("support-only", at=NOW - days(3))).then_refused(NotOnTeam)
    s.when(complete("support-only")).then(SlotClaimed, CompletionRecorded, PointsAwarded)


def test_archived_mission_is_refused() -> None:
    (
        acme()
        .given(ArchiveMission(mission_id="follow-up"))
        .when(complete())
        .then_refused(AlreadyDone, field="mission_id")
    )


def test_departed_or_not_yet_joined_member_is_not_active() -> None:
    s = acme().given(
        member("newbie", joined_days_ago=1),
        RecordDeparture(member_id="bo", effective_from=NOW - days(1)),
    )
    s.when(complete(member_id="newbie", at=NOW - days(2))).then_refused(NotActive)
    s.when(complete(member_id="bo")).then_refused(NotActive)
    # Before the departure took effect bo was active.
    s.when(complete(member_id="bo", at=NOW - days(2))).then(
        SlotClaimed, CompletionRecorded, PointsAwarded
    )


def test_retiring_a_value_does_not_stop_completions_of_existing_missions() -> None:
    (
        acme()
        .given(RetireValue(key="customer-focus"))
        .when(complete())
        .then(SlotClaimed, CompletionRecorded, PointsAwarded)
    )


@pytest.mark.parametrize(
    ("occurred", "refusal"),
    [(NOW - days(15), Invalid), (NOW + timedelta(minutes=6), Invalid)],
)
def test_occurred_at_beyond_backdate_days_or_the_future_tolerance_is_invalid(
    occurred: datetime, refusal: type[Invalid]
) -> None:
    acme().when(complete(at=occurred)).then_refused(refusal, field="occurred_at")


def test_unknown_mission_is_not_found_and_unknown_member_is_invalid() -> None:
    s = acme()
    s.when(complete("nope")).then_refused(NotFound)
    s.when(complete(member_id="ghost")).then_refused(Invalid, field="member_id")


# -- campaign multipliers on completions ------------------------------------------------


def test_campaign_multiplier_rounds_half_up_and_names_the_campaign() -> None:
    (
        acme()
        .given(mission("odd", ["ownership"], points=5), campaign("push", ["ownership"], 1.5))
        .when(complete("odd"))
        .then(
            SlotClaimed,
            event(CompletionRecorded, points=8),  # 7.5 -> 8
            event(
                PointsAwarded,
                points=8,
                rule={"inputs": {"mission_points": 5, "multiplier": 1.5, "campaign_id": "push"}},
            ),
        )
    )


def test_largest_multiplier_of_active_matching_campaigns_wins_without_stacking() -> None:
    (
        acme()
        .given(
            campaign("a", ["customer-focus"], 1.5),
            campaign("b", ["customer-focus", "ownership"], 2.0),
            campaign("c", ["innovation"], 5.0),  # no shared value
            campaign("d", ["customer-focus"], 4.0, start=1, end=5),  # not active yet
        )
        .when(complete())
        .then(
            SlotClaimed,
            event(CompletionRecorded, points=20),
            event(
                PointsAwarded, points=20, rule={"inputs": {"multiplier": 2.0, "campaign_id": "b"}}
            ),
        )
    )


def test_rounding_half_up_is_exact_for_decimal_multipliers() -> None:
    (
        acme()
        .given(mission("big", ["ownership"], points=50), campaign("push", ["ownership"], 1.13))
        .when(complete("big"))
        .then(SlotClaimed, event(CompletionRecorded, points=57), event(PointsAwarded, points=57))
    )


# -- verification ------------------------------------------------------------------------


def pending_demo_call(occurred: datetime | None = None) -> Slice:
    return acme().given(
        mission("demo-call", points=30, requires_verification=True),
        complete("demo-call", at=occurred or NOW - days(1)),
    )


def test_approval_awards_the_recorded_points_at_the_completions_occurred_at() -> None:
    s = pending_demo_call()
    completion_id = s.last(CompletionRecorded).completion_id
    s.when(
        VerifyCompletion(completion_id=completion_id, decision="approve"), at=NOW + days(1)
    ).then(
        event(CompletionApproved, decided_by="manager-key"),
        event(
            PointsAwarded,
            member_id="ana",
            points=30,
            occurred_at=NOW - days(1),
            source={"type": "completion", "id": str(completion_id)},
        ),
    )


def test_a_campaign_launched_after_the_completion_does_not_change_its_approved_points() -> None:
    s = pending_demo_call().given(campaign("late", ["customer-focus"], 3.0))
    completion_id = s.last(CompletionRecorded).completion_id
    s.when(VerifyCompletion(completion_id=completion_id, decision="approve")).then(
        CompletionApproved, event(PointsAwarded, points=30)
    )


def test_rejection_never_awards_and_frees_the_period_slot() -> None:
    s = pending_demo_call(NOW)
    completion_id = s.last(CompletionRecorded).completion_id
    s.when(complete("demo-call")).then_refused(SlotTaken)
    s.when(
        VerifyCompletion(completion_id=completion_id, decision="reject", reason="no evidence")
    ).then(
        event(CompletionRejected, reason="no evidence"),
        event(SlotReleased, completion_id=completion_id),
    )
    s.when(complete("demo-call")).then(SlotClaimed, event(CompletionRecorded, status="pending"))


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_deciding_a_completion_twice_is_already_done(second: str) -> None:
    s = pending_demo_call()
    completion_id = s.last(CompletionRecorded).completion_id
    s.given(VerifyCompletion(completion_id=completion_id, decision="approve"))
    again = VerifyCompletion.model_validate({"completion_id": completion_id, "decision": second})
    s.when(again).then_refused(AlreadyDone)


def test_a_counted_completion_cannot_be_decided() -> None:
    s = acme().given(complete())
    completion_id = s.last(CompletionRecorded).completion_id
    s.when(VerifyCompletion(completion_id=completion_id, decision="approve")).then_refused(
        AlreadyDone
    )


def test_only_managers_and_admins_verify_and_the_member_need_not_be_active() -> None:
    s = pending_demo_call(NOW - days(2)).given(
        RecordDeparture(member_id="ana", effective_from=NOW - days(1))
    )
    completion_id = s.last(CompletionRecorded).completion_id
    verify = VerifyCompletion(completion_id=completion_id, decision="approve")
    s.when(verify, role="service").then_refused(Forbidden)
    s.when(verify, role="admin").then(
        event(CompletionApproved, decided_by="admin-key"), PointsAwarded
    )


def test_unknown_completion_is_not_found() -> None:
    acme().when(VerifyCompletion(completion_id=uuid.uuid4(), decision="approve")).then_refused(
        NotFound
    )


# -- recognitions ------------------------------------------------------------------------


def test_recognition_awards_the_recipient_exactly_its_points_never_multiplied() -> None:
    s = acme().given(campaign("push", ["ownership"], 3.0))
    *_, given, award = s.when(recognize(7)).then(
        event(AllowanceSpent, points=7),
        PairRecognitionCounted,
        event(RecognitionGiven, from_member="ana", to_member="bo", value="ownership", points=7),
        event(
            PointsAwarded,
            member_id="bo",
            points=7,
            kind="recognition",
            values=["ownership"],
            rule={"name": "peer-recognition", "inputs": {"points": 7, "from_member": "ana"}},
        ),
    )
    assert isinstance(given, RecognitionGiven) and isinstance(award, PointsAwarded)
    assert award.source == {"type": "recognition", "id": str(given.recognition_id)}


def test_monthly_allowance_may_be_reached_but_not_passed() -> None:
    s = acme().given(recognize(50, to="bo"), recognize(40, to="cy"))
    s.when(recognize(11, to="cy")).then_refused(AllowanceExceeded, field="points")
    s.when(recognize(10, to="cy")).then(
        AllowanceSpent, PairRecognitionCounted, RecognitionGiven, PointsAwarded
    )


def test_allowance_is_per_local_calendar_month_of_occurred_at() -> None:
    # 13 days before 10 June is 28 May: another month, another allowance.
    (
        acme()
        .given(recognize(50, at=NOW - days(13)), recognize(50, to="cy", at=NOW - days(13)))
        .when(recognize(50))
        .then(AllowanceSpent, PairRecognitionCounted, RecognitionGiven, PointsAwarded)
    )


def test_pair_limit_per_iso_week() -> None:
    s = acme().given(recognize(1), recognize(1))
    s.when(recognize(1)).then_refused(PairLimitReached, field="to_member")
    s.when(recognize(1, to="cy")).then(
        AllowanceSpent, PairRecognitionCounted, RecognitionGiven, PointsAwarded
    )
    s.when(recognize(1, frm="bo", to="ana")).then(
        AllowanceSpent, PairRecognitionCounted, RecognitionGiven, PointsAwarded
    )
    # Last week is another week.
    s.when(recognize(1, at=NOW - days(7))).then(
        AllowanceSpent, PairRecognitionCounted, RecognitionGiven, PointsAwarded
    )


def test_a_reversed_recognition_still_counts_for_pair_limit_and_allowance() -> None:
    s = acme().given(recognize(50), recognize(40))
    s.given(ReverseAward(award_id=s.last(PointsAwarded).originator_id, reason="gaming"))
    s.when(recognize(5)).then_refused(PairLimitReached)
    s.when(recognize(11, to="cy")).then_refused(AllowanceExceeded)


def test_retired_value_cannot_be_recognized() -> None:
    (
        acme()
        .given(RetireValue(key="ownership"))
        .when(recognize(5))
        .then_refused(RetiredValue, field="value")
    )


def test_points_above_the_tenant_maximum_are_invalid() -> None:
    acme().when(recognize(51)).then_refused(Invalid, field="points")


@pytest.mark.parametrize(
    ("frm", "to", "field"), [("ana", "bo", "to_member"), ("bo", "ana", "from_member")]
)
def test_both_members_must_be_active(frm: str, to: str, field: str) -> None:
    (
        acme()
        .given(RecordDeparture(member_id="bo", effective_from=NOW - days(1)))
        .when(recognize(5, frm=frm, to=to))
        .then_refused(NotActive, field=field)
    )


# -- adjustments -------------------------------------------------------------------------


def test_manager_adjusts_points_with_an_adjustment_award() -> None:
    s = acme().when(AdjustPoints(member_id="ana", points=-15, reason="double entry"))
    adjusted, _ = s.then(
        event(PointsAdjusted, member_id="ana", points=-15, reason="double entry", occurred_at=NOW),
        event(
            PointsAwarded,
            member_id="ana",
            points=-15,
            kind="adjustment",
            values=[],
            rule={"name": "manual-adjustment", "inputs": {"points": -15}},
            command={"key_label": "manager-key"},
        ),
    )
    assert isinstance(adjusted, PointsAdjusted)
    assert s.last(PointsAwarded).source == {"type": "adjustment", "id": str(adjusted.adjustment_id)}


def test_departed_member_can_still_be_adjusted_but_not_by_the_service() -> None:
    s = acme().given(RecordDeparture(member_id="bo", effective_from=NOW - days(30)))
    adjust = AdjustPoints(member_id="bo", points=5, reason="late fix")
    s.when(adjust, role="service").then_refused(Forbidden)
    s.when(adjust).then(PointsAdjusted, event(PointsAwarded, kind="adjustment", points=5))


# -- campaigns and winners ---------------------------------------------------------------


def finished_sprint(winners: int = 2) -> Slice:
    """A customer-focus sprint with multiplier 2 from 10 days to 1 day ago, and its behaviors:
    ana 40 (two completions), bo 40 (a completion and a 20-point recognition),
    cy 20 plus an adjustment and behaviors outside the campaign."""
    return (
        acme()
        .given(
            campaign("sprint", ["customer-focus"], 2.0, start=-10, end=-1, winners=winners),
            at=NOW - days(11),
        )
        .given(
            complete(at=NOW - days(5)),
            complete(at=NOW - days(4)),
            complete(member_id="bo", at=NOW - days(5)),
            recognize(20, frm="cy", to="bo", value="customer-focus", at=NOW - days(3)),
            complete(member_id="cy", at=NOW - days(5)),
            AdjustPoints(member_id="cy", points=500, reason="bonus"),  # adjustments excluded
            recognize(50, frm="ana", to="cy", value="ownership", at=NOW - days(3)),  # other value
            complete(member_id="cy", at=NOW - days(1)),  # ends_at is exclusive
            complete(member_id="cy"),  # after the campaign
        )
    )


def test_winners_cannot_be_declared_before_the_campaign_ended() -> None:
    s = acme().given(campaign("sprint", ["customer-focus"], end=1))
    s.when(DeclareWinners(campaign_id="sprint")).then_refused(CampaignNotEnded)
    # At ends_at it has ended.
    s.when(DeclareWinners(campaign_id="sprint"), at=NOW + days(1)).then(CampaignWinnersDeclared)


def test_winners_are_ranked_from_counted_behaviors_in_the_window_with_the_values() -> None:
    s = finished_sprint(winners=2)
    s.when(DeclareWinners(campaign_id="sprint")).then(
        event(
            CampaignWinnersDeclared,
            campaign_id="sprint",
            winners=[
                {"member_id": "ana", "rank": 1, "points": 40},
                {"member_id": "bo", "rank": 1, "points": 40},
            ],
            computed_through=len(s.history) - 1,
        )
    )
    assert s.result["winners"] == s.last(CampaignWinnersDeclared).winners


def test_ties_at_the_cut_all_win_and_the_rest_rank_by_competition() -> None:
    (
        finished_sprint(winners=1)
        .when(DeclareWinners(campaign_id="sprint"))
        .then(
            event(
                CampaignWinnersDeclared,
                winners=[
                    {"member_id": "ana", "rank": 1, "points": 40},
                    {"member_id": "bo", "rank": 1, "points": 40},
                ],
            )
        )
    )
    (
        finished_sprint(winners=3)
        .when(DeclareWinners(campaign_id="sprint"))
        .then(
            event(
                CampaignWinnersDeclared,
                winners=[
                    {"member_id": "ana", "rank": 1, "points": 40},
                    {"member_id": "bo", "rank": 1, "points": 40},
                    {"member_id": "cy", "rank": 3, "points": 20},
                ],
            )
        )
    )


def test_winners_are_declared_once() -> None:
    s = finished_sprint().given(DeclareWinners(campaign_id="sprint"))
    s.when(DeclareWinners(campaign_id="sprint")).then_refused(AlreadyDone)


def test_a_reversed_award_does_not_count_for_winners_declared_afterwards() -> None:
    s = finished_sprint(winners=1)
    bo_completion = next(a for a in s.all(PointsAwarded) if a.member_id == "bo")
    s.given(ReverseAward(award_id=bo_completion.originator_id, reason="not done"))
    s.when(DeclareWinners(campaign_id="sprint")).then(
        event(CampaignWinnersDeclared, winners=[{"member_id": "ana", "rank": 1, "points": 40}])
    )


def test_campaign_with_a_retired_value_or_a_taken_id_is_refused() -> None:
    s = acme().given(RetireValue(key="innovation"), campaign("push", ["ownership"]))
    s.when(campaign("new", ["innovation"])).then_refused(RetiredValue)
    s.when(campaign("push", ["customer-focus"])).then_refused(AlreadyExists)


def test_unknown_campaign_is_not_found() -> None:
    acme().when(DeclareWinners(campaign_id="nope")).then_refused(NotFound)


# -- reversals ---------------------------------------------------------------------------


def test_admin_reverses_an_award_once() -> None:
    s = acme().given(complete(at=NOW - days(1)))
    award = s.last(PointsAwarded)
    reverse = ReverseAward(award_id=award.originator_id, reason="duplicate")
    s.when(reverse).then(
        event(
            AwardReversed,
            originator_id=award.originator_id,
            member_id="ana",
            points=10,
            award_kind="completion",
            occurred_at=NOW - days(1),
            reason="duplicate",
            command={"key_label": "admin-key"},
        )
    )
    assert s.result == {"award_id": str(award.originator_id), "points": -10, "reversed": True}
    s.when(reverse).then_refused(AlreadyDone, field="award_id")


def test_a_forgotten_members_award_is_reversed_without_recording_the_reason() -> None:
    s = acme().given(complete(at=NOW - days(1)), ForgetMember(member_id="ana"))
    award = s.last(PointsAwarded)
    s.when(ReverseAward(award_id=award.originator_id, reason="gaming")).then(
        event(AwardReversed, member_id="ana", points=10, reason=None)
    )


def test_only_an_admin_reverses() -> None:
    s = acme().given(complete())
    reverse = ReverseAward(award_id=s.last(PointsAwarded).originator_id, reason="x")
    s.when(reverse, role="manager").then_refused(Forbidden)


def test_unknown_award_or_an_id_of_something_else_is_not_found() -> None:
    s = acme().given(complete())
    s.when(ReverseAward(award_id=uuid.uuid4(), reason="x")).then_refused(NotFound)
    completion_id = s.last(CompletionRecorded).completion_id
    s.when(ReverseAward(award_id=completion_id, reason="x")).then_refused(NotFound)


# -- members -----------------------------------------------------------------------------


def forgotten_bo() -> Slice:
    return acme().given(ForgetMember(member_id="bo"))


def test_forgetting_is_recorded_once() -> None:
    s = acme()
    s.when(ForgetMember(member_id="bo")).then(event(MemberForgottenEvent, member_id="bo"))
    s.when(ForgetMember(member_id="bo")).then_refused(AlreadyDone)


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (complete(member_id="bo"), "member_id"),
        (recognize(5, frm="ana", to="bo"), "to_member"),
        (recognize(5, frm="bo", to="ana"), "from_member"),
        (AdjustPoints(member_id="bo", points=5, reason="x"), "member_id"),
    ],
)
def test_a_forgotten_member_can_neither_act_nor_receive(command: Any, field: str) -> None:
    forgotten_bo().when(command).then_refused(MemberForgotten, field=field)


def test_a_member_id_is_taken_once() -> None:
    acme().when(member("ana", team="support")).then_refused(AlreadyExists, field="member_id")
