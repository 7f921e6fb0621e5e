"""The drift watch's statistic (RULES.md "Drift watch") against a plain loop written here
from the rules' text, and the properties the issue names."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betaincinv

from ledger.drift.watch import Revision, watch_value

W = timedelta(days=7)
MONDAY = date(2026, 1, 5)


def plain_watch(weeks, revisions, last, value, decline, threshold):
    """RULES.md "Drift watch", literally: epochs, baseline, p0, CUSUM, onset, alert."""
    revisions = sorted(revisions, key=lambda r: r.first_week)
    alerts, state = [], None
    if not revisions:
        return None, []
    for i, r in enumerate(revisions):
        stop = last
        if i + 1 < len(revisions):
            nxt = revisions[i + 1]
            stop = min(stop, (nxt.straddles or nxt.first_week) - W)
        target = r.targets.get(value, 0.0)
        start = r.first_week
        if target <= 0:  # not watched while the revision gives it no weight
            state = None
            continue
        state = ("collecting", 0)  # a revision in force restarts the baseline
        while start <= stop:
            # the baseline
            taken, xb, nb, w = 0, 0.0, 0.0, start
            done = False
            while w <= stop:
                n, x = weeks.get(w, (0.0, 0.0))
                taken, xb, nb, w = taken + 1, xb + x, nb + n, w + W
                if (taken >= 8 and nb >= 100) or taken >= 12:
                    done = True
                    break
            if not done:
                state = ("collecting", taken)
                break
            p0 = float(betaincinv(1 + xb, 1 + nb - xb, 0.10))
            if p0 * nb < 5:
                state = ("insufficient", taken)
                break
            p1 = (1 - decline) * p0
            c, history, alerted = 0.0, [], None
            while w <= stop:
                n, x = weeks.get(w, (0.0, 0.0))
                c = max(0.0, c + x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0)))
                history.append((w, n, x, c))
                zeros = [h[0] for h in history if h[3] == 0]
                onset = zeros[-1] + W if zeros else history[0][0]
                if c > threshold:
                    since = [h for h in history if h[0] >= onset]
                    share = sum(h[2] for h in since) / sum(h[1] for h in since)
                    if share < target:
                        alerted = (value, r.version, start, w, onset, round(c, 9), round(p0, 9))
                        break
                w += W
            if alerted:
                alerts.append(alerted)
                start = alerted[3] + W
                state = ("collecting", 0)
                continue
            state = ("watching", round(c, 9))
            break
    return state, alerts


def ours(weeks, revisions, last, value, decline, threshold):
    series, alerts = watch_value(value, weeks, revisions, last, decline, threshold)
    state = None
    if series is not None:
        state = (
            (series.state, round(series.cusum, 9))
            if series.state == "watching"
            else (series.state, series.weeks)
        )
    return state, [
        (
            a.value,
            a.strategy_version,
            a.baseline_from,
            a.week,
            a.onset,
            round(a.cusum, 9),
            round(a.reference, 9),
        )
        for a in alerts
    ]


@st.composite
def histories(draw):
    count = draw(st.integers(min_value=0, max_value=60))
    shares = draw(st.lists(st.floats(0, 1), min_size=count, max_size=count))
    volumes = draw(st.lists(st.integers(0, 80), min_size=count, max_size=count))
    weeks = {
        MONDAY + i * W: (float(n), round(n * p * 4) / 4)
        for i, (n, p) in enumerate(zip(volumes, shares, strict=True))
        if n
    }
    starts = sorted(draw(st.sets(st.integers(0, max(count, 1)), min_size=1, max_size=3)))
    revisions = []
    for version, offset in enumerate(starts, start=1):
        straddles = draw(st.booleans()) and offset > 0
        target = draw(st.sampled_from([0.0, 0.1, 0.4, 0.9]))
        revisions.append(
            Revision(
                version,
                MONDAY + offset * W,
                MONDAY + (offset - 1) * W if straddles else None,
                {"v": target},
            )
        )
    decline = draw(st.sampled_from([0.1, 0.3, 0.5]))
    threshold = draw(st.sampled_from([2.0, 5.0, 9.0]))
    last = MONDAY + (count - 1) * W
    return weeks, revisions, last, decline, threshold


@settings(max_examples=300, deadline=None)
@given(histories())
def test_the_watch_equals_a_plain_loop_of_the_rules(history) -> None:
    weeks, revisions, last, decline, threshold = history
    assert ours(weeks, revisions, last, "v", decline, threshold) == plain_watch(
        weeks, revisions, last, "v", decline, threshold
    )


def steady(weeks: int, n: float = 50, share: float = 0.4, start: int = 0):
    return {MONDAY + (start + i) * W: (n, n * share) for i in range(weeks)}


ONE = [Revision(1, MONDAY, None, {"v": 0.4, "w": 0.6})]


def test_weeks_without_behaviors_leave_the_cusum_unchanged() -> None:
    fading = steady(10) | {MONDAY + (10 + i) * W: (50.0, 50 * 0.25) for i in range(3)}
    before, _ = watch_value("v", fading, ONE, MONDAY + 12 * W, 0.3, 50)
    after, _ = watch_value("v", fading, ONE, MONDAY + 20 * W, 0.3, 50)  # 8 empty weeks
    assert before is not None and after is not None and before.cusum > 0
    assert after.cusum == before.cusum and after.onset == before.onset


def test_a_week_at_a_fifth_of_its_volume_with_the_same_mix_raises_nothing() -> None:
    weeks = steady(30) | {MONDAY + 20 * W: (10.0, 4.0)}
    series, alerts = watch_value("v", weeks, ONE, MONDAY + 29 * W, 0.3, 9)
    assert alerts == [] and series is not None and series.cusum == 0


def test_a_fading_value_is_alerted_with_its_onset_in_the_fade() -> None:
    fade = {MONDAY + (12 + i) * W: (50.0, 50 * (0.4 - 0.03 * i)) for i in range(12)}
    _, alerts = watch_value("v", steady(12) | fade, ONE, MONDAY + 23 * W, 0.3, 9)
    assert len(alerts) == 1
    assert MONDAY + 12 * W <= alerts[0].onset <= alerts[0].week <= MONDAY + 21 * W
    assert alerts[0].share_since_onset < 0.4 and alerts[0].cusum > 9


def test_every_strategy_revision_restarts_the_baseline() -> None:
    two = [*ONE, Revision(2, MONDAY + 20 * W, MONDAY + 19 * W, {"v": 0.4})]
    series, _ = watch_value("v", steady(30), two, MONDAY + 23 * W, 0.3, 9)
    # Epoch 2 starts at week 20 (week 19 straddles the change): 4 weeks collected.
    assert series is not None and (series.state, series.weeks) == ("collecting", 4)


def test_a_value_without_target_weight_is_not_watched() -> None:
    series, alerts = watch_value("x", steady(30, share=0.0), ONE, MONDAY + 29 * W, 0.3, 2)
    assert series is None and alerts == []


def test_a_thin_value_is_insufficient_for_the_rest_of_its_epoch() -> None:
    series, _ = watch_value("v", steady(30, n=10, share=0.02), ONE, MONDAY + 29 * W, 0.3, 9)
    assert series is not None and series.state == "insufficient"


@pytest.mark.parametrize("decline", [0.1, 0.3, 0.9])
def test_a_steady_value_at_its_baseline_share_never_alerts(decline: float) -> None:
    _, alerts = watch_value("v", steady(104), ONE, MONDAY + 103 * W, decline, 2)
    assert alerts == []
