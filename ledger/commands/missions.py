"""Focus missions: publish and archive."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ledger.aggregates.mission import Mission
from ledger.clock import as_utc
from ledger.commands.base import (
    Command,
    Decision,
    EntityId,
    Moment,
    TeamKey,
    Title,
    ValueKey,
)
from ledger.commands.context import Context
from ledger.errors import NotFound


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


def publish_mission(cmd: PublishMission, ctx: Context) -> Decision:
    strategy = ctx.strategy()
    strategy.check_known(cmd.values, "values")
    mission = ctx.load_or_blank(Mission, cmd.mission_id)
    strategy.check_active(cmd.values, "values")
    definition = cmd.model_dump()
    definition["starts_at"] = as_utc(cmd.starts_at) if cmd.starts_at else None
    definition["ends_at"] = as_utc(cmd.ends_at) if cmd.ends_at else None
    mission.publish(**definition)
    return Decision([mission], {"mission_id": cmd.mission_id})


def archive_mission(cmd: ArchiveMission, ctx: Context) -> Decision:
    mission = ctx.load(Mission, cmd.mission_id)
    if mission is None:
        raise NotFound(f"no mission {cmd.mission_id!r}")
    mission.archive()
    return Decision([mission], {"mission_id": cmd.mission_id, "archived": True})
