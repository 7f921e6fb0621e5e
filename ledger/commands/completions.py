"""Mission completions and their verification; the points rule with campaign multipliers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import StringConstraints

from ledger import ids
from ledger.aggregates.award import Award
from ledger.aggregates.campaign import Campaign
from ledger.aggregates.completion import Completion, CompletionRecorded, CompletionSlot
from ledger.aggregates.mission import Mission
from ledger.aggregates.tenant import Tenant
from ledger.commands.base import (
    MANAGERS,
    SERVICES,
    Command,
    Decision,
    EntityId,
    Invocation,
    MemberId,
    Moment,
    check_occurred_at,
    handles,
)
from ledger.errors import Conflict, NotFound
from ledger.periods import cadence_period, round_half_up

if TYPE_CHECKING:
    from ledger.service import Ledger

Note = Annotated[str, StringConstraints(max_length=500)]
RULE_NAME, RULE_VERSION = "mission-completion", 1


class CompleteMission(Command):
    mission_id: EntityId
    member_id: MemberId
    occurred_at: Moment | None = None
    note: Note | None = None


class VerifyCompletion(Command):
    accepted_status = 200
    completion_id: uuid.UUID
    decision: Literal["approve", "reject"]
    reason: Note | None = None


def campaign_multiplier(
    ledger: Ledger, tenant: Tenant, values: list[str], moment: datetime
) -> tuple[float, str | None]:
    """Largest multiplier of campaigns active at `moment` sharing a value; 1 if none."""
    best: tuple[float, str | None] = (1.0, None)
    for campaign_id in tenant.campaign_ids:
        campaign = ledger.store.load(
            Campaign, ids.aggregate_id(tenant.tenant_id, "campaign", campaign_id)
        )
        if campaign is None or not campaign.is_active_at(moment):
            continue
        spec = campaign.spec
        if set(spec.values) & set(values) and spec.multiplier > best[0]:
            best = (spec.multiplier, spec.campaign_id)
    return best


def grant_award(inv: Invocation, cause_event_id: uuid.UUID, **facts: Any) -> Award:
    """An award with full provenance; its id follows from its cause, so it exists once."""
    award = Award(ids.derived_id(cause_event_id, "award"), inv.tenant_id)
    award.grant(cause_event_id=str(cause_event_id), command=inv.provenance(), **facts)
    return award


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
        source={"type": "completion", "id": str(recorded.completion_id)},
        rule=recorded.rule,
    )


@handles(CompleteMission, roles=SERVICES)
def complete_mission(ledger: Ledger, cmd: CompleteMission, inv: Invocation) -> Decision:
    tenant = ledger.tenant(inv.tenant_id)
    mission = ledger.store.load(Mission, ids.aggregate_id(inv.tenant_id, "mission", cmd.mission_id))
    if mission is None:
        raise NotFound(f"no mission {cmd.mission_id!r}")
    member = ledger.member_in_body(inv.tenant_id, cmd.member_id, "member_id")
    occurred_at = check_occurred_at(cmd.occurred_at, tenant.settings, inv.received_at)
    if mission.archived:
        raise Conflict("the mission is archived", field="mission_id")
    if not member.is_active_at(occurred_at):
        raise Conflict("the member is not active at occurred_at", field="member_id")
    mission.check_team(member.team_at(occurred_at))
    mission.check_window(occurred_at)
    spec = mission.spec
    period = cadence_period(spec.cadence, occurred_at, tenant.settings.timezone)
    slot = ledger.store.load_or_blank(
        CompletionSlot,
        ids.aggregate_id(inv.tenant_id, "slot", cmd.mission_id, cmd.member_id, period),
        inv.tenant_id,
    )
    completion_id = uuid.uuid4()
    slot.claim(completion_id)

    multiplier, campaign_id = campaign_multiplier(ledger, tenant, spec.values, occurred_at)
    points = int(round_half_up(spec.points * multiplier))
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
        rule={
            "name": RULE_NAME,
            "version": RULE_VERSION,
            "inputs": {
                "mission_points": spec.points,
                "multiplier": multiplier,
                "campaign_id": campaign_id,
                "period": period,
            },
        },
        slot_id=slot.id,
        note=cmd.note,
    )
    aggregates: list[Any] = [slot, completion]
    if status == "counted":
        aggregates.append(completion_award(inv, recorded, recorded.event_id))
    return Decision(
        aggregates, {"completion_id": str(completion_id), "status": status, "points": points}
    )


@handles(VerifyCompletion, roles=MANAGERS)
def verify_completion(ledger: Ledger, cmd: VerifyCompletion, inv: Invocation) -> Decision:
    completion = ledger.store.load(Completion, cmd.completion_id)
    if completion is None or completion.tenant_id != inv.tenant_id:
        raise NotFound(f"no completion {cmd.completion_id}")
    facts = completion.facts
    if cmd.decision == "approve":
        approved = completion.approve(inv.caller.key_label, cmd.reason)
        award = completion_award(inv, facts, approved.event_id)
        return Decision(
            [completion, award],
            {"completion_id": str(cmd.completion_id), "status": "counted", "points": facts.points},
        )
    completion.reject(inv.caller.key_label, cmd.reason)
    slot = ledger.store.load_or_blank(CompletionSlot, facts.slot_id, inv.tenant_id)
    slot.release(cmd.completion_id)
    return Decision(
        [completion, slot],
        {"completion_id": str(cmd.completion_id), "status": "rejected", "points": 0},
    )
