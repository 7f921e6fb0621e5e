"""The drift watch's read routes (API.md "Drift and recalibration"): admin, manager,
analyst; `as_of` and `min_position` as on every query."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Request

from ledger.clock import Clock, as_utc
from ledger.projections import drift
from ledger.recalibration import levers
from ledger.store import EventStore
from ledger.web.auth import DRIFT_ROLES
from ledger.web.reading import Answer, AsOf, Key, MinPosition


def install(
    app: FastAPI,
    answer: Answer,
    clock: Clock,
    responses: dict[int | str, Any],
    store: EventStore,
) -> None:
    def moment(as_of: datetime | None) -> datetime | None:
        return as_utc(as_of) if as_of else None

    @app.get("/v1/drift", tags=["drift"], responses=responses)
    async def drift_watch(
        request: Request,
        scope: Literal["tenant", "team"] | None = None,
        team: Key = None,
        value: Key = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Every watched series' state and every alert: the ones the facts give now
        (`current`) first, then those raised that the facts no longer give."""
        return await answer(
            request,
            min_position,
            drift.drift,
            roles=DRIFT_ROLES,
            now=clock.now(),
            scope=scope,
            team=team,
            value=value,
            as_of=moment(as_of),
        )

    @app.get("/v1/drift/alerts/{alert_id}", tags=["drift"], responses=responses)
    async def drift_alert(
        request: Request,
        alert_id: uuid.UUID,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """One alert with its weeks, from its baseline to its week (behaviors, mass, CUSUM)."""
        return await answer(
            request,
            min_position,
            drift.drift_alert,
            str(alert_id),
            roles=DRIFT_ROLES,
            now=clock.now(),
            as_of=moment(as_of),
        )

    @app.get("/v1/recalibration", tags=["drift"], responses=responses)
    async def recalibration(
        request: Request,
        scope: Literal["tenant", "team"] = "tenant",
        team: Key = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """For each under-served value of the scope (the last 4 complete weeks), the levers
        that could bring it back: exact extra points and incentive score, and a range of
        behavior scores with the elasticity it assumes. Re-decided, never written."""
        return await answer(
            request,
            min_position,
            levers.recalibrate,
            roles=DRIFT_ROLES,
            store=store,
            now=clock.now(),
            scope=scope,
            team=team,
        )
