"""Peer recognitions: allowance per giver and month, pair limit per ISO week."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import Field, ValidationInfo, field_validator

from ledger.aggregates.allowance import Allowance
from ledger.aggregates.pair_counter import PairCounter
from ledger.aggregates.recognition import Recognition, RecognitionGiven
from ledger.commands.base import (
    Command,
    Decision,
    MemberId,
    Moment,
    Note,
    ValueKey,
    check_occurred_at,
)
from ledger.commands.context import Context
from ledger.commands.provenance import PEER_RECOGNITION, grant_award, rule
from ledger.errors import Invalid, NotActive
from ledger.events import LedgerEvent
from ledger.periods import month_key, week_key

Message = Note


class GiveRecognition(Command):
    scored = True
    from_member: MemberId
    to_member: MemberId
    value: ValueKey
    points: int = Field(ge=1)
    message: Message | None = None
    occurred_at: Moment | None = None

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> GiveRecognition | None:
        for e in events:
            if isinstance(e, RecognitionGiven):
                return cls.model_construct(
                    from_member=e.from_member,
                    to_member=e.to_member,
                    value=e.value,
                    points=e.points,
                    message=e.message,
                    occurred_at=e.occurred_at,
                )
        return None

    @field_validator("to_member")
    @classmethod
    def _not_to_self(cls, to_member: str, info: ValidationInfo) -> str:
        # On the field, so the refusal names it (`to_member`), as a model check would not.
        if to_member == info.data.get("from_member"):
            raise ValueError("a member cannot recognize themselves")
        return to_member


def give_recognition(cmd: GiveRecognition, ctx: Context) -> Decision:
    inv = ctx.invocation
    tenant = ctx.tenant()
    settings = tenant.settings
    giver = ctx.member_in_body(cmd.from_member, "from_member")
    recipient = ctx.member_in_body(cmd.to_member, "to_member")
    strategy = ctx.strategy()
    strategy.check_known([cmd.value], "value")
    if cmd.points > settings.max_recognition_points:
        raise Invalid(f"points must be at most {settings.max_recognition_points}", field="points")
    occurred_at = check_occurred_at(cmd.occurred_at, settings, inv.received_at)
    strategy.check_active([cmd.value], "value")
    if not giver.is_active_at(occurred_at):
        raise NotActive("the giver is not active at occurred_at", field="from_member")
    if not recipient.is_active_at(occurred_at):
        raise NotActive("the recipient is not active at occurred_at", field="to_member")

    recognition_id = uuid.uuid4()
    tz = settings.timezone
    allowance = ctx.load_or_blank(Allowance, cmd.from_member, month_key(occurred_at, tz))
    allowance.spend(recognition_id, cmd.points, settings.monthly_allowance)
    week = week_key(occurred_at, tz)
    pair = ctx.load_or_blank(PairCounter, cmd.from_member, cmd.to_member, week)
    pair.count_one(recognition_id, settings.max_recognitions_per_pair_per_week)

    recognition = Recognition(recognition_id, inv.tenant_id)
    given = recognition.give(
        recognition_id=recognition_id,
        from_member=cmd.from_member,
        to_member=cmd.to_member,
        value=cmd.value,
        points=cmd.points,
        occurred_at=occurred_at,
        # The message is about the recipient and shown on their profile: their key.
        message=ctx.encrypt(cmd.to_member, cmd.message),
    )
    award = grant_award(
        inv,
        given.event_id,
        member_id=cmd.to_member,
        points=cmd.points,
        kind="recognition",
        occurred_at=occurred_at,
        values=[cmd.value],
        source_type="recognition",
        source_id=str(recognition_id),
        rule=rule(PEER_RECOGNITION, points=cmd.points, from_member=cmd.from_member),
    )
    return Decision(
        [allowance, pair, recognition, award],
        {"recognition_id": str(recognition_id), "points": cmd.points},
    )
