"""The drift watch's statistic: a binomial CUSUM per (scope, value) against a cautious
baseline, with epochs and onset, exactly as RULES.md "Drift watch" states it.

Pure: weekly counts in, series states and alerts out. Where the weeks come from (the
projections' daily rollups, or the facts as of a moment) is ledger.projections.drift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from uuid import UUID

from ledger.ids import aggregate_id

WEEK = timedelta(days=7)
BASELINE_MIN_WEEKS = 8
BASELINE_MIN_BEHAVIORS = 100
BASELINE_MAX_WEEKS = 12
REFERENCE_QUANTILE = 0.10
MIN_EXPECTED = 5.0  # p0 * n_B below this: too few behaviors of the value to watch


@dataclass(frozen=True)
class Week:
    """One complete local week of a series: behaviors with a revision in force (n) and
    their mass on the value (x: 1/k for a behavior with k values)."""

    start: date
    n: float
    x: float


@dataclass(frozen=True)
class Revision:
    """A strategy revision in force by the moment of evaluation: its epoch starts at the
    first week starting at or after its effective_from (`first_week`); `straddles` is
    the week holding effective_from when that is not a week start (no epoch's)."""

    version: int
    first_week: date
    straddles: date | None
    targets: dict[str, float]


@dataclass
class Trace:
    """A week as the watch saw it: the CUSUM after it (None while collecting)."""

    start: date
    n: float
    x: float
    cusum: float | None


@dataclass
class Alert:
    value: str
    strategy_version: int
    baseline_from: date
    baseline_to: date
    baseline_share: float
    reference: float
    target: float
    onset: date
    week: date
    share_since_onset: float
    behaviors_since_onset: float
    cusum: float
    trace: list[Trace] = field(default_factory=list)


@dataclass
class Series:
    """Where a series stands at the moment of evaluation (its current epoch)."""

    value: str
    state: str  # collecting, insufficient or watching
    weeks: int
    cusum: float | None = None
    onset: date | None = None
    baseline_share: float | None = None
    reference: float | None = None
    target: float | None = None
    trace: list[Trace] = field(default_factory=list)


@dataclass
class Watch:
    series: list[Series]
    alerts: list[Alert]


ALERT_KIND = "drift-alert"  # the DriftAlert aggregate's kind: its ids are these


def alert_key(
    scope: str, team: str | None, value: str, version: int, first_week: date
) -> tuple[str, ...]:
    """What an alert is about, and the epoch that gave it: its identity. A late fact that
    moves its week keeps it; one that moves the epoch's start makes another alert."""
    return (scope, team or "", value, str(version), first_week.isoformat())


def alert_id(tenant_id: str, *key: str) -> UUID:
    return aggregate_id(tenant_id, ALERT_KIND, *key)


@lru_cache(maxsize=4096)
def reference(x_b: float, n_b: float) -> float:
    """p0: the 0.10 quantile of Beta(1 + x_B, 1 + n_B - x_B)."""
    from scipy.stats import beta  # imported when first needed: scipy takes a while

    return float(beta.ppf(REFERENCE_QUANTILE, 1 + x_b, 1 + n_b - x_b))


def epochs(revisions: Sequence[Revision], last_week: date) -> list[tuple[Revision, date, date]]:
    """(revision, first week, last week) of each revision's epoch, empty ones dropped: an
    epoch runs to the week before the next revision's straddling or first week."""
    spans = []
    ordered = sorted(revisions, key=lambda r: r.first_week)
    for index, revision in enumerate(ordered):
        end = last_week
        if index + 1 < len(ordered):
            following = ordered[index + 1]
            end = min(end, (following.straddles or following.first_week) - WEEK)
        if revision.first_week <= end:
            spans.append((revision, revision.first_week, end))
    return spans


def watch_value(
    value: str,
    weeks: dict[date, tuple[float, float]],
    revisions: Sequence[Revision],
    last_week: date | None,
    decline: float,
    threshold: float,
) -> tuple[Series | None, list[Alert]]:
    """The series of one value in one scope: its state now and every alert it gave.

    `weeks`: week start -> (n, x) for the weeks that have behaviors (others count as
    empty weeks); `last_week`: the last complete week (None: none is complete yet).
    """
    alerts: list[Alert] = []
    if last_week is None or not revisions:
        return None, alerts
    spans = epochs(revisions, last_week)
    current: Series | None = None
    for revision, first, end in spans:
        target = revision.targets.get(value, 0.0)
        if target <= 0:
            current = None  # not watched in this epoch
            continue
        start = first
        current = Series(value, "collecting", 0, target=target)
        while start <= end:
            outcome = _sub_epoch(value, weeks, revision, start, end, target, decline, threshold)
            if isinstance(outcome, Alert):
                alerts.append(outcome)
                start = outcome.week + WEEK  # a new epoch after an alert
                current = Series(value, "collecting", 0, target=target)
                continue
            current = outcome
            break
    # Now is the latest revision in force: a value it gives no weight is not watched, and
    # one whose epoch has no complete week yet is collecting from nothing.
    latest = max(revisions, key=lambda r: r.first_week)
    target = latest.targets.get(value, 0.0)
    if target <= 0:
        return None, alerts
    if not spans or spans[-1][0] is not latest:
        return Series(value, "collecting", 0, target=target), alerts
    return current, alerts


def _sub_epoch(
    value: str,
    weeks: dict[date, tuple[float, float]],
    revision: Revision,
    start: date,
    end: date,
    target: float,
    decline: float,
    threshold: float,
) -> Series | Alert:
    """Baseline then monitoring from `start` to `end`: the first alert, or the state."""
    trace: list[Trace] = []
    x_b = n_b = 0.0
    week = start
    while week <= end:  # the baseline
        n, x = weeks.get(week, (0.0, 0.0))
        trace.append(Trace(week, n, x, None))
        x_b, n_b = x_b + x, n_b + n
        week += WEEK
        taken = len(trace)
        if (taken >= BASELINE_MIN_WEEKS and n_b >= BASELINE_MIN_BEHAVIORS) or (
            taken >= BASELINE_MAX_WEEKS
        ):
            break
    else:
        return Series(value, "collecting", len(trace), target=target, trace=trace)
    baseline_to = trace[-1].start
    p0 = reference(x_b, n_b)
    share = x_b / n_b if n_b else 0.0
    if p0 * n_b < MIN_EXPECTED:
        return Series(
            value,
            "insufficient",
            len(trace),
            baseline_share=share,
            reference=p0,
            target=target,
            trace=trace,
        )
    p1 = (1 - decline) * p0
    hit, miss = math.log(p1 / p0), math.log((1 - p1) / (1 - p0))
    cusum = 0.0
    onset: date | None = None  # the week after the last monitored week with C = 0
    monitored: list[Trace] = []
    while week <= end:
        n, x = weeks.get(week, (0.0, 0.0))
        cusum = max(0.0, cusum + x * hit + (n - x) * miss)
        step = Trace(week, n, x, cusum)
        trace.append(step)
        monitored.append(step)
        if cusum == 0:
            onset = None
        elif onset is None:
            onset = week
        if cusum > threshold:
            assert onset is not None
            since = [t for t in monitored if t.start >= onset]
            n_since = sum(t.n for t in since)
            share_since = sum(t.x for t in since) / n_since if n_since else 0.0
            if share_since < target:
                return Alert(
                    value,
                    revision.version,
                    start,
                    baseline_to,
                    share,
                    p0,
                    target,
                    onset,
                    week,
                    share_since,
                    n_since,
                    cusum,
                    trace,
                )
        week += WEEK
    return Series(
        value,
        "watching",
        len(trace),
        cusum=cusum,
        onset=onset if cusum > 0 else None,
        baseline_share=share,
        reference=p0,
        target=target,
        trace=trace,
    )
