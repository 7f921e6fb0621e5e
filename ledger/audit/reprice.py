"""Re-pricing a window of recorded commands under a change, never written.

A change (a mission's points, a campaign's multiplier, hypothetical campaigns) alters
only what a completion is priced at: the completions it can touch in the window are
re-decided by the live handlers (ledger.commands.handlers.decide), each on the past just
before it (ledger.audit.positioned) with the change laid over what it loads, and an
approval awards what its completion was re-priced at. Recognitions are never
multiplied, adjustments are amounts a person set: no change moves them.

The same machinery serves `ledger simulate` and recalibration (ledger.recalibration).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ledger.aggregates.award import PointsAwarded
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.campaign import Campaign, CampaignLaunched
from ledger.aggregates.completion import (
    Completion,
    CompletionApproved,
    CompletionRecorded,
)
from ledger.aggregates.mission import Mission
from ledger.aggregates.strategy import Strategy
from ledger.aggregates.tenant import Tenant
from ledger.audit.positioned import PositionContext, Streams
from ledger.audit.redecide import (
    RecordedCommand,
    decided_events,
    invocation_of,
    reconstruct,
    redecide,
)
from ledger.commands.base import KEY_PATTERN
from ledger.errors import Invalid, NotFound
from ledger.events import LedgerEvent
from ledger.ids import tenant_aggregate_id
from ledger.store import EventStore

WHAT_IF = "what-if-{}"  # the campaign ids of a change's hypothetical campaigns


class MissionChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    points: int = Field(ge=0, le=1000)


class CampaignChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: float = Field(ge=1.0, le=5.0, allow_inf_nan=False)


class NewCampaign(BaseModel):
    """A campaign that did not run: as if launched before the window it covers."""

    model_config = ConfigDict(extra="forbid")
    values: list[str] = Field(min_length=1, max_length=20)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    multiplier: float = Field(ge=1.0, le=5.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> NewCampaign:
        if self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        return self


class StrategyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective_from: datetime
    goals: list[dict[str, Any]] = Field(min_length=1)


class Window(BaseModel):
    """Local dates of the tenant, `from` inclusive, `to` exclusive."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: date = Field(alias="from")
    end: date = Field(alias="to")


class Change(BaseModel):
    """What `ledger simulate --change FILE` reads (each part optional). `window` and
    `team` make a file reproduce a lever of recalibration exactly; --from/--to/--team
    on the command line win over them."""

    model_config = ConfigDict(extra="forbid")
    missions: dict[str, MissionChange] = {}
    campaigns: dict[str, CampaignChange] = {}
    new_campaigns: list[NewCampaign] = Field(default=[], max_length=20)
    strategy: StrategyChange | None = None
    window: Window | None = None
    team: str | None = Field(default=None, pattern=KEY_PATTERN)

    def check_known(self, streams: Streams, tenant_id: str) -> None:
        """Every id and value the change names exists in the tenant (else an error: a
        typo must not silently simulate nothing)."""
        if streams.at(Tenant, tenant_aggregate_id(tenant_id), 2**62) is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        for mission_id in self.missions:
            if streams.at(Mission, Mission.id_for(tenant_id, mission_id), 2**62) is None:
                raise Invalid(f"unknown mission {mission_id!r}", field="missions")
        for campaign_id in self.campaigns:
            if streams.at(Campaign, Campaign.id_for(tenant_id, campaign_id), 2**62) is None:
                raise Invalid(f"unknown campaign {campaign_id!r}", field="campaigns")
        strategy = streams.at(Strategy, Strategy.id_for(tenant_id), 2**62)
        known = set(strategy.values) if strategy else set()
        named = {v for c in self.new_campaigns for v in c.values}
        if named - known:
            raise Invalid(f"unknown value(s) {sorted(named - known)}", field="new_campaigns")

    def overlay(self, tenant_id: str) -> Overlay:
        return Overlay(self, tenant_id)


class Overlay:
    """The change laid over the aggregates a handler loads, and the re-priced pending
    completions (an approval awards what its completion was re-priced at)."""

    def __init__(self, change: Change, tenant_id: str) -> None:
        self.change = change
        self.repriced: dict[str, dict[str, Any]] = {}
        self.what_if: dict[uuid.UUID, Campaign] = {}
        for index, planned in enumerate(change.new_campaigns, start=1):
            key = WHAT_IF.format(index)
            campaign = Campaign(Campaign.id_for(tenant_id, key), tenant_id)
            campaign.definition = CampaignLaunched(
                originator_id=campaign.id,
                originator_version=1,
                timestamp=planned.starts_at,
                tenant_id=tenant_id,
                event_id=uuid.uuid5(campaign.id, "what-if"),
                campaign_id=key,
                name=key,
                starts_at=planned.starts_at,
                ends_at=planned.ends_at,
                values=list(planned.values),
                multiplier=planned.multiplier,
                winners=1,
                reward=None,
            )
            self.what_if[campaign.id] = campaign

    def __call__(
        self, kind: type[LedgerAggregate], aggregate_id: uuid.UUID, found: LedgerAggregate | None
    ) -> LedgerAggregate | None:
        if kind is Campaign and aggregate_id in self.what_if:
            return self.what_if[aggregate_id].private_copy()
        if isinstance(found, Tenant) and self.what_if:
            found.campaign_ids = [
                *found.campaign_ids,
                *(c.spec.campaign_id for c in self.what_if.values()),
            ]
        if isinstance(found, Mission) and found.definition is not None:
            mission = self.change.missions.get(found.definition.mission_id)
            if mission is not None:
                found.definition = found.definition.model_copy(update={"points": mission.points})
        if isinstance(found, Campaign) and found.definition is not None:
            campaign = self.change.campaigns.get(found.definition.campaign_id)
            if campaign is not None:
                found.definition = found.definition.model_copy(
                    update={"multiplier": campaign.multiplier}
                )
        if isinstance(found, Completion) and found.recorded is not None:
            price = self.repriced.get(str(found.recorded.completion_id))
            if price is not None:
                found.recorded = found.recorded.model_copy(update=price)
        return found


