"""Member: profile (personal data encrypted), effective-dated team history, departure."""

from __future__ import annotations

from datetime import datetime

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, AlreadyExists, Invalid
from ledger.events import LedgerEvent


class MemberJoined(LedgerEvent):
    member_id: str
    display_name: str | None  # ciphertext under the member's key
    email: str | None  # ciphertext under the member's key
    team: str
    joined_at: datetime

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Member)
        aggregate.member_id = self.member_id
        aggregate.display_name = self.display_name
        aggregate.email = self.email
        aggregate.joined_at = self.joined_at
        aggregate.moves.append((self.joined_at, self.team))


class MemberMoved(LedgerEvent):
    member_id: str
    team: str
    effective_from: datetime

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Member)
        aggregate.moves.append((self.effective_from, self.team))


class MemberDeparted(LedgerEvent):
    member_id: str
    effective_from: datetime

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Member)
        aggregate.departed_at = self.effective_from


class MemberForgotten(LedgerEvent):
    """The member's key was destroyed; their personal data is unreadable from now on."""

    member_id: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Member)
        aggregate.forgotten = True


class Member(LedgerAggregate):
    events = (MemberJoined, MemberMoved, MemberDeparted, MemberForgotten)
    kind = "member"

    def init_state(self) -> None:
        self.member_id = ""
        self.display_name: str | None = None
        self.email: str | None = None
        self.joined_at: datetime | None = None
        # (effective_from, team) in recording order: the later recorded wins a tie.
        self.moves: list[tuple[datetime, str]] = []
        self.departed_at: datetime | None = None
        self.forgotten = False

    def join(
        self,
        member_id: str,
        display_name: str | None,
        email: str | None,
        team: str,
        joined_at: datetime,
    ) -> None:
        if self.exists:
            raise AlreadyExists(f"member {member_id!r} already exists", field="member_id")
        self.trigger(
            MemberJoined,
            member_id=member_id,
            display_name=display_name,
            email=email,
            team=team,
            joined_at=joined_at,
        )

    def move(self, team: str, effective_from: datetime) -> None:
        assert self.joined_at is not None
        if effective_from < self.joined_at:
            raise Invalid(
                "a move cannot take effect before the member joined", field="effective_from"
            )
        self.trigger(
            MemberMoved, member_id=self.member_id, team=team, effective_from=effective_from
        )

    def depart(self, effective_from: datetime) -> None:
        assert self.joined_at is not None
        if self.departed_at is not None:
            raise AlreadyDone("the member has already departed", field="effective_from")
        if effective_from < self.joined_at:
            raise Invalid(
                "a departure cannot take effect before the member joined", field="effective_from"
            )
        self.trigger(MemberDeparted, member_id=self.member_id, effective_from=effective_from)

    def forget(self) -> None:
        if self.forgotten:
            raise AlreadyDone("the member is already forgotten")
        self.trigger(MemberForgotten, member_id=self.member_id)

    def team_at(self, moment: datetime) -> str | None:
        team = None
        # Stable sort keeps recording order among equal effective_from: later recorded wins.
        for effective_from, moved_to in sorted(self.moves, key=lambda m: m[0]):
            if effective_from <= moment:
                team = moved_to
        return team

    def is_active_at(self, moment: datetime) -> bool:
        if self.joined_at is None or moment < self.joined_at:
            return False
        return self.departed_at is None or moment < self.departed_at
