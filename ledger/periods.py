"""Local calendar periods of a tenant: days, ISO weeks (Monday 00:00) and months.

All instants are stored in UTC; periods are computed in the tenant's IANA
timezone, so a week across a DST change is still Monday 00:00 local to
Monday 00:00 local (167 or 169 hours long).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ledger.clock import as_utc


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_timezone(name: str) -> bool:
    if name not in _known_zones():
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


HOST_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # Host-dependent names ("localtime" is whatever the server is set to) and the
    # posix/ and right/ duplicate trees are not IANA zone names.
    return frozenset(
        name
        for name in available_timezones()
        if name not in HOST_ZONES and not name.startswith(("posix/", "right/"))
    ) | {"UTC"}


def local_date(moment: datetime, tz: str) -> date:
    return as_utc(moment).astimezone(zone(tz)).date()


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    first = month_start(day)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant of 00:00 local time on `day`."""
    return datetime.combine(day, time.min, tzinfo=zone(tz)).astimezone(zone("UTC"))


def cadence_period(cadence: str, moment: datetime, tz: str) -> str:
    """Key of the cadence period holding `moment`: 'once', a local day, or a week_start."""
    if cadence == "once":
        return "once"
    day = local_date(moment, tz)
    if cadence == "daily":
        return day.isoformat()
    if cadence == "weekly":
        return "W" + week_start(day).isoformat()
    raise ValueError(f"unknown cadence {cadence!r}")


def month_key(moment: datetime, tz: str) -> str:
    return month_start(local_date(moment, tz)).isoformat()[:7]


def week_key(moment: datetime, tz: str) -> str:
    return week_start(local_date(moment, tz)).isoformat()


def round_half_up(value: float | Decimal, places: int = 0) -> Decimal:
    """Round half away from zero for positives, as RULES.md's round_half_up."""
    quantum = Decimal(1).scaleb(-places)
    return Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
