"""Campaigns: launch, and winners declared from the recorded history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from ledger import ids
from ledger.aggregates.campaign import Campaign
from ledger.clock import as_utc
from ledger.commands.base import (
    ADMIN,
    Command,
    Decision,
    EntityId,
    Invocation,
    Moment,
    Title,
    ValueKey,
    handles,
)
from ledger.errors import NotFound
from ledger.history import award_facts
from ledger.ranking import rank_scores

if TYPE_CHECKING:
    from ledger.service import Ledger

Reward = Annotated[str, StringConstraints(max_length=500)]


class LaunchCampaign(Command):
    campaign_id: EntityId
    name: Title
    starts_at: Moment
    ends_at: Moment
    values: list[ValueKey] = Field(min_length=1, max_length=20)
    multiplier: float = Field(ge=1.0, le=5.0, allow_inf_nan=False)
    winners: int = Field(ge=1, le=10_000)
    reward: Reward | None = None

    @model_validator(mode="after")
    def _check(self) -> LaunchCampaign:
        if self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        if len(set(self.values)) != len(self.values):
            raise ValueError("values must be distinct")
        return self


class DeclareWinners(Command):
    campaign_id: EntityId


@handles(LaunchCampaign, roles=ADMIN)
def launch_campaign(ledger: Ledger, cmd: LaunchCampaign, inv: Invocation) -> Decision:
    tenant = ledger.tenant(inv.tenant_id)
    strategy = ledger.strategy(inv.tenant_id)
    strategy.check_known(cmd.values, "values")
    campaign = ledger.store.load_or_blank(
        Campaign, ids.aggregate_id(inv.tenant_id, "campaign", cmd.campaign_id), inv.tenant_id
    )
    strategy.check_active(cmd.values, "values")
    definition = cmd.model_dump()
    definition["starts_at"], definition["ends_at"] = as_utc(cmd.starts_at), as_utc(cmd.ends_at)
    campaign.launch(**definition)
    tenant.schedule_campaign(cmd.campaign_id)
    return Decision([campaign, tenant], {"campaign_id": cmd.campaign_id})


@handles(DeclareWinners, roles=ADMIN)
def declare_winners(ledger: Ledger, cmd: DeclareWinners, inv: Invocation) -> Decision:
    campaign = ledger.store.load(
        Campaign, ids.aggregate_id(inv.tenant_id, "campaign", cmd.campaign_id)
    )
    if campaign is None:
        raise NotFound(f"no campaign {cmd.campaign_id!r}")
    campaign.check_can_declare(inv.received_at)
    spec = campaign.spec
    through = ledger.store.max_position()
    scores: dict[str, int] = {}
    # From the event store itself, never from a lagging projection.
    for award in award_facts(ledger.store, inv.tenant_id, through):
        if (
            award["kind"] != "adjustment"
            and spec.starts_at <= award["occurred_at"] < spec.ends_at
            and set(award["values"]) & set(spec.values)
        ):
            scores[award["member_id"]] = scores.get(award["member_id"], 0) + award["points"]
    winners: list[dict[str, Any]] = [
        {"member_id": member_id, "rank": rank, "points": points}
        for rank, member_id, points in rank_scores(scores)
        if rank <= spec.winners
    ]
    campaign.declare(winners, through)
    return Decision([campaign], {"campaign_id": cmd.campaign_id, "winners": winners})
