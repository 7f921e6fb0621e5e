"""Campaigns: launch, and winners declared from the recorded history."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, model_validator

from ledger.aggregates.campaign import Campaign, CampaignWinnersDeclared
from ledger.clock import as_utc
from ledger.commands.base import (
    Command,
    Decision,
    EntityId,
    Moment,
    Note,
    Title,
    ValueKey,
)
from ledger.commands.context import Context
from ledger.errors import NotFound
from ledger.events import LedgerEvent

Reward = Note


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

    @classmethod
    def read_back(cls, events: Sequence[LedgerEvent]) -> DeclareWinners | None:
        for e in events:
            if isinstance(e, CampaignWinnersDeclared):
                return cls.model_construct(campaign_id=e.campaign_id)
        return None


def launch_campaign(cmd: LaunchCampaign, ctx: Context) -> Decision:
    tenant = ctx.tenant()
    strategy = ctx.strategy()
    strategy.check_known(cmd.values, "values")
    campaign = ctx.load_or_blank(Campaign, cmd.campaign_id)
    strategy.check_active(cmd.values, "values")
    definition = cmd.model_dump()
    definition["starts_at"], definition["ends_at"] = as_utc(cmd.starts_at), as_utc(cmd.ends_at)
    campaign.launch(**definition)
    tenant.schedule_campaign(cmd.campaign_id)
    return Decision([campaign, tenant], {"campaign_id": cmd.campaign_id})


def declare_winners(cmd: DeclareWinners, ctx: Context) -> Decision:
    inv = ctx.invocation
    campaign = ctx.load(Campaign, cmd.campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {cmd.campaign_id!r}")
    # From the event store itself, never from a lagging projection.
    through, awards = ctx.award_history()
    winners = campaign.declare(inv.received_at, awards, through)
    return Decision([campaign], {"campaign_id": cmd.campaign_id, "winners": winners})
