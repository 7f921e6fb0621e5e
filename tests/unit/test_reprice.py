"""Re-pricing a window under a lever (RULES.md "Recalibration": re-deciding follows the
rules as they are), given recorded commands, when a change is laid over them, then
exactly these awards change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ledger.audit.positioned import Streams
from ledger.audit.reprice import Change, commands_of, reprice
from ledger.commands.campaigns import LaunchCampaign
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.recognitions import GiveRecognition
from tests.support import World, days


@pytest.fixture
def w(world: World) -> World:
    world.mission("demo", ["customer-focus"], points=25, requires_verification=True)
    world.mission("retro", ["ownership"], points=20, cadence="weekly")
    return world


def complete(w: World, mission: str, member: str = "ana", **kw: Any) -> dict[str, Any]:
    return w.run(CompleteMission(mission_id=mission, member_id=member, **kw), w.service)


def awarded(w: World) -> dict[str, dict[str, Any]]:
    """award id -> (position, points) of every award recorded."""
    found = {}
    for n in w.ledger.store.select(0, 100_000):
        if n.topic.endswith(":PointsAwarded"):
            event = w.ledger.store.mapper.to_domain_event(n)
            found[str(n.originator_id)] = {"position": n.id, "points": event.points}  # type: ignore[attr-defined]
    return found


def lever(w: World, change: dict[str, Any]) -> dict[str, int]:
    """award id -> the points the change gives instead (changed awards only)."""
    store = w.ledger.store
    streams = Streams(store)
    positions = [a["position"] for a in awarded(w).values()]
    repricing = reprice(
        store,
        w.tenant_id,
        Change.model_validate(change),
        commands_of(store, positions, streams),
        streams,
    )
    return {award_id: patch["points"] for award_id, patch in repricing.patches.items()}


def campaign(
    w: World, values: list[str], multiplier: float, start: Any, end: Any
) -> dict[str, Any]:
    return {
        "new_campaigns": [
            {
                "values": values,
                "starts_at": start.isoformat(),
                "ends_at": end.isoformat(),
                "multiplier": multiplier,
            }
        ]
    }


def test_a_campaign_lever_reprices_the_completions_of_its_value_in_its_window(w: World) -> None:
    now = w.clock.now()
    complete(w, "follow-up", occurred_at=now - days(3))  # customer-focus, before the lever
    inside = complete(w, "follow-up", member="bo", occurred_at=now - days(1))
    complete(w, "retro", member="cy")  # ownership: the lever is not on it
    w.run(
        GiveRecognition(from_member="ana", to_member="bo", value="customer-focus", points=7),
        w.service,
    )
    before = awarded(w)
    changed = lever(w, campaign(w, ["customer-focus"], 1.5, now - days(2), now + days(1)))
    (award_id,) = changed
    assert changed[award_id] == 15 and before[award_id]["points"] == 10
    assert inside["completion_id"]  # bo's completion, inside the window, is the one


def test_multipliers_do_not_stack_the_lever_competes_with_running_campaigns(w: World) -> None:
    now = w.clock.now()
    w.run(
        LaunchCampaign(
            campaign_id="running",
            name="Running",
            starts_at=now - days(5),
            ends_at=now + days(5),
            values=["customer-focus"],
            multiplier=2.0,
            winners=1,
        )
    )
    complete(w, "follow-up")  # 10 x 2.0 = 20
    window = (now - days(1), now + days(1))
    assert lever(w, campaign(w, ["customer-focus"], 1.5, *window)) == {}  # 2.0 still wins
    (points,) = lever(w, campaign(w, ["customer-focus"], 3.0, *window)).values()
    assert points == 30  # the larger multiplier now: 10 x 3.0, not 10 x 2.0 x 3.0


def test_a_mission_points_lever_is_multiplied_like_any_points(w: World) -> None:
    now = w.clock.now()
    w.run(
        LaunchCampaign(
            campaign_id="running",
            name="Running",
            starts_at=now - days(5),
            ends_at=now + days(5),
            values=["ownership"],
            multiplier=2.0,
            winners=1,
        )
    )
    complete(w, "retro")  # 20 x 2.0 = 40
    complete(w, "follow-up")  # not this mission
    (points,) = lever(w, {"missions": {"retro": {"points": 30}}}).values()
    assert points == 60  # 30 x 2.0


def test_an_approval_awards_what_its_completion_is_repriced_at(w: World) -> None:
    now = w.clock.now()
    pending = complete(w, "demo")  # 25, pending
    w.clock.advance(timedelta(hours=2))
    w.run(VerifyCompletion(completion_id=pending["completion_id"], decision="approve"), w.manager)
    (points,) = lever(
        w, campaign(w, ["customer-focus"], 2.0, now - days(1), now + days(1))
    ).values()
    assert points == 50


def test_recognitions_are_never_multiplied(w: World) -> None:
    now = w.clock.now()
    w.run(
        GiveRecognition(from_member="ana", to_member="bo", value="customer-focus", points=7),
        w.service,
    )
    assert lever(w, campaign(w, ["customer-focus"], 5.0, now - days(1), now + days(1))) == {}
