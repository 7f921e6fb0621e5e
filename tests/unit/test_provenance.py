"""Every award records its rule in one typed shape, whichever rule granted it."""

from __future__ import annotations

from ledger.aggregates.award import PointsAwarded
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.completions import CompleteMission
from ledger.commands.provenance import (
    MANUAL_ADJUSTMENT,
    MISSION_COMPLETION,
    PEER_RECOGNITION,
    Rule,
)
from ledger.commands.recognitions import GiveRecognition
from tests.support import World


def test_each_rule_records_a_typed_rule_with_its_inputs(world: World) -> None:
    before = world.position()
    world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
    world.run(
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=3),
        world.service,
    )
    world.run(AdjustPoints(member_id="cy", points=-2, reason="typo"), world.manager)
    awards = [e for e in world.events_after(before) if isinstance(e, PointsAwarded)]
    rules = [Rule.model_validate(a.rule) for a in awards]
    assert [(r.name, r.version) for r in rules] == [
        MISSION_COMPLETION,
        PEER_RECOGNITION,
        MANUAL_ADJUSTMENT,
    ]
    assert rules[0].inputs["mission_points"] == awards[0].points
    assert rules[1].inputs == {"points": 3, "from_member": "ana"}
    # The reason is the member's personal text: recorded sealed, never in clear.
    assert str(rules[2].inputs["reason"]).startswith("pd1:")
    assert all(a.command["command_id"] and a.cause_event_id for a in awards)
