"""Point adjustments by managers: corrections with a required reason."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StringConstraints, field_validator

from ledger.aggregates.adjustment import Adjustment
from ledger.commands.base import (
    MANAGERS,
    Command,
    Decision,
    Invocation,
    MemberId,
    Moment,
    check_occurred_at,
    handles,
)
from ledger.commands.completions import grant_award

if TYPE_CHECKING:
    from ledger.service import Ledger

Reason = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
RULE_NAME, RULE_VERSION = "manual-adjustment", 1


class AdjustPoints(Command):
    member_id: MemberId
    points: int = Field(ge=-1000, le=1000)
    reason: Reason
    occurred_at: Moment | None = None

    @field_validator("points")
    @classmethod
    def _nonzero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("points must be nonzero")
        return points


@handles(AdjustPoints, roles=MANAGERS)
def adjust_points(ledger: Ledger, cmd: AdjustPoints, inv: Invocation) -> Decision:
    tenant = ledger.tenant(inv.tenant_id)
    ledger.member_in_body(inv.tenant_id, cmd.member_id, "member_id")
    occurred_at = check_occurred_at(cmd.occurred_at, tenant.settings, inv.received_at)
    adjustment_id = uuid.uuid4()
    adjustment = Adjustment(adjustment_id, inv.tenant_id)
    adjusted = adjustment.adjust(
        adjustment_id=adjustment_id,
        member_id=cmd.member_id,
        points=cmd.points,
        reason=cmd.reason,
        occurred_at=occurred_at,
    )
    award = grant_award(
        inv,
        adjusted.event_id,
        member_id=cmd.member_id,
        points=cmd.points,
        kind="adjustment",
        occurred_at=occurred_at,
        values=[],
        source={"type": "adjustment", "id": str(adjustment_id)},
        rule={
            "name": RULE_NAME,
            "version": RULE_VERSION,
            "inputs": {"points": cmd.points, "reason": cmd.reason},
        },
    )
    return Decision(
        [adjustment, award], {"adjustment_id": str(adjustment_id), "points": cmd.points}
    )
