"""Query endpoints: read the projections, with read-your-writes and time travel."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from ledger.api.auth import FEED_ROLES, Authenticator
from ledger.api.problems import Problem
from ledger.clock import Clock, as_utc
from ledger.commands.base import KEY_PATTERN, MEMBER_ID_PATTERN
from ledger.errors import NotFound
from ledger.projections import queries
from ledger.projections.projection import Projection

WAIT_SECONDS = 10.0
MinPosition = Annotated[
    int | None,
    Query(
        ge=0,
        le=2**62,
        description=(
            "Wait (at most 10 s, else 503) until the projections have applied this position."
        ),
    ),
]
AsOf = Annotated[
    datetime | None,
    Query(description=("Time travel: answer with only the events recorded up to this moment.")),
]
Key = Annotated[str | None, Query(pattern=KEY_PATTERN)]


def install(
    app: FastAPI,
    projection: Projection,
    auth: Authenticator,
    clock: Clock,
    responses: dict[int | str, Any],
) -> None:
    async def ready(tenant_id: str, min_position: int | None) -> Any:
        if min_position is not None and not await run_in_threadpool(
            projection.wait_for, tenant_id, min_position, WAIT_SECONDS
        ):
            raise Problem(
                503,
                f"the projections have not reached position {min_position} yet",
                {"Retry-After": "1"},
            )
        return projection.reader()

    def moment(as_of: datetime | None) -> datetime | None:
        return as_utc(as_of) if as_of else None

    @app.get("/v1/leaderboard", tags=["queries"], responses=responses)
    async def leaderboard(
        request: Request,
        period: Literal["week", "month", "all", "campaign"] = "week",
        at: date | None = None,
        team: Key = None,
        value: Key = None,
        campaign_id: Annotated[str | None, Query(pattern=MEMBER_ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Ranked members for a period and a scope (tenant, team or value)."""
        caller = auth.caller(request)
        con = await ready(caller.tenant_id, min_position)
        return await run_in_threadpool(
            queries.leaderboard,
            con,
            caller.tenant_id,
            period=period,
            at=at,
            now=clock.now(),
            team=team,
            value=value,
            campaign_id=campaign_id,
            limit=limit,
            as_of=moment(as_of),
        )

    @app.get("/v1/heatmap", tags=["queries"], responses=responses)
    async def heatmap(
        request: Request,
        date_from: Annotated[date | None, Query(alias="from")] = None,
        date_to: Annotated[date | None, Query(alias="to")] = None,
        team: Key = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Counted behaviors and points per (team, value, week)."""
        caller = auth.caller(request)
        con = await ready(caller.tenant_id, min_position)
        return await run_in_threadpool(
            queries.heatmap,
            con,
            caller.tenant_id,
            now=clock.now(),
            date_from=date_from,
            date_to=date_to,
            team=team,
            as_of=moment(as_of),
        )

    @app.get("/v1/alignment", tags=["queries"], responses=responses)
    async def alignment(
        request: Request,
        scope: Literal["tenant", "team"] = "tenant",
        period: Literal["week", "month"] = "week",
        team: Key = None,
        at: date | None = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """How well behavior (and reward) matches the strategy in force."""
        caller = auth.caller(request)
        if scope == "team" and team is None:
            from ledger.errors import Invalid

            raise Invalid("scope=team needs team", field="team")
        con = await ready(caller.tenant_id, min_position)
        return await run_in_threadpool(
            queries.alignment,
            con,
            caller.tenant_id,
            scope=scope,
            period=period,
            now=clock.now(),
            at=at,
            team=team,
            as_of=moment(as_of),
        )

    @app.get("/v1/members/{member_id}/points", tags=["queries"], responses=responses)
    async def member_points(
        request: Request, member_id: str, as_of: AsOf = None, min_position: MinPosition = None
    ) -> dict[str, Any]:
        """A member's balance and every award behind it, with provenance."""
        caller = auth.caller(request)
        con = await ready(caller.tenant_id, min_position)
        return await run_in_threadpool(
            queries.member_points, con, caller.tenant_id, member_id, as_of=moment(as_of)
        )

    @app.get("/v1/events", tags=["queries"], responses=responses)
    async def events(
        request: Request,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """The tenant's events as Kafka envelopes, oldest first (admin, analyst)."""
        caller = auth.caller(request, FEED_ROLES)
        con = await ready(caller.tenant_id, min_position)
        return await run_in_threadpool(
            queries.events_feed,
            con,
            caller.tenant_id,
            after=after,
            limit=limit,
            as_of=moment(as_of),
        )

    _ = NotFound  # member_points raises it for an unknown member
