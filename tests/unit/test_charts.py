"""The dashboard's SVG drawings: readable colours, well-formed XML, what they must mark."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from ledger.dashboard import charts

SVG = "{http://www.w3.org/2000/svg}"


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_step_of_the_ramp_keeps_its_text_readable() -> None:
    for background, ink in charts.RAMP:
        assert contrast(background, ink) >= 4.5, (background, ink)


def test_the_ramp_only_darkens() -> None:
    lightness = [luminance(background) for background, _ in charts.RAMP]
    assert lightness == sorted(lightness, reverse=True)


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_more_points_never_get_a_lighter_cell(a: int, b: int, highest: int) -> None:
    low, high = sorted((a, b))
    highest = max(highest, high)
    step = charts.RAMP.index
    assert step(charts.shade(low, highest)) <= step(charts.shade(high, highest))
    assert (charts.shade(low, highest) == charts.RAMP[0]) == (low == 0)


def test_the_heatmap_writes_every_cells_points_and_escapes_names() -> None:
    doc = {
        "weeks": ["2026-11-02", "2026-11-09"],
        "rows": [
            {"team": "r&d <core>", "value": "speed", "cells": [{"points": 5}, None]},
            {"team": "sales", "value": "speed", "cells": [{"points": 0}, {"points": 40}]},
        ],
        "max_points": 40,
    }
    root = ET.fromstring(charts.heatmap_svg(doc, "Title & co"))
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "r&d <core> · speed" in texts
    assert [t for t in texts if t and t.isdigit()] == ["5", "0", "40"]
    assert root.find(f"{SVG}title").text == "Title & co"  # type: ignore[union-attr]


def point(start: str, score: float | None, version: int | None, changed: bool) -> dict[str, object]:
    return {
        "period": {"start": start},
        "score": score,
        "incentive_score": None if score is None else score - 5,
        "strategy_version": version,
        "revision_changed": changed,
    }


def test_the_alignment_trend_marks_each_revision_change_and_skips_empty_periods() -> None:
    trend = [
        point("2026-10-05", 60.0, 1, False),
        point("2026-10-12", None, 1, False),
        point("2026-10-19", 70.0, 2, True),
        point("2026-10-26", 80.0, 2, False),
    ]
    root = ET.fromstring(charts.alignment_svg(trend, "trend"))
    markers = [
        line for line in root.iter(f"{SVG}line") if line.get("data-testid") == "revision-marker"
    ]
    assert [m.get("data-strategy-version") for m in markers] == ["2"]
    # The empty period breaks each line: one segment of two points per series.
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 2
    assert all(len(line.get("points", "").split()) == 2 for line in lines)
    assert len(list(root.iter(f"{SVG}circle"))) == 3 + 1  # score points + legend


def test_the_leaderboard_draws_a_bar_per_member() -> None:
    doc = {
        "entries": [
            {"rank": 1, "member_id": "a", "display_name": "Ana", "points": 30},
            {"rank": 2, "member_id": "b", "display_name": None, "points": 10},
        ]
    }
    root = ET.fromstring(charts.leaderboard_svg(doc, "board"))
    assert len(list(root.iter(f"{SVG}rect"))) == 1 + 2  # background + bars
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "1. Ana" in texts and "2. b" in texts


def test_the_alignment_picture_states_its_dates_and_marks_a_partial_period() -> None:
    from ledger.dashboard.charts import alignment_svg

    def point(start: str, end: str, partial: bool) -> dict[str, object]:
        return {
            "period": {"start": start},
            "covers": (start, end),
            "partial": partial,
            "score": 80.0,
            "incentive_score": 70.0,
            "strategy_version": 1,
            "revision_changed": False,
        }

    svg = alignment_svg(
        [point("2026-11-01", "2026-11-30", False), point("2026-12-01", "2026-12-31", True)],
        "alignment",
    )
    assert "2026-11-01 to 2026-12-31" in svg
    assert svg.count("data-testid='partial-period'") == 1
    whole = alignment_svg([point("2026-11-01", "2026-11-30", False)], "alignment")
    assert "partial-period" not in whole
