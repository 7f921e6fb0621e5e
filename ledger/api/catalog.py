"""Read routes of the catalog a front end needs: values, missions, campaigns, members,
the strategy and the recognition feed. Any role, the key's tenant only, a cursor per page.

Typed answers, so the OpenAPI document describes every field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, Field

from ledger.clock import Clock, as_utc
from ledger.commands.base import MEMBER_ID_PATTERN
from ledger.projections import catalog
from ledger.projections.facts import Decrypt
from ledger.web.auth import MESSAGE_ROLES
from ledger.web.reading import Answer, AsOf, Key, MinPosition

Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; omit for the first."),
]
MemberId = Annotated[str | None, Query(pattern=MEMBER_ID_PATTERN)]


class Paged(BaseModel):
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    as_of_position: int = Field(
        description="The last position of the tenant's events the answer reflects."
    )


class Value(BaseModel):
    key: str
    name: str
    retired: bool


class Values(Paged):
    items: list[Value]


class Mission(BaseModel):
    mission_id: str
    title: str
    values: list[str]
    points: int
    cadence: Literal["once", "daily", "weekly"]
    requires_verification: bool
    starts_at: datetime | None
    ends_at: datetime | None
    teams: list[str] = Field(description="Empty: everyone.")
    archived: bool
    active: bool = Field(description="Open now: not archived and inside its window.")


class Missions(Paged):
    items: list[Mission]


class Campaign(BaseModel):
    campaign_id: str
    name: str
    starts_at: datetime
    ends_at: datetime
    values: list[str]
    multiplier: float
    winners: int = Field(description="How many win.")
    reward: str | None
    status: Literal["upcoming", "running", "ended", "declared"]
    declared_winners: list[dict[str, Any]] | None = Field(
        description="Once declared: the winners with their points and rank."
    )


class Campaigns(Paged):
    items: list[Campaign]


class Member(BaseModel):
    member_id: str
    display_name: str | None = Field(description="Null once the member was forgotten.")
    team: str | None
    joined_at: datetime
    departed_at: datetime | None
    forgotten: bool
    active: bool


class Members(Paged):
    items: list[Member]


class Target(BaseModel):
    value: str
    target: float


class Revision(BaseModel):
    version: int
    effective_from: datetime
    recorded_at: datetime
    goals: list[dict[str, Any]]
    note: str | None
    targets: list[Target] = Field(description="Target weight per value this revision implies.")


class Strategy(BaseModel):
    revisions: list[Revision]
    in_force: int | None = Field(description="The version in force now (or at `as_of`).")
    as_of_position: int


class Recognition(BaseModel):
    position: int
    recognition_id: str
    from_member: str
    from_name: str | None = Field(description="Display name; null once forgotten.")
    to_member: str
    to_name: str | None = Field(description="Display name; null once forgotten.")
    value: str
    points: int
    occurred_at: datetime
    message: str | None = Field(
        default=None, description="Only for admin and service keys; null otherwise."
    )


class Recognitions(Paged):
    items: list[Recognition]


def install(
    app: FastAPI,
    answer: Answer,
    clock: Clock,
    decrypt: Decrypt | None,
    responses: dict[int | str, Any],
) -> None:
    def moment(as_of: datetime | None) -> tuple[datetime | None, datetime]:
        """(as_of in UTC, the moment the catalog is read at: as_of, or now)."""
        at = as_utc(as_of) if as_of else None
        return at, at or clock.now()

    @app.get("/v1/values", tags=["catalog"], responses=responses)
    async def values(
        request: Request,
        cursor: Cursor = None,
        limit: Limit = 50,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> Values:
        """The tenant's values, retired ones included, by key."""
        at, _ = moment(as_of)
        page = await answer(
            request, min_position, catalog.values, cursor=cursor, limit=limit, as_of=at
        )
        return Values.model_validate(page)

    @app.get("/v1/missions", tags=["catalog"], responses=responses)
    async def missions(
        request: Request,
        active: bool | None = None,
        member_id: MemberId = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> Missions:
        """Missions by id. `active=true`: open now. `member_id`: what that member can
        complete today and has not completed in this period yet."""
        at, now = moment(as_of)
        page = await answer(
            request,
            min_position,
            catalog.missions,
            as_of=at,
            now=now,
            active=active,
            member_id=member_id,
            cursor=cursor,
            limit=limit,
        )
        return Missions.model_validate(page)

    @app.get("/v1/campaigns", tags=["catalog"], responses=responses)
    async def campaigns(
        request: Request,
        cursor: Cursor = None,
        limit: Limit = 50,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> Campaigns:
        """Campaigns, newest first, with their status and, once declared, the winners."""
        at, now = moment(as_of)
        page = await answer(
            request,
            min_position,
            catalog.campaigns,
            now=now,
            as_of=at,
            cursor=cursor,
            limit=limit,
        )
        return Campaigns.model_validate(page)

    @app.get("/v1/members", tags=["catalog"], responses=responses)
    async def members(
        request: Request,
        team: Key = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> Members:
        """Members by id with their team and whether they are active (no contact data)."""
        at, now = moment(as_of)
        page = await answer(
            request,
            min_position,
            catalog.members,
            now=now,
            as_of=at,
            team=team,
            cursor=cursor,
            limit=limit,
        )
        return Members.model_validate(page)

    @app.get("/v1/strategy", tags=["catalog"], responses=responses)
    async def strategy(
        request: Request, as_of: AsOf = None, min_position: MinPosition = None
    ) -> Strategy:
        """Every strategy revision with its goals and target weights, and the one in force."""
        at, now = moment(as_of)
        found = await answer(request, min_position, catalog.strategy, now=now, as_of=at)
        return Strategy.model_validate(found)

    @app.get("/v1/recognitions", tags=["catalog"], responses=responses)
    async def recognitions(
        request: Request,
        member_id: MemberId = None,
        cursor: Cursor = None,
        limit: Limit = 50,
        as_of: AsOf = None,
        min_position: MinPosition = None,
    ) -> Recognitions:
        """The recognition feed, newest first (given or received by `member_id`)."""
        at, _ = moment(as_of)
        page = await answer(
            request,
            min_position,
            catalog.recognitions,
            as_of=at,
            member_id=member_id,
            decrypt=decrypt,
            cursor=cursor,
            limit=limit,
            by_role=lambda role: {"with_messages": role in MESSAGE_ROLES},
        )
        return Recognitions.model_validate(page)
