"""Refusals are named after the rule they enforce; the API maps each kind to one status."""

from __future__ import annotations

import pytest

from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import (
    AllowanceExceeded,
    LedgerError,
    MemberForgotten,
    PairLimitReached,
    SlotTaken,
    _by_code,
)
from ledger.web.problems import STATUS_OF, status_of
from tests.support import World


def test_every_refusal_kind_has_exactly_one_status_and_a_unique_code() -> None:
    kinds = _by_code()
    assert len(kinds) == len({cls.code for cls in kinds.values()})
    for cls in kinds.values():
        if cls is LedgerError:
            continue
        assert sum(issubclass(cls, kind) for kind in STATUS_OF) == 1, cls
    assert status_of(AllowanceExceeded("x")) == 409
    assert status_of(MemberForgotten("x")) == 422


def test_a_second_completion_in_the_period_is_refused_as_slot_taken(world: World) -> None:
    world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
    with pytest.raises(SlotTaken):
        world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)


def test_recognition_limits_are_refused_by_name(world: World) -> None:
    give = GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=1)
    world.run(give, world.service)
    world.run(give, world.service)
    with pytest.raises(PairLimitReached):
        world.run(give, world.service)
    big = GiveRecognition(from_member="bo", to_member="ana", value="ownership", points=50)
    world.run(big, world.service)
    world.run(big, world.service)
    with pytest.raises(AllowanceExceeded):
        world.run(
            GiveRecognition(from_member="bo", to_member="cy", value="ownership", points=50),
            world.service,
        )
