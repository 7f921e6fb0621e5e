"""Mission: a focus mission definition (values, points, cadence, window, teams)."""

from __future__ import annotations

from datetime import datetime

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import AlreadyDone, AlreadyExists, NotOnTeam, OutsideWindow
from ledger.events import LedgerEvent


class MissionPublished(LedgerEvent):
    mission_id: str
    title: str
    values: list[str]
    points: int
    cadence: str
    requires_verification: bool = False
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    teams: list[str] = []

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Mission)
        aggregate.definition = self


class MissionArchived(LedgerEvent):
    mission_id: str

    def apply(self, aggregate: LedgerAggregate) -> None:
        assert isinstance(aggregate, Mission)
        aggregate.archived = True


class Mission(LedgerAggregate):
    events = (MissionPublished, MissionArchived)
    kind = "mission"

    def init_state(self) -> None:
        self.definition: MissionPublished | None = None
        self.archived = False

    @property
    def spec(self) -> MissionPublished:
        assert self.definition is not None
        return self.definition

    def publish(self, **definition: object) -> None:
        if self.exists:
            raise AlreadyExists(
                f"mission {definition['mission_id']!r} already exists", field="mission_id"
            )
        self.trigger(MissionPublished, **definition)

    def archive(self) -> None:
        if self.archived:
            raise AlreadyDone("the mission is already archived")
        self.trigger(MissionArchived, mission_id=self.spec.mission_id)

    def admit(self, team: str | None, moment: datetime) -> MissionPublished:
        """Check a completion against the mission (its teams, its window); its spec."""
        self._check_team(team)
        self._check_window(moment)
        return self.spec

    def _check_window(self, moment: datetime) -> None:
        spec = self.spec
        if (spec.starts_at and moment < spec.starts_at) or (
            spec.ends_at and moment >= spec.ends_at
        ):
            raise OutsideWindow(
                "occurred_at lies outside the mission's window", field="occurred_at"
            )

    def _check_team(self, team: str | None) -> None:
        if self.spec.teams and team not in self.spec.teams:
            raise NotOnTeam(
                "the member is not in the mission's teams at occurred_at", field="member_id"
            )
