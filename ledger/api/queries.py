"""Query endpoints: read the projections, with read-your-writes and time travel."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request

from ledger.clock import Clock, as_utc
from ledger.commands.base import MEMBER_ID_PATTERN
from ledger.errors import Invalid
from ledger.projections import queries, recognition_flow, summary
from ledger.projections.facts import Decrypt
from ledger.web.auth import DRIFT_ROLES, FEED_ROLES
from ledger.web.reading import Answer, AsOf, Day, Key, MinPosition


def install(
    app: FastAPI,
    answer: Answer,
    clock: Clock,
    decrypt: Decrypt | None,
    responses: dict[int | str, Any],
) -> None:
    """The query routes, each through `answer` (ledger.web.reading)."""

    def moment(as_of: datetime | None) -> datetime | None:
        return as_utc(as_of) if as_of else None

    @app.get("/v1/leaderboard", tags=["queries"], responses=responses)
    async def leaderboard(
        request: Request,
        period: Literal["week", "month", "all", "campaign"] = "week",
        at: Day | None = None,
        team: Key = None,
        value: Key = None,
        campaign_id: Annotated[str | None, Query(pattern=MEMBER_ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Ranked members for a period and a scope (tenant, team or value)."""
        if period == "campaign" and campaign_id is None:
            raise Invalid("period=campaign needs campaign_id", field="campaign_id")
        return await answer(
            request,
            min_position,
            queries.leaderboard,
            period=period,
            at=at,
            now=clock.now(),
            team=team,
            value=value,
            campaign_id=campaign_id,
            limit=limit,
            as_of=moment(as_of),
        )

    @app.get("/v1/summary", tags=["queries"], responses=responses)
    async def summary_of_period(
        request: Request,
        period: Literal["week", "month"] = "week",
        at: Day | None = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """The home page's figures: participation, behaviors and points against the previous
        period, alignment and its change, open drift alerts (admin, manager, analyst)."""
        return await answer(
            request,
            min_position,
            summary.summary,
            roles=DRIFT_ROLES,
            period=period,
            at=at,
            now=clock.now(),
            as_of=moment(as_of),
        )

    @app.get("/v1/recognitions/flow", tags=["queries"], responses=responses)
    async def who_recognizes_whom(
        request: Request,
        period: Literal["week", "month"] = "month",
        at: Day | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Who recognizes whom: the givers' and the receivers' boards, and the flow between
        teams (each member in the team they were in then)."""
        return await answer(
            request,
            min_position,
            recognition_flow.flow,
            period=period,
            at=at,
            now=clock.now(),
            limit=limit,
            as_of=moment(as_of),
        )

    @app.get("/v1/heatmap", tags=["queries"], responses=responses)
    async def heatmap(
        request: Request,
        date_from: Annotated[Day | None, Query(alias="from")] = None,
        date_to: Annotated[Day | None, Query(alias="to")] = None,
        team: Key = None,
        per_person: Annotated[
            bool,
            Query(description="Also give each cell's team size and points per person."),
        ] = False,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """Counted behaviors and points per (team, value, week)."""
        return await answer(
            request,
            min_position,
            queries.heatmap,
            now=clock.now(),
            date_from=date_from,
            date_to=date_to,
            team=team,
            per_person=per_person,
            as_of=moment(as_of),
        )

    @app.get("/v1/alignment", tags=["queries"], responses=responses)
    async def alignment(
        request: Request,
        scope: Literal["tenant", "team"] = "tenant",
        period: Literal["week", "month"] = "week",
        team: Key = None,
        at: Day | None = None,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """How well behavior (and reward) matches the strategy in force."""
        return await answer(
            request,
            min_position,
            queries.alignment,
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
        """A member's balance and every award behind it, with provenance (404 if unknown)."""
        return await answer(
            request,
            min_position,
            queries.member_points,
            member_id,
            as_of=moment(as_of),
            decrypt=decrypt,
        )

    @app.get("/v1/awards/{award_id}", tags=["queries"], responses=responses)
    async def award(
        request: Request,
        award_id: uuid.UUID,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> dict[str, Any]:
        """One award with its whole chain: behavior, rule, approval, command, reversal."""
        return await answer(
            request,
            min_position,
            queries.award,
            str(award_id),
            as_of=moment(as_of),
            decrypt=decrypt,
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
        return await answer(
            request,
            min_position,
            queries.events_feed,
            roles=FEED_ROLES,
            after=after,
            limit=limit,
            as_of=moment(as_of),
        )
