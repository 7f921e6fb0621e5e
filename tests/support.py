"""Test helpers: a World with a tenant, callers of each role, and given/when/then."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.clock import FixedClock, ShiftedClock
from ledger.commands.base import Caller, Command
from ledger.commands.members import AddMember
from ledger.commands.missions import PublishMission
from ledger.commands.strategy import DefineValue
from ledger.commands.tenancy import CreateTenant
from ledger.service import Ledger

# A Wednesday, mid-month, so "this week" and "this month" have room either side: the
# given/when/then tests are written around this fixed moment.
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
OPERATOR = Caller("", "operator", "operator")

# The tests that run servers and CLI processes (marker `calendar`) run on one timeline
# that starts at `pytest --moment` (the calendar run of .ci/run picks Monday mornings,
# Sunday nights, DST nights, month and year ends), or at NOW. Never the real date.
_timeline = ShiftedClock(NOW)


def start_timeline(moment: datetime) -> None:
    global _timeline
    _timeline = ShiftedClock(moment)


def timeline() -> ShiftedClock:
    """The clock of the servers the tests start (in-process, and passed to processes)."""
    return _timeline


def now() -> datetime:
    """Now on the tests' timeline (what the servers they start read as now)."""
    return _timeline.now()


def ledger_cli(*args: str, timeout: float = 120) -> Any:
    """`ledger ARGS` as a real process on the tests' timeline: its CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=process_env(COLUMNS="300"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def process_env(base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a ledger process a test starts: its clock on the timeline."""
    env = dict(os.environ if base is None else base)
    env.update(extra)
    env["LEDGER_TEST_NOW"] = now().isoformat()
    return env


class World:
    """One tenant in a ledger, with a caller per role and a movable clock."""

    def __init__(
        self,
        ledger: Ledger,
        clock: FixedClock,
        tenant_id: str = "acme",
        timezone: str = "UTC",
        **settings: Any,
    ) -> None:
        self.ledger, self.clock, self.tenant_id = ledger, clock, tenant_id
        body: dict[str, Any] = {
            "tenant_id": tenant_id,
            "name": tenant_id.title(),
            "timezone": timezone,
        }
        if settings:
            body["settings"] = {"timezone": timezone, **settings}
        ledger.execute(CreateTenant(**body), Caller(tenant_id, "operator", "operator"))
        self.admin = Caller(tenant_id, "admin", "admin-key")
        self.manager = Caller(tenant_id, "manager", "manager-key")
        self.service = Caller(tenant_id, "service", "chatbot")
        self.analyst = Caller(tenant_id, "analyst", "analyst-key")

    def run(self, command: Command, caller: Caller | None = None, **kw: Any) -> dict[str, Any]:
        return self.ledger.execute(command, caller or self.admin, **kw).response

    def position(self) -> int:
        return self.ledger.store.max_position()

    def events_after(self, position: int) -> list[Any]:
        return [
            self.ledger.store.mapper.to_domain_event(n)
            for n in self.ledger.store.select(position, 10_000)
        ]

    def event_types_after(self, position: int) -> list[str]:
        return [type(e).__name__ for e in self.events_after(position)]

    # -- common set-up ----------------------------------------------------------------

    def values(self, *keys: str) -> None:
        for key in keys:
            self.run(DefineValue(key=key, name=key.replace("-", " ").title()))

    def member(
        self, member_id: str, team: str = "sales", joined_days_ago: int = 100, **kw: Any
    ) -> None:
        self.run(
            AddMember(
                member_id=member_id,
                display_name=member_id.title(),
                team=team,
                joined_at=self.clock.now() - timedelta(days=joined_days_ago),
                **kw,
            )
        )

    def mission(
        self,
        mission_id: str,
        values: list[str],
        points: int = 10,
        cadence: str = "daily",
        **kw: Any,
    ) -> None:
        self.run(
            PublishMission(
                mission_id=mission_id,
                title=mission_id,
                values=values,
                points=points,
                cadence=cadence,
                **kw,
            )
        )

    def standard(self) -> World:
        """Three values, three members in two teams, a daily mission."""
        self.values("customer-focus", "ownership", "innovation")
        self.member("ana")
        self.member("bo")
        self.member("cy", team="support")
        self.mission("follow-up", ["customer-focus"], points=10, cadence="daily")
        return self


def refused(
    world: World, command: Command, status: int, caller: Caller | None = None, **kw: Any
) -> Exception:
    """Then: the command is refused with `status` and records nothing."""
    from ledger.errors import LedgerError
    from ledger.web.problems import status_of

    before = world.position()
    try:
        world.run(command, caller, **kw)
    except LedgerError as error:
        answered = status_of(error)
        assert answered == status, f"expected {status}, got {answered}: {error.detail}"
        assert world.position() == before, "a refused command recorded events"
        return error
    raise AssertionError(f"{type(command).__name__} was accepted, expected {status}")


def days(n: float) -> timedelta:
    return timedelta(days=n)


class Projected:
    """A World whose events are projected into a DuckDB file on demand."""

    def __init__(self, world: World, path: str) -> None:
        from consumers.sources import StoreSource
        from ledger.projections.projection import Projection

        self.world = world
        self.projection = Projection(path, decrypt=world.ledger.personal.decrypt)
        self.source = StoreSource(world.ledger.store)

    def catch_up(self) -> None:
        from consumers.projector import catch_up

        catch_up(self.projection, self.source)

    def con(self) -> Any:
        self.catch_up()
        return self.projection.reader()
