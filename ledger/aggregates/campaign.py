"""Campaign: a time-boxed push on some values, with a multiplier and N winners."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import Conflict
from ledger.events import LedgerEvent


class CampaignLaunched(LedgerEvent):
    campaign_id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    values: list[str]
    multiplier: float
    winners: int
    reward: str | None = None

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Campaign)
        aggregate.definition = self


class CampaignWinnersDeclared(LedgerEvent):
    campaign_id: str
    winners: list[dict[str, Any]]
    # The last event position the ranking was computed from.
    computed_through: int

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Campaign)
        aggregate.winners = list(self.winners)


class Campaign(LedgerAggregate):
    def init_state(self) -> None:
        self.definition: CampaignLaunched | None = None
        self.winners: list[dict[str, Any]] | None = None

    @property
    def spec(self) -> CampaignLaunched:
        assert self.definition is not None
        return self.definition

    def launch(self, **definition: Any) -> None:
        if self.exists:
            raise Conflict(
                f"campaign {definition['campaign_id']!r} already exists", field="campaign_id"
            )
        self.trigger(CampaignLaunched, **definition)

    def is_active_at(self, moment: datetime) -> bool:
        return self.spec.starts_at <= moment < self.spec.ends_at

    def check_can_declare(self, now: datetime) -> None:
        if now < self.spec.ends_at:
            raise Conflict("winners can be declared only after the campaign has ended")
        if self.winners is not None:
            raise Conflict("winners were already declared")

    def declare(self, winners: list[dict[str, Any]], computed_through: int) -> None:
        self.trigger(
            CampaignWinnersDeclared,
            campaign_id=self.spec.campaign_id,
            winners=winners,
            computed_through=computed_through,
        )
