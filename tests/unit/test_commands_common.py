"""Roles, refusal precedence and idempotency: what every command shares."""

from __future__ import annotations

import pytest

from ledger.commands.adjustments import AdjustPoints
from ledger.commands.completions import CompleteMission
from ledger.commands.missions import PublishMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.strategy import DefineValue
from ledger.commands.tenancy import CreateTenant, IssueApiKey
from ledger.errors import IdempotencyKeyReused, LedgerError, Unauthenticated
from tests.support import World, days, refused


@pytest.mark.parametrize("role", ["manager", "service", "analyst"])
def test_only_admins_configure(world: World, role: str) -> None:
    caller = getattr(world, role)
    refused(world, DefineValue(key="speed", name="Speed"), 403, caller)
    refused(
        world,
        PublishMission(mission_id="m", title="t", values=["ownership"], points=1, cadence="once"),
        403,
        caller,
    )


def test_analysts_send_no_command(world: World) -> None:
    refused(world, CompleteMission(mission_id="follow-up", member_id="ana"), 403, world.analyst)
    refused(
        world,
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=1),
        403,
        world.analyst,
    )
    refused(world, AdjustPoints(member_id="ana", points=1, reason="x"), 403, world.analyst)


def test_forbidden_comes_before_not_found(world: World) -> None:
    refused(world, CompleteMission(mission_id="nope", member_id="ghost"), 403, world.analyst)


def test_not_found_comes_before_invalid_and_invalid_before_conflict(world: World) -> None:
    # Unknown mission (404) and unknown member (422): 404 wins.
    refused(world, CompleteMission(mission_id="nope", member_id="ghost"), 404, world.service)
    # Archived-style conflict and out-of-window occurred_at: 422 wins over 409.
    world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
    refused(
        world,
        CompleteMission(
            mission_id="follow-up", member_id="ana", occurred_at=world.clock.now() + days(1)
        ),
        422,
        world.service,
    )


def test_api_keys_are_stored_as_hashes_and_authenticate(world: World) -> None:
    issued = world.run(IssueApiKey(role="service", label="slack bot"))
    raw = b"".join(n.state for n in world.ledger.store.select(0, 10_000))
    assert issued["key"].encode() not in raw
    caller = world.ledger.authenticate(issued["key"])
    assert (caller.tenant_id, caller.role, caller.key_label) == ("acme", "service", "slack bot")
    with pytest.raises(Unauthenticated):
        world.ledger.authenticate("lk_wrong")


def test_tenant_creation_returns_an_admin_key_and_duplicates_conflict(world: World) -> None:
    from ledger.commands.base import Caller

    operator = Caller("", "operator", "operator")
    created = world.run(
        CreateTenant(tenant_id="initech", name="Initech", timezone="Europe/Stockholm"), operator
    )
    assert world.ledger.authenticate(created["admin_key"]).tenant_id == "initech"
    assert world.ledger.tenant("initech").settings.timezone == "Europe/Stockholm"
    refused(world, CreateTenant(tenant_id="initech", name="Again"), 409, operator)
    refused(world, CreateTenant(tenant_id="other", name="x"), 403, world.admin)


def test_unknown_timezone_is_invalid() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        CreateTenant(tenant_id="x", name="x", settings={"timezone": "Mars/Olympus"})


def test_same_idempotency_key_and_body_returns_first_response_and_records_nothing(
    world: World,
) -> None:
    cmd = GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5)
    first = world.run(cmd, world.service, idempotency_key="abc")
    after_first = world.position()
    again = world.run(cmd, world.service, idempotency_key="abc")
    assert again == first
    assert world.position() == after_first


def test_idempotent_refusal_is_replayed(world: World) -> None:
    cmd = CompleteMission(mission_id="follow-up", member_id="ghost")
    with pytest.raises(LedgerError) as first:
        world.run(cmd, world.service, idempotency_key="k")
    world.member("ghost")  # now the command would succeed
    with pytest.raises(LedgerError) as again:
        world.run(cmd, world.service, idempotency_key="k")
    assert (type(again.value), again.value.detail) == (type(first.value), first.value.detail)


def test_same_key_with_a_different_body_is_422(world: World) -> None:
    world.run(
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
        world.service,
        idempotency_key="abc",
    )
    before = world.position()
    with pytest.raises(IdempotencyKeyReused):
        world.run(
            GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=6),
            world.service,
            idempotency_key="abc",
        )
    assert world.position() == before


def test_idempotency_key_expires_after_24_hours(world: World) -> None:
    cmd = AdjustPoints(member_id="ana", points=5, reason="x")
    first = world.run(cmd, world.manager, idempotency_key="day")
    world.clock.advance(days(1))
    second = world.run(cmd, world.manager, idempotency_key="day")
    assert second["adjustment_id"] != first["adjustment_id"]


def test_idempotency_keys_are_per_tenant(world: World) -> None:
    other = World(world.ledger, world.clock, tenant_id="globex").standard()
    a = world.run(
        AdjustPoints(member_id="ana", points=5, reason="x"), world.manager, idempotency_key="same"
    )
    b = other.run(
        AdjustPoints(member_id="ana", points=5, reason="x"), other.manager, idempotency_key="same"
    )
    assert a["adjustment_id"] != b["adjustment_id"]
