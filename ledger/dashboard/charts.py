"""Pictures as SVG text, drawn on the server: the same drawing serves the dashboard and
`ledger report` (slides, e-mail). No script and no network needed to look at them.

Colours: a single-hue blue ramp (it varies in lightness, so it reads the same with any
colour vision) with text colours that keep WCAG AA contrast on every step; the two
alignment lines differ by dash pattern and marker shape as well as by colour.
"""

from __future__ import annotations

from html import escape
from typing import Any

# (background, text) per step, lightest first: black text on the light steps, white on
# the dark ones (each pair has a contrast ratio of at least 4.5).
RAMP = [
    ("#f7fbff", "#111111"),
    ("#deebf7", "#111111"),
    ("#c6dbef", "#111111"),
    ("#9ecae1", "#111111"),
    ("#6baed6", "#111111"),
    ("#2171b5", "#ffffff"),
    ("#08306b", "#ffffff"),
]
SCORE = "#08519c"
INCENTIVE = "#a63603"
FONT = "font-family='system-ui, sans-serif' font-size='12'"
HEADING = "font-family='system-ui, sans-serif' font-size='16' font-weight='600'"


def step(points: int, highest: int) -> int:
    """The step of the ramp for a cell (the pages' `step-N` class): 0 only for nothing."""
    if points <= 0 or highest <= 0:
        return 0
    return 1 + min(len(RAMP) - 2, int((len(RAMP) - 1) * points / (highest + 1)))


def shade(points: int, highest: int) -> tuple[str, str]:
    """The (background, text) colours of a cell."""
    return RAMP[step(points, highest)]


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>"
        f"<title>{escape(title)}</title><rect width='100%' height='100%' fill='#ffffff'/>"
        + "".join(body)
        + "</svg>"
    )


def heatmap_svg(doc: dict[str, Any], title: str) -> str:
    """A grid of (team, value) rows by week, each cell's points written in it."""
    weeks, rows = doc["weeks"], doc["rows"]
    left, top, cell_w, cell_h = 230, 60, 58, 26
    width = left + cell_w * max(1, len(weeks)) + 20
    height = top + cell_h * max(1, len(rows)) + 30
    body = [f"<text x='10' y='24' {HEADING}>{escape(title)}</text>"]
    for i, week in enumerate(weeks):
        x = left + i * cell_w + cell_w / 2
        body.append(f"<text x='{x}' y='{top - 8}' {FONT} text-anchor='middle'>{week[5:]}</text>")
    for j, row in enumerate(rows):
        y = top + j * cell_h
        label = f"{row['team']} · {row['value']}"
        body.append(
            f"<text x='{left - 8}' y='{y + 17}' {FONT} text-anchor='end'>{escape(label)}</text>"
        )
        for i, cell in enumerate(row["cells"]):
            points = cell["points"] if cell else 0
            fill, ink = shade(points, doc["max_points"])
            x = left + i * cell_w
            body.append(
                f"<rect x='{x}' y='{y}' width='{cell_w - 2}' height='{cell_h - 2}' fill='{fill}'/>"
                f"<text x='{x + cell_w / 2 - 1}' y='{y + 17}' {FONT} fill='{ink}' "
                f"text-anchor='middle'>{points if cell else ''}</text>"
            )
    if not rows:
        body.append(f"<text x='10' y='{top + 17}' {FONT}>No behaviors in these weeks.</text>")
    return _svg(width, height, title, body)


def leaderboard_svg(doc: dict[str, Any], title: str) -> str:
    """Horizontal bars, one per ranked member, with rank and points."""
    entries = doc["entries"]
    left, top, bar_h, span = 220, 44, 24, 420
    height = top + bar_h * max(1, len(entries)) + 20
    best = max((e["points"] for e in entries), default=0) or 1
    body = [f"<text x='10' y='24' {HEADING}>{escape(title)}</text>"]
    for i, entry in enumerate(entries):
        y = top + i * bar_h
        name = entry["display_name"] or entry["member_id"]
        width = max(2, span * max(0, entry["points"]) / best)
        body.append(
            f"<text x='{left - 8}' y='{y + 16}' {FONT} text-anchor='end'>"
            f"{entry['rank']}. {escape(name)}</text>"
            f"<rect x='{left}' y='{y + 3}' width='{width:.1f}' height='{bar_h - 6}' "
            f"fill='{SCORE}'/>"
            f"<text x='{left + width + 6:.1f}' y='{y + 16}' {FONT}>{entry['points']}</text>"
        )
    if not entries:
        body.append(f"<text x='10' y='{top + 16}' {FONT}>Nobody has points in this period.</text>")
    return _svg(left + span + 80, height, title, body)


