"""Campaign: a time-boxed push on some values, with a multiplier and N winners."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, AlreadyExists, CampaignNotEnded
from ledger.events import LedgerEvent
from ledger.ranking import rank_scores


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
    events = (CampaignLaunched, CampaignWinnersDeclared)
    kind = "campaign"

    def init_state(self) -> None:
        self.definition: CampaignLaunched | None = None
        self.winners: list[dict[str, Any]] | None = None

    @property
    def spec(self) -> CampaignLaunched:
        assert self.definition is not None
        return self.definition

    def launch(self, **definition: Any) -> None:
        if self.exists:
            raise AlreadyExists(
                f"campaign {definition['campaign_id']!r} already exists", field="campaign_id"
            )
        self.trigger(CampaignLaunched, **definition)

    def is_active_at(self, moment: datetime) -> bool:
        return self.spec.starts_at <= moment < self.spec.ends_at

    def _check_can_declare(self, now: datetime) -> None:
        if now < self.spec.ends_at:
            raise CampaignNotEnded("winners can be declared only after the campaign has ended")
        if self.winners is not None:
            raise AlreadyDone("winners were already declared")

    def declare(
        self, now: datetime, awards: Iterable[dict[str, Any]], computed_through: int
    ) -> list[dict[str, Any]]:
        """Rank the campaign's behaviors and record the winners: once, after it ended."""
        self._check_can_declare(now)
        spec = self.spec
        scores: dict[str, int] = {}
        for award in awards:
            if (
                award["kind"] != "adjustment"
                and spec.starts_at <= award["occurred_at"] < spec.ends_at
                and set(award["values"]) & set(spec.values)
            ):
                scores[award["member_id"]] = scores.get(award["member_id"], 0) + award["points"]
        winners = [
            {"member_id": member_id, "rank": rank, "points": points}
            for rank, member_id, points in rank_scores(scores)
            if rank <= spec.winners
        ]
        self.trigger(
            CampaignWinnersDeclared,
            campaign_id=spec.campaign_id,
            winners=winners,
            computed_through=computed_through,
        )
        return winners
