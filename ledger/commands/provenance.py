"""Why an award was made: the typed rule behind it, and the one way to grant an award.

Every award carries its provenance: the rule (name, version, the inputs it used), the
event that caused it and the command that was sent (ids, key label, received at).
The stored shape is the model's plain dump, so recorded events read the same.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from ledger import ids
from ledger.aggregates.award import Award
from ledger.commands.base import Invocation


class Rule(BaseModel):
    """A rule as applied: its name, its version and the inputs of this decision."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    inputs: dict[str, Any]


MISSION_COMPLETION = ("mission-completion", 1)
PEER_RECOGNITION = ("peer-recognition", 1)
MANUAL_ADJUSTMENT = ("manual-adjustment", 1)


def rule(which: tuple[str, int], **inputs: Any) -> Rule:
    name, version = which
    return Rule(name=name, version=version, inputs=inputs)


def grant_award(
    inv: Invocation,
    cause_event_id: uuid.UUID,
    *,
    member_id: str,
    points: int,
    kind: str,
    occurred_at: datetime,
    values: list[str],
    source_type: str,
    source_id: str,
    rule: Rule | dict[str, Any],
) -> Award:
    """An award with full provenance; its id follows from its cause, so it exists once."""
    award = Award(ids.derived_id(cause_event_id, "award"), inv.tenant_id)
    award.grant(
        cause_event_id=str(cause_event_id),
        command=inv.provenance(),
        member_id=member_id,
        points=points,
        kind=kind,
        occurred_at=occurred_at,
        values=values,
        source={"type": source_type, "id": source_id},
        rule=rule.model_dump() if isinstance(rule, Rule) else rule,
    )
    return award