def alignment_svg(trend: list[dict[str, Any]], title: str) -> str:
    """Score and incentive score (0-100) per period; a dashed vertical line where the
    strategy revision changed; gaps where a period had no behavior."""
    left, top, plot_w, plot_h = 50, 50, 640, 220
    step = plot_w / max(1, len(trend) - 1)
    if trend and "covers" in trend[0]:
        title = f"{title}, {trend[0]['covers'][0]} to {trend[-1]['covers'][1]}"
    body = [f"<text x='10' y='24' {HEADING}>{escape(title)}</text>"]
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h - plot_h * tick / 100
        body.append(
            f"<line x1='{left}' x2='{left + plot_w}' y1='{y}' y2='{y}' stroke='#dddddd'/>"
            f"<text x='{left - 6}' y='{y + 4}' {FONT} text-anchor='end'>{tick}</text>"
        )
    for i, point in enumerate(trend):
        x = left + i * step
        start = point["period"]["start"]
        body.append(
            f"<text x='{x}' y='{top + plot_h + 16}' {FONT} text-anchor='middle'>{start[5:]}</text>"
        )
        if point.get("partial"):
            body.append(
                f"<text x='{x}' y='{top + plot_h + 28}' {FONT} text-anchor='middle' "
                f"data-testid='partial-period'>so far</text>"
            )
        if point.get("revision_changed"):
            body.append(
                f"<line x1='{x}' x2='{x}' y1='{top}' y2='{top + plot_h}' stroke='#555555' "
                f"stroke-dasharray='4 3' data-testid='revision-marker' "
                f"data-strategy-version='{point['strategy_version']}'/>"
                f"<text x='{x + 4}' y='{top - 8}' {FONT}>"
                f"revision {point['strategy_version']}</text>"
            )
    for key, colour, dash, marker in (
        ("score", SCORE, "", "circle"),
        ("incentive_score", INCENTIVE, "6 4", "square"),
    ):
        segment: list[str] = []
        for i, point in enumerate([*trend, {key: None}]):
            if point.get(key) is None:
                if len(segment) > 1:
                    body.append(
                        f"<polyline points='{' '.join(segment)}' fill='none' stroke='{colour}' "
                        f"stroke-width='2' stroke-dasharray='{dash}'/>"
                    )
                segment = []
                continue
            x, y = left + i * step, top + plot_h - plot_h * point[key] / 100
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{colour}'/>"
                if marker == "circle"
                else f"<rect x='{x - 4:.1f}' y='{y - 4:.1f}' width='8' height='8' fill='{colour}'/>"
            )
    legend_y = top + plot_h + 40
    body.append(
        f"<circle cx='{left + 6}' cy='{legend_y - 4}' r='4' fill='{SCORE}'/>"
        f"<text x='{left + 16}' y='{legend_y}' {FONT}>score (what people do)</text>"
        f"<rect x='{left + 226}' y='{legend_y - 8}' width='8' height='8' fill='{INCENTIVE}'/>"
        f"<text x='{left + 240}' y='{legend_y}' {FONT}>incentive score (what is rewarded)</text>"
    )
    return _svg(left + plot_w + 40, legend_y + 16, title, body)


def cusum_svg(weeks: list[dict[str, Any]], threshold: float, title: str) -> str:
    """An alert's CUSUM week by week (bars, from the week after its baseline) under the
    dashed alarm line; the baseline weeks are drawn as a grey band."""
    width, height, left, top, bottom = 360, 120, 34, 26, 22
    inner_w, inner_h = width - left - 10, height - top - bottom
    top_value = max([threshold * 1.2, *[w["cusum"] or 0 for w in weeks]]) or 1
    slot = inner_w / max(1, len(weeks))

    def y(value: float) -> float:
        return top + inner_h - inner_h * value / top_value

    body = [f"<text x='4' y='16' {FONT}>{escape(title)}</text>"]
    for i, week in enumerate(weeks):
        x = left + i * slot
        if week["cusum"] is None:
            body.append(
                f"<rect x='{x:.1f}' y='{top}' width='{slot:.1f}' height='{inner_h}' "
                "fill='#eeeeee'/>"
            )
        else:
            bar = max(1.0, top + inner_h - y(week["cusum"]))
            wide = max(1.0, slot - 2)
            body.append(
                f"<rect x='{x + 1:.1f}' y='{top + inner_h - bar:.1f}' width='{wide:.1f}' "
                f"height='{bar:.1f}' fill='{SCORE}'><title>{escape(week['week_start'])}: "
                f"CUSUM {week['cusum']}</title></rect>"
            )
    line = y(threshold)
    body.append(
        f"<line x1='{left}' x2='{width - 10}' y1='{line:.1f}' y2='{line:.1f}' "
        f"stroke='{INCENTIVE}' stroke-width='2' stroke-dasharray='6 3'/>"
        f"<text x='{left}' y='{line - 4:.1f}' {FONT} fill='{INCENTIVE}'>alarm {threshold:g}</text>"
    )
    if weeks:
        body.append(
            f"<text x='{left}' y='{height - 6}' {FONT}>{escape(weeks[0]['week_start'])}</text>"
            f"<text x='{width - 10}' y='{height - 6}' {FONT} text-anchor='end'>"
            f"{escape(weeks[-1]['week_start'])}</text>"
        )
    return _svg(width, height, title, body)
