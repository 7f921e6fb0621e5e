"""Raising: the watch evaluated for every tenant, and each alert it gives recorded once.

`DriftAlertRaised` goes to the store through the command every other change takes
(`RaiseDriftAlert`, role `system`): the alert's id follows from what it is about, so
two processes, a restart or a replica that compute the same alert race on one stream
and the store lets exactly one of them record it; the others find it raised and
record nothing. Nothing here remembers anything in memory that matters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ledger.clock import Clock
from ledger.commands.base import Caller
from ledger.commands.drift import RaiseDriftAlert
from ledger.logs import cause, get_logger
from ledger.projections import drift
from ledger.projections.projection import Projection

log = get_logger("ledger.drift")
Execute = Callable[[RaiseDriftAlert, Caller], dict[str, Any]]
WATCH = "drift watch"  # the key label the raising commands carry


class DriftRaiser:
    """Every `interval` seconds (and once the projection is ready at start): evaluate the
    watch for each tenant of the projection and raise what is current and not raised."""

    def __init__(
        self, projection: Projection, execute: Execute, clock: Clock, interval: float
    ) -> None:
        self.projection = projection
        self.execute = execute
        self.clock = clock
        self.interval = interval
        self.raised = 0  # alerts this process recorded (metrics)
        self.passes = 0
        self.last_error: Exception | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def tenants(self) -> list[str]:
        rows = self.projection.run(
            lambda con: con.execute("SELECT tenant_id FROM tenants").fetchall()
        )
        return sorted(r[0] for r in rows)

    def raise_due(self) -> int:
        """One pass over every tenant; returns how many alerts this pass recorded."""
        recorded = 0
        now = self.clock.now()
        for tenant_id in self.tenants():
            watched = self.projection.run(drift.drift, tenant_id, now=now)
            for alert in watched["alerts"]:
                if alert["current"] and alert["raised"] is None:
                    outcome = self.execute(command(alert, now), Caller(tenant_id, "system", WATCH))
                    if outcome.get("raised"):
                        recorded += 1
                        log.info(
                            "drift alert raised",
                            tenant=tenant_id,
                            alert_id=outcome["alert_id"],
                            value=alert["value"],
                            team=alert["team"],
                            week=alert["week"],
                        )
        self.raised += recorded
        self.passes += 1
        return recorded

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.projection.catching_up:
                self.stopping.wait(1.0)  # the watch reads the projections: wait for them
                continue
            try:
                self.raise_due()
                self.last_error = None
            except Exception as error:  # a store or projection outage: the next pass retries
                self.last_error = error
                log.error("drift watch pass failed; retrying", error=cause(error))
                self.stopping.wait(min(self.interval, 10.0))
                continue
            self.stopping.wait(self.interval)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="drift-watch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)


def command(alert: dict[str, Any], evaluated_at: datetime) -> RaiseDriftAlert:
    """The alert as computed, as the command that records it."""
    days = ("baseline_from", "baseline_to", "onset", "week")
    figures = {k: alert[k] for k in drift.RAISED_FIGURES}
    figures |= {k: date.fromisoformat(alert[k]) for k in days}
    return RaiseDriftAlert(**figures, evaluated_at=evaluated_at)
