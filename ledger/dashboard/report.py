"""`ledger report`: the dashboard's pictures as files, for slides and e-mails.

Read from the analysts' copy of the projections (never the server's own file), drawn by
the same functions as the pages (charts.py); PNG through Cairo.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from ledger.dashboard import charts, views

KINDS = ("heatmap", "alignment", "leaderboard")


def picture(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    tenant_id: str,
    now: datetime,
    period: str,
    team: str | None,
) -> str:
    """The SVG of one picture of one tenant."""
    if kind == "heatmap":
        doc = views.heatmap(con, tenant_id, now=now, date_from=None, date_to=None, team=team)
        return charts.heatmap_svg(
            doc,
            f"{tenant_id}: points per value and week{f', team {team}' if team else ''}, "
            f"{doc['from']} to {doc['to']}",
        )
    if kind == "alignment":
        doc = views.alignment(
            con,
            tenant_id,
            now=now,
            scope="team" if team else "tenant",
            team=team,
            period="month" if period == "month" else "week",
            at=None,
        )
        who = f"team {team}" if team else "the company"
        return charts.alignment_svg(doc["trend"], f"{tenant_id}: alignment of {who}")
    doc = views.leaderboard(
        con,
        tenant_id,
        now=now,
        period=period,
        at=None,
        team=team,
        value=None,
        campaign_id=None,
        member_id=None,
    )
    covers = doc["period"]
    dates = (
        "all time"
        if covers["start"] is None
        else f"{covers['start'][:10]} to {covers['end'][:10]} (end excluded)"
    )
    return charts.leaderboard_svg(doc, f"{tenant_id}: leaderboard, {period}, {dates}")


def write(svg: str, svg_path: Path | None, png_path: Path | None) -> list[Path]:
    written = []
    if svg_path is not None:
        svg_path.write_text(svg)
        written.append(svg_path)
    if png_path is not None:
        import cairosvg

        cairosvg.svg2png(bytestring=svg.encode(), write_to=str(png_path), scale=2)
        written.append(png_path)
    return written
