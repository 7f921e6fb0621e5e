"""Reversing an award (RULES.md "Reversals"): a compensating event, never a deletion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ledger.aggregates.award import Award, AwardReversed
from ledger.aggregates.member import Member
from ledger.commands.base import Command, Decision, Reason
from ledger.commands.context import Context
from ledger.errors import NotFound
from ledger.events import LedgerEvent


class ReverseAward(Command):
    award_id: uuid.UUID
    reason: Reason

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> ReverseAward | None:
        for e in events:
            if isinstance(e, AwardReversed):
                return cls.model_construct(award_id=e.originator_id, reason=e.reason or "")
        return None


def reverse_award(cmd: ReverseAward, ctx: Context) -> Decision:
    award = ctx.load_by_id(Award, cmd.award_id)
    if award is None or not award.granted:
        raise NotFound(f"no award {cmd.award_id}")
    # The reason is free text about the member: encrypted with their key, shredded with
    # it. A forgotten member's award can still be reversed ("any award", RULES.md), but
    # nothing new about them is recorded: the reason is then left out (ADR 0009).
    member = ctx.load(Member, award.member_id)
    forgotten = member is not None and member.forgotten
    reason = None if forgotten else ctx.encrypt(award.member_id, cmd.reason)
    reversed_ = award.reverse(reason, ctx.invocation.provenance())
    return Decision(
        [award],
        {"award_id": str(cmd.award_id), "points": -reversed_.points, "reversed": True},
    )
