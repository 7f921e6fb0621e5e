"""Members: joining, effective-dated team moves, departure, forgetting."""

from __future__ import annotations

from ledger.aggregates.member import Member
from ledger.clock import as_utc
from ledger.commands.base import (
    Command,
    Decision,
    Email,
    MemberId,
    Moment,
    TeamKey,
    Title,
)
from ledger.commands.context import Context


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


def add_member(cmd: AddMember, ctx: Context) -> Decision:
    inv = ctx.invocation
    member = ctx.load_or_blank(Member, cmd.member_id)
    joined_at = as_utc(cmd.joined_at) if cmd.joined_at else inv.received_at
    if not member.exists:
        # A member forgotten before and re-added would find no key: encrypt() makes one.
        name = ctx.encrypt(cmd.member_id, cmd.display_name)
        email = ctx.encrypt(cmd.member_id, cmd.email)
    else:
        name = email = None
    member.join(cmd.member_id, name, email, cmd.team, joined_at)
    return Decision(
        [member], {"member_id": cmd.member_id, "team": cmd.team, "joined_at": joined_at.isoformat()}
    )


def move_member(cmd: MoveMember, ctx: Context) -> Decision:
    member = ctx.member_in_path(cmd.member_id)
    member.move(cmd.team, as_utc(cmd.effective_from))
    return Decision(
        [member],
        {
            "member_id": cmd.member_id,
            "team": cmd.team,
            "effective_from": as_utc(cmd.effective_from).isoformat(),
        },
    )


def record_departure(cmd: RecordDeparture, ctx: Context) -> Decision:
    member = ctx.member_in_path(cmd.member_id)
    member.depart(as_utc(cmd.effective_from))
    return Decision(
        [member],
        {"member_id": cmd.member_id, "effective_from": as_utc(cmd.effective_from).isoformat()},
    )


def forget_member(cmd: ForgetMember, ctx: Context) -> Decision:
    member = ctx.member_in_path(cmd.member_id)
    member.forget()
    # Destroy the key before the event is saved: if the save fails the data is still gone,
    # which is the safe direction for a deletion request.
    ctx.forget(cmd.member_id)
    return Decision([member], {"member_id": cmd.member_id, "forgotten": True})