@dataclass
class Repricing:
    """What the change gives instead, per award (by award id): points and rule."""

    patches: dict[str, dict[str, Any]] = field(default_factory=dict)
    redecided: int = 0
    refused: list[str] = field(default_factory=list)


def touched_values(change: Change, streams: Streams, tenant_id: str) -> set[str] | None:
    """The values whose completions the change can re-price (None: any, a mission's
    points changed; a mission carries its own values)."""
    values = {v for c in change.new_campaigns for v in c.values}
    for campaign_id in change.campaigns:
        campaign = streams.at(Campaign, Campaign.id_for(tenant_id, campaign_id), 2**62)
        if campaign is not None and campaign.definition is not None:
            values |= set(campaign.spec.values)
    return values


def may_touch(recorded: RecordedCommand, change: Change, values: set[str]) -> bool:
    """Can the change alter what this recorded command awards? Only completions (and
    their approvals) of a changed mission, or carrying a value a changed or new
    campaign is on."""
    for event in recorded.events:
        if isinstance(event, CompletionRecorded):
            return event.mission_id in change.missions or bool(values & set(event.values))
        if isinstance(event, CompletionApproved):
            return True  # its completion decides (re-priced or not)
    return False


def reprice(
    store: EventStore,
    tenant_id: str,
    change: Change,
    commands: Iterable[RecordedCommand],
    streams: Streams | None = None,
) -> Repricing:
    """Re-decide, in position order, every command of `commands` the change can touch."""
    streams = streams or Streams(store)
    overlay = change.overlay(tenant_id)
    values = touched_values(change, streams, tenant_id)
    result = Repricing()
    for recorded in sorted(commands, key=lambda r: r.position):
        if not may_touch(recorded, change, values or set()):
            continue
        command = reconstruct(recorded)
        if command is None or not type(command).scored:
            continue
        context = PositionContext(
            streams, invocation_of(recorded, command), recorded.position - 1, overlay
        )
        outcome = redecide(command, context)
        result.redecided += 1
        if isinstance(outcome, Exception):
            result.refused.append(f"{recorded.position}: {outcome}")
            continue
        decided = decided_events(outcome)
        for mine, new in zip(
            recorded.of(CompletionRecorded),
            [e for e in decided if isinstance(e, CompletionRecorded)],
            strict=False,
        ):
            overlay.repriced[str(mine.completion_id)] = {"points": new.points, "rule": new.rule}
        theirs = [e for e in decided if isinstance(e, PointsAwarded)]
        for mine_award, new_award in zip(recorded.of(PointsAwarded), theirs, strict=False):
            if (mine_award.points, mine_award.rule) != (new_award.points, new_award.rule):
                result.patches[str(mine_award.originator_id)] = {
                    "points": new_award.points,
                    "rule": new_award.rule,
                }
    return result


def command_at(store: EventStore, position: int) -> RecordedCommand:
    """The recorded command whose events include the one at `position`: its invocation's
    events are saved together, so they lie next to it."""
    page = store.select(max(0, position - 10), 12)
    decoded: list[tuple[int, LedgerEvent]] = []
    for notification in page:
        event = store.mapper.to_domain_event(notification)
        assert isinstance(event, LedgerEvent)
        decoded.append((notification.id, event))
    causation = next(e.causation_id for p, e in decoded if p == position)
    recorded = RecordedCommand()
    for p, event in decoded:
        if event.causation_id == causation:
            recorded.events.append(event)
            recorded.positions.append(p)
    return recorded


def commands_of(
    store: EventStore, award_positions: Sequence[int], streams: Streams
) -> list[RecordedCommand]:
    """The recorded commands that gave these awards, and for each approval the command
    that recorded its completion (it decided the price); each once, in position order."""
    found: dict[int, RecordedCommand] = {}
    for position in award_positions:
        recorded = command_at(store, position)
        found.setdefault(recorded.position, recorded)
        for approved in recorded.of(CompletionApproved):
            origin = streams.position_of(approved.originator_id, CompletionRecorded)
            if origin is not None and origin not in found:
                completion = command_at(store, origin)
                found.setdefault(completion.position, completion)
    return [found[p] for p in sorted(found)]
