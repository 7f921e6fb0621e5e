"""Mission completions and their verification; the points rule with campaign multipliers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from ledger.aggregates.award import Award
from ledger.aggregates.campaign import Campaign
from ledger.aggregates.completion import (
    Completion,
    CompletionApproved,
    CompletionRecorded,
    CompletionRejected,
    CompletionSlot,
)
from ledger.aggregates.mission import Mission
from ledger.aggregates.tenant import Tenant
from ledger.commands.base import (
    Command,
    Decision,
    EntityId,
    Invocation,
    MemberId,
    Moment,
    Note,
    check_occurred_at,
)
from ledger.commands.context import Context
from ledger.commands.provenance import MISSION_COMPLETION, grant_award, rule
from ledger.errors import AlreadyDone, NotActive, NotFound
from ledger.events import LedgerEvent
from ledger.periods import cadence_period, round_half_up


class CompleteMission(Command):
    scored = True
    mission_id: EntityId
    member_id: MemberId
    occurred_at: Moment | None = None
    note: Note | None = None

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> CompleteMission | None:
        for e in events:
            if isinstance(e, CompletionRecorded):
                return cls.model_construct(
                    mission_id=e.mission_id,
                    member_id=e.member_id,
                    occurred_at=e.occurred_at,
                    note=e.note,
                )
        return None


class VerifyCompletion(Command):
    accepted_status = 200
    scored = True  # an approval awards the points its completion was priced at
    completion_id: uuid.UUID
    decision: Literal["approve", "reject"]
    reason: Note | None = None

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> VerifyCompletion | None:
        for e in events:
            if isinstance(e, CompletionApproved | CompletionRejected):
                return cls.model_construct(
                    completion_id=e.originator_id,
                    decision="approve" if isinstance(e, CompletionApproved) else "reject",
                    reason=e.reason,
                )
        return None


def campaign_multiplier(
    ctx: Context, tenant: Tenant, values: list[str], moment: datetime
) -> tuple[float, str | None]:
    """Largest multiplier of campaigns active at `moment` sharing a value; 1 if none."""
    best: tuple[float, str | None] = (1.0, None)
    for campaign_id in tenant.campaign_ids:
        campaign = ctx.load(Campaign, campaign_id)
        if campaign is None or not campaign.is_active_at(moment):
            continue
        spec = campaign.spec
        if set(spec.values) & set(values) and spec.multiplier > best[0]:
            best = (spec.multiplier, spec.campaign_id)
    return best


def completion_award(
    inv: Invocation, recorded: CompletionRecorded, cause_event_id: uuid.UUID
) -> Award:
    return grant_award(
        inv,
        cause_event_id,
        member_id=recorded.member_id,
        points=recorded.points,
        kind="completion",
        occurred_at=recorded.occurred_at,
        values=recorded.values,
        source_type="completion",
        source_id=str(recorded.completion_id),
        rule=recorded.rule,
    )


def complete_mission(cmd: CompleteMission, ctx: Context) -> Decision:
    inv = ctx.invocation
    tenant = ctx.tenant()
    mission = ctx.load(Mission, cmd.mission_id)
    if mission is None:
        raise NotFound(f"no mission {cmd.mission_id!r}")
    member = ctx.member_in_body(cmd.member_id, "member_id")
    occurred_at = check_occurred_at(cmd.occurred_at, tenant.settings, inv.received_at)
    if mission.archived:
        raise AlreadyDone("the mission is archived", field="mission_id")
    if not member.is_active_at(occurred_at):
        raise NotActive("the member is not active at occurred_at", field="member_id")
    spec = mission.admit(member.team_at(occurred_at), occurred_at)
    period = cadence_period(spec.cadence, occurred_at, tenant.settings.timezone)
    slot = ctx.load_or_blank(CompletionSlot, cmd.mission_id, cmd.member_id, period)
    completion_id = uuid.uuid4()
    slot.claim(completion_id)

    multiplier, campaign_id = campaign_multiplier(ctx, tenant, spec.values, occurred_at)
    # In decimals: 50 * 1.13 is 56.5 by the rule, 56.49999999999999 in floats.
    points = int(round_half_up(Decimal(spec.points) * Decimal(str(multiplier))))
    status = "pending" if spec.requires_verification else "counted"
    completion = Completion(completion_id, inv.tenant_id)
    recorded = completion.record(
        completion_id=completion_id,
        mission_id=cmd.mission_id,
        member_id=cmd.member_id,
        values=list(spec.values),
        occurred_at=occurred_at,
        status=status,
        points=points,
        rule=rule(
            MISSION_COMPLETION,
            mission_points=spec.points,
            multiplier=multiplier,
            campaign_id=campaign_id,
            period=period,
        ).model_dump(),
        slot_id=slot.id,
        note=ctx.encrypt(cmd.member_id, cmd.note),
    )
    aggregates: list[Any] = [slot, completion]
    if status == "counted":
        aggregates.append(completion_award(inv, recorded, recorded.event_id))
    return Decision(
        aggregates, {"completion_id": str(completion_id), "status": status, "points": points}
    )


def verify_completion(cmd: VerifyCompletion, ctx: Context) -> Decision:
    inv = ctx.invocation
    completion = ctx.load_by_id(Completion, cmd.completion_id)
    if completion is None or completion.tenant_id != inv.tenant_id:
        raise NotFound(f"no completion {cmd.completion_id}")
    facts = completion.facts
    ctx.member_in_body(facts.member_id, "completion_id")
    # A reason is free text about the member: it travels encrypted with their key.
    reason = ctx.encrypt(facts.member_id, cmd.reason)
    if cmd.decision == "approve":
        approved = completion.approve(inv.caller.key_label, reason)
        award = completion_award(inv, facts, approved.event_id)
        return Decision(
            [completion, award],
            {"completion_id": str(cmd.completion_id), "status": "counted", "points": facts.points},
        )
    completion.reject(inv.caller.key_label, reason)
    slot = ctx.load_by_id(CompletionSlot, facts.slot_id) or CompletionSlot(
        facts.slot_id, inv.tenant_id
    )
    slot.release(cmd.completion_id)
    return Decision(
        [completion, slot],
        {"completion_id": str(cmd.completion_id), "status": "rejected", "points": 0},
    )
