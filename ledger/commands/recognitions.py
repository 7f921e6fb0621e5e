"""Peer recognitions: allowance per giver and month, pair limit per ISO week."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints, model_validator

from ledger import ids
from ledger.aggregates.allowance import Allowance
from ledger.aggregates.pair_counter import PairCounter
from ledger.aggregates.recognition import Recognition
from ledger.commands.base import (
    SERVICES,
    Command,
    Decision,
    Invocation,
    MemberId,
    Moment,
    ValueKey,
    check_occurred_at,
    handles,
)
from ledger.commands.completions import grant_award
from ledger.errors import Conflict, Invalid
from ledger.periods import month_key, week_key

if TYPE_CHECKING:
    from ledger.service import Ledger

Message = Annotated[str, StringConstraints(max_length=500)]
RULE_NAME, RULE_VERSION = "peer-recognition", 1


class GiveRecognition(Command):
    from_member: MemberId
    to_member: MemberId
    value: ValueKey
    points: int = Field(ge=1)
    message: Message | None = None
    occurred_at: Moment | None = None

    @model_validator(mode="after")
    def _not_to_self(self) -> GiveRecognition:
        if self.from_member == self.to_member:
            raise ValueError("a member cannot recognize themselves")
        return self


@handles(GiveRecognition, roles=SERVICES)
def give_recognition(ledger: Ledger, cmd: GiveRecognition, inv: Invocation) -> Decision:
    tenant = ledger.tenant(inv.tenant_id)
    settings = tenant.settings
    giver = ledger.member_in_body(inv.tenant_id, cmd.from_member, "from_member")
    recipient = ledger.member_in_body(inv.tenant_id, cmd.to_member, "to_member")
    strategy = ledger.strategy(inv.tenant_id)
    strategy.check_known([cmd.value], "value")
    if cmd.points > settings.max_recognition_points:
        raise Invalid(f"points must be at most {settings.max_recognition_points}", field="points")
    occurred_at = check_occurred_at(cmd.occurred_at, settings, inv.received_at)
    strategy.check_active([cmd.value], "value")
    if not giver.is_active_at(occurred_at):
        raise Conflict("the giver is not active at occurred_at", field="from_member")
    if not recipient.is_active_at(occurred_at):
        raise Conflict("the recipient is not active at occurred_at", field="to_member")

    recognition_id = uuid.uuid4()
    tz = settings.timezone
    allowance = ledger.store.load_or_blank(
        Allowance,
        ids.aggregate_id(inv.tenant_id, "allowance", cmd.from_member, month_key(occurred_at, tz)),
        inv.tenant_id,
    )
    allowance.spend(recognition_id, cmd.points, settings.monthly_allowance)
    pair = ledger.store.load_or_blank(
        PairCounter,
        ids.aggregate_id(
            inv.tenant_id, "pair", cmd.from_member, cmd.to_member, week_key(occurred_at, tz)
        ),
        inv.tenant_id,
    )
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
        message=ledger.personal.encrypt(inv.tenant_id, cmd.to_member, cmd.message),
    )
    award = grant_award(
        inv,
        given.event_id,
        member_id=cmd.to_member,
        points=cmd.points,
        kind="recognition",
        occurred_at=occurred_at,
        values=[cmd.value],
        source={"type": "recognition", "id": str(recognition_id)},
        rule={
            "name": RULE_NAME,
            "version": RULE_VERSION,
            "inputs": {"points": cmd.points, "from_member": cmd.from_member},
        },
    )
    return Decision(
        [allowance, pair, recognition, award],
        {"recognition_id": str(recognition_id), "points": cmd.points},
    )
