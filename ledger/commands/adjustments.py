"""Point adjustments by managers: corrections with a required reason."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pydantic import Field, field_validator

from ledger.aggregates.adjustment import Adjustment, PointsAdjusted
from ledger.commands.base import (
    Command,
    Decision,
    MemberId,
    Moment,
    Reason,
    check_occurred_at,
)
from ledger.commands.context import Context
from ledger.commands.provenance import MANUAL_ADJUSTMENT, grant_award, rule
from ledger.events import LedgerEvent


class AdjustPoints(Command):
    member_id: MemberId
    points: int = Field(ge=-1000, le=1000)
    reason: Reason
    occurred_at: Moment | None = None

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> AdjustPoints | None:
        for e in events:
            if isinstance(e, PointsAdjusted):
                return cls.model_construct(
                    member_id=e.member_id,
                    points=e.points,
                    reason=e.reason,
                    occurred_at=e.occurred_at,
                )
        return None

    @field_validator("points")
    @classmethod
    def _nonzero(cls, points: int) -> int:
        if points == 0:
            raise ValueError("points must be nonzero")
        return points


def adjust_points(cmd: AdjustPoints, ctx: Context) -> Decision:
    inv = ctx.invocation
    tenant = ctx.tenant()
    ctx.member_in_body(cmd.member_id, "member_id")
    occurred_at = check_occurred_at(cmd.occurred_at, tenant.settings, inv.received_at)
    adjustment_id = uuid.uuid4()
    # The reason is free text about the member: encrypted with their key, shredded with it.
    reason = ctx.encrypt(cmd.member_id, cmd.reason)
    adjustment = Adjustment(adjustment_id, inv.tenant_id)
    adjusted = adjustment.adjust(
        adjustment_id=adjustment_id,
        member_id=cmd.member_id,
        points=cmd.points,
        reason=reason,
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
        source_type="adjustment",
        source_id=str(adjustment_id),
        rule=rule(MANUAL_ADJUSTMENT, points=cmd.points, reason=reason),
    )
    return Decision(
        [adjustment, award], {"adjustment_id": str(adjustment_id), "points": cmd.points}
    )
