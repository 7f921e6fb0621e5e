"""Members: joining, effective-dated team moves, departure, forgetting."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from ledger import ids
from ledger.aggregates.member import Member
from ledger.clock import as_utc
from ledger.commands.base import (
    ADMIN,
    Command,
    Decision,
    Invocation,
    MemberId,
    Moment,
    TeamKey,
    Title,
    handles,
)

if TYPE_CHECKING:
    from ledger.service import Ledger

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}$")]


class AddMember(Command):
    member_id: MemberId
    display_name: Title
    email: Email | None = None
    team: TeamKey
    joined_at: Moment | None = None


class MoveMember(Command):
    member_id: MemberId
    team: TeamKey
    effective_from: Moment


class RecordDeparture(Command):
    member_id: MemberId
    effective_from: Moment


class ForgetMember(Command):
    accepted_status = 200
    member_id: MemberId


@handles(AddMember, roles=ADMIN)
def add_member(ledger: Ledger, cmd: AddMember, inv: Invocation) -> Decision:
    tenant_id = inv.tenant_id
    member = ledger.store.load_or_blank(
        Member, ids.aggregate_id(tenant_id, "member", cmd.member_id), tenant_id
    )
    joined_at = as_utc(cmd.joined_at) if cmd.joined_at else inv.received_at
    if not member.exists:
        # A member forgotten before and re-added would find no key: encrypt() makes one.
        name = ledger.personal.encrypt(tenant_id, cmd.member_id, cmd.display_name)
        email = ledger.personal.encrypt(tenant_id, cmd.member_id, cmd.email)
    else:
        name = email = None
    member.join(cmd.member_id, name, email, cmd.team, joined_at)
    return Decision(
        [member], {"member_id": cmd.member_id, "team": cmd.team, "joined_at": joined_at.isoformat()}
    )


@handles(MoveMember, roles=ADMIN)
def move_member(ledger: Ledger, cmd: MoveMember, inv: Invocation) -> Decision:
    member = ledger.member_in_path(inv.tenant_id, cmd.member_id)
    member.move(cmd.team, as_utc(cmd.effective_from))
    return Decision(
        [member],
        {
            "member_id": cmd.member_id,
            "team": cmd.team,
            "effective_from": as_utc(cmd.effective_from).isoformat(),
        },
    )


@handles(RecordDeparture, roles=ADMIN)
def record_departure(ledger: Ledger, cmd: RecordDeparture, inv: Invocation) -> Decision:
    member = ledger.member_in_path(inv.tenant_id, cmd.member_id)
    member.depart(as_utc(cmd.effective_from))
    return Decision(
        [member],
        {"member_id": cmd.member_id, "effective_from": as_utc(cmd.effective_from).isoformat()},
    )


@handles(ForgetMember, roles=ADMIN)
def forget_member(ledger: Ledger, cmd: ForgetMember, inv: Invocation) -> Decision:
    member = ledger.member_in_path(inv.tenant_id, cmd.member_id)
    member.forget()
    # Destroy the key before the event is saved: if the save fails the data is still gone,
    # which is the safe direction for a deletion request.
    ledger.personal.forget(inv.tenant_id, cmd.member_id)
    return Decision([member], {"member_id": cmd.member_id, "forgotten": True})
