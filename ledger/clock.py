"""The one clock. Everything that needs "now" asks a Clock, so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that only moves when told to (tests, demo history generation)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta

    def set(self, at: datetime) -> None:
        self.at = at


class ShiftedClock(Clock):
    """The wall clock moved so that it reads `start` when made, then runs on at its pace.

    What `LEDGER_TEST_NOW` gives a process (tests start `ledger serve` and the CLI at a
    chosen moment): seconds still pass, so timeouts, lag and `as_of` behave as in life.
    """

    def __init__(self, start: datetime) -> None:
        self.offset = as_utc(start) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def as_utc(moment: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
