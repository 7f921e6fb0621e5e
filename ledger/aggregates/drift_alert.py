"""DriftAlert: a warning the drift watch gave, raised once, then acknowledged by a person.

Its id follows from what it is about (tenant, scope, team, value, strategy revision and
the first week of the epoch that gave it), so every process that computes the same
alert names the same stream and the store lets exactly one of them raise it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ledger.aggregates.base import LedgerAggregate
from ledger.drift.watch import ALERT_KIND, alert_key
from ledger.errors import AlreadyDone
from ledger.events import LedgerEvent


class DriftAlertRaised(LedgerEvent):
    """The figures of RULES.md "Drift watch" as they stood when the alert was raised."""

    alert_id: str
    scope: str
    team: str | None
    value: str
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

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, DriftAlert)
        aggregate.raised = self


class DriftAlertAcknowledged(LedgerEvent):
    """A person saw it: what they noted, and the lever they pulled (if any)."""

    note: str
    lever: dict[str, Any] | None = None
    by_key_label: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, DriftAlert)
        aggregate.acknowledged = self


class DriftAlert(LedgerAggregate):
    kind = ALERT_KIND
    events = (DriftAlertRaised, DriftAlertAcknowledged)
    opened_by = (DriftAlertRaised,)

    def init_state(self) -> None:
        self.raised: DriftAlertRaised | None = None
        self.acknowledged: DriftAlertAcknowledged | None = None

    key = staticmethod(alert_key)

    def raise_once(self, **figures: Any) -> bool:
        """Record the alert; False (nothing recorded) when it was raised already."""
        if self.raised is not None:
            return False
        self.trigger(DriftAlertRaised, alert_id=str(self.id), **figures)
        return True

    def acknowledge(self, note: str, lever: dict[str, Any] | None, by_key_label: str) -> None:
        if self.acknowledged is not None:
            raise AlreadyDone("the alert was acknowledged already")
        self.trigger(DriftAlertAcknowledged, note=note, lever=lever, by_key_label=by_key_label)
