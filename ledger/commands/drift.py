"""The drift watch's commands: raising an alert (the watch itself) and acknowledging it."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from ledger.aggregates.campaign import Campaign
from ledger.aggregates.drift_alert import DriftAlert
from ledger.aggregates.mission import Mission
from ledger.commands.base import Command, Decision, EntityId, Note, Title, ValueKey
from ledger.commands.context import Context
from ledger.errors import Invalid, NotFound


class RaiseDriftAlert(Command):
    """Sent by the watch (role `system`) for each alert it computes; raising is once."""

    scope: Literal["tenant", "team"]
    team: str | None
    value: ValueKey
    strategy_version: int
    baseline_from: date
    baseline_to: date
    baseline_share: float
    reference: float
    target: float
    onset: date
    week: date
    share_since_onset: float
    behaviors_since_onset: float
    cusum: float
    evaluated_at: datetime


class CampaignLever(Command):
    kind: Literal["campaign"]
    campaign_id: EntityId


class MissionPointsLever(Command):
    kind: Literal["mission_points"]
    mission_id: EntityId


class OtherLever(Command):
    kind: Literal["other"]
    text: Title


Lever = Annotated[CampaignLever | MissionPointsLever | OtherLever, Field(discriminator="kind")]


class AcknowledgeDriftAlert(Command):
    alert_id: uuid.UUID
    note: Annotated[Note, Field(min_length=1)]
    lever: Lever | None = None


def raise_drift_alert(cmd: RaiseDriftAlert, ctx: Context) -> Decision:
    tenant_id = ctx.invocation.tenant_id
    alert = ctx.load_or_blank(
        DriftAlert,
        *DriftAlert.key(cmd.scope, cmd.team, cmd.value, cmd.strategy_version, cmd.baseline_from),
    )
    figures: dict[str, Any] = cmd.model_dump()
    raised = alert.raise_once(**figures)
    return Decision(
        [alert] if raised else [],
        {"alert_id": str(alert.id), "tenant_id": tenant_id, "raised": raised},
    )


def acknowledge_drift_alert(cmd: AcknowledgeDriftAlert, ctx: Context) -> Decision:
    alert = ctx.load_by_id(DriftAlert, cmd.alert_id)
    if alert is None or alert.raised is None:
        raise NotFound(f"no drift alert {cmd.alert_id}")
    lever = cmd.lever.model_dump() if cmd.lever is not None else None
    if isinstance(cmd.lever, CampaignLever) and ctx.load(Campaign, cmd.lever.campaign_id) is None:
        raise Invalid(f"unknown campaign {cmd.lever.campaign_id!r}", field="lever.campaign_id")
    if (
        isinstance(cmd.lever, MissionPointsLever)
        and ctx.load(Mission, cmd.lever.mission_id) is None
    ):
        raise Invalid(f"unknown mission {cmd.lever.mission_id!r}", field="lever.mission_id")
    alert.acknowledge(cmd.note, lever, ctx.invocation.caller.key_label)
    return Decision([alert], {"alert_id": str(alert.id)})
