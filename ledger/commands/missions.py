"""Focus missions: publish and archive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from ledger import ids
from ledger.aggregates.mission import Mission
from ledger.clock import as_utc
from ledger.commands.base import (
    ADMIN,
    Command,
    Decision,
    EntityId,
    Invocation,
    Moment,
    TeamKey,
    Title,
    ValueKey,
    handles,
)
from ledger.errors import NotFound

if TYPE_CHECKING:
    from ledger.service import Ledger


class PublishMission(Command):
    mission_id: EntityId
    title: Title
    values: list[ValueKey] = Field(min_length=1, max_length=3)
    points: int = Field(ge=1, le=1000)
    cadence: Literal["once", "daily", "weekly"]
    requires_verification: bool = False
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    teams: list[TeamKey] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _check(self) -> PublishMission:
        if len(set(self.values)) != len(self.values):
            raise ValueError("values must be distinct")
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        return self


class ArchiveMission(Command):
    accepted_status = 200
    mission_id: EntityId


@handles(PublishMission, roles=ADMIN)
def publish_mission(ledger: Ledger, cmd: PublishMission, inv: Invocation) -> Decision:
    strategy = ledger.strategy(inv.tenant_id)
    strategy.check_known(cmd.values, "values")
    mission = ledger.store.load_or_blank(
        Mission, ids.aggregate_id(inv.tenant_id, "mission", cmd.mission_id), inv.tenant_id
    )
    strategy.check_active(cmd.values, "values")
    definition = cmd.model_dump()
    definition["starts_at"] = as_utc(cmd.starts_at) if cmd.starts_at else None
    definition["ends_at"] = as_utc(cmd.ends_at) if cmd.ends_at else None
    mission.publish(**definition)
    return Decision([mission], {"mission_id": cmd.mission_id})


@handles(ArchiveMission, roles=ADMIN)
def archive_mission(ledger: Ledger, cmd: ArchiveMission, inv: Invocation) -> Decision:
    mission = ledger.store.load(Mission, ids.aggregate_id(inv.tenant_id, "mission", cmd.mission_id))
    if mission is None:
        raise NotFound(f"no mission {cmd.mission_id!r}")
    mission.archive()
    return Decision([mission], {"mission_id": cmd.mission_id, "archived": True})
