"""Members, teams, departure and forgetting (RULES.md "Members and teams", personal data)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger import ids
from ledger.aggregates.member import Member
from ledger.commands.members import AddMember, ForgetMember, MoveMember, RecordDeparture
from ledger.commands.recognitions import GiveRecognition
from tests.support import World, days, refused


def test_team_at_a_moment_follows_effective_dated_moves(world: World) -> None:
    now = world.clock.now()
    world.run(MoveMember(member_id="ana", team="support", effective_from=now - days(10)))
    world.run(MoveMember(member_id="ana", team="ops", effective_from=now - days(20)))
    ana = world.ledger.member("acme", "ana")
    assert ana is not None
    assert ana.team_at(now - days(30)) == "sales"
    assert ana.team_at(now - days(15)) == "ops"  # a backdated move re-attributes the past
    assert ana.team_at(now) == "support"


def test_two_moves_with_the_same_effective_from_the_later_recorded_wins(world: World) -> None:
    moment = world.clock.now() - days(3)
    world.run(MoveMember(member_id="ana", team="support", effective_from=moment))
    world.run(MoveMember(member_id="ana", team="ops", effective_from=moment))
    ana = world.ledger.member("acme", "ana")
    assert ana is not None and ana.team_at(moment) == "ops"


def test_duplicate_member_is_409_unknown_in_path_is_404(world: World) -> None:
    refused(world, AddMember(member_id="ana", display_name="Ana", team="sales"), 409)
    refused(world, MoveMember(member_id="ghost", team="ops", effective_from=world.clock.now()), 404)
    refused(world, RecordDeparture(member_id="ghost", effective_from=world.clock.now()), 404)
    refused(world, ForgetMember(member_id="ghost"), 404)


def test_member_fields_are_validated() -> None:
    for bad in (
        {"member_id": "has space"},
        {"member_id": "x" * 65},
        {"team": "Sales"},
        {"display_name": ""},
        {"email": "not-an-email"},
    ):
        with pytest.raises(ValidationError):
            AddMember(**{"member_id": "ok", "display_name": "Ok", "team": "sales", **bad})


def test_departed_member_can_neither_act_nor_receive(world: World) -> None:
    world.run(RecordDeparture(member_id="cy", effective_from=world.clock.now() - days(1)))
    refused(
        world,
        GiveRecognition(from_member="cy", to_member="ana", value="ownership", points=5),
        409,
        world.service,
    )
    refused(world, RecordDeparture(member_id="cy", effective_from=world.clock.now()), 409)


def test_personal_data_is_stored_encrypted(world: World) -> None:
    world.run(
        AddMember(member_id="eve", display_name="Eve Secret", email="eve@example.com", team="sales")
    )
    raw = b"".join(n.state for n in world.ledger.store.select(0, 10_000))
    assert b"Eve Secret" not in raw and b"eve@example.com" not in raw
    eve = world.ledger.member("acme", "eve")
    assert eve is not None
    assert world.ledger.personal.decrypt("acme", "eve", eve.display_name) == "Eve Secret"


def test_forgetting_makes_personal_data_unreadable_but_keeps_points(world: World) -> None:
    world.run(
        AddMember(
            member_id="eve",
            display_name="Eve",
            email="eve@example.com",
            team="sales",
            joined_at=world.clock.now() - days(5),
        )
    )
    world.run(
        GiveRecognition(
            from_member="ana",
            to_member="eve",
            value="ownership",
            points=5,
            message="great call, Eve",
        ),
        world.service,
    )
    world.run(ForgetMember(member_id="eve"))
    eve = world.ledger.member("acme", "eve")
    assert eve is not None and eve.forgotten
    personal = world.ledger.personal
    assert personal.decrypt("acme", "eve", eve.display_name) is None
    assert personal.decrypt("acme", "eve", eve.email) is None
    given = next(e for e in world.events_after(0) if type(e).__name__ == "RecognitionGiven")
    assert personal.decrypt("acme", "eve", given.message) is None
    from ledger.history import balance

    assert balance(world.ledger.store, "acme", "eve") == 5
    refused(world, ForgetMember(member_id="eve"), 409)


def test_ciphertext_of_one_member_does_not_open_under_another(world: World) -> None:
    ana = world.ledger.member("acme", "ana")
    assert ana is not None
    assert world.ledger.personal.decrypt("acme", "bo", ana.display_name) is None


def test_ids_never_collide_across_tenants() -> None:
    assert ids.aggregate_id("a", "member", "x") != ids.aggregate_id("b", "member", "x")
    assert ids.aggregate_id("a", "slot", "m", "x") != ids.aggregate_id("a", "slot", "mx")


def test_same_member_id_in_two_tenants_are_two_members(world: World) -> None:
    other = World(world.ledger, world.clock, tenant_id="globex")
    other.member("ana", team="ops")
    mine = world.ledger.store.load(Member, ids.aggregate_id("acme", "member", "ana"))
    theirs = world.ledger.store.load(Member, ids.aggregate_id("globex", "member", "ana"))
    assert mine is not None and theirs is not None
    assert mine.team_at(world.clock.now()) == "sales"
    assert theirs.team_at(world.clock.now()) == "ops"
    assert all(
        e.tenant_id == "globex" for e in other.events_after(0) if e.originator_id == theirs.id
    )
