"""`ledger drift`: the drift watch of a tenant, from the event store itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from ledger.config import Settings

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded data lives.")]


def register(
    app: typer.Typer,
    console: Console,
    settings_for: Callable[[Path | None], Settings],
    refuse: Callable[..., typer.Exit],
) -> None:
    @app.command()
    def drift(
        tenant: Annotated[str, typer.Option("--tenant", help="The tenant.")],
        team: Annotated[str | None, typer.Option("--team", help="One team only.")] = None,
        as_of: Annotated[
            datetime | None,
            typer.Option("--as-of", help="The watch as it stood then (UTC if no offset)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """The drift watch (RULES.md): alerts first, then the state of every series.

        Computed from the event store (a scratch projection of it), like the audit: the
        same answer as GET /v1/drift without trusting any projection file.
        """
        from ledger.audit.explain import scratch_projection
        from ledger.bootstrap import open_ledger
        from ledger.clock import as_utc
        from ledger.errors import NotFound
        from ledger.projections import drift as watch

        moment = as_utc(as_of) if as_of else None
        ledger = open_ledger(settings_for(data_dir))
        try:
            try:
                ledger.tenant(tenant)
            except NotFound as unknown:
                raise refuse(str(unknown), 2) from None
            projection = scratch_projection(ledger, moment)
            try:
                document = projection.run(
                    watch.drift,
                    tenant,
                    now=ledger.clock.now(),
                    scope="team" if team else None,
                    team=team,
                    as_of=moment,
                )
            finally:
                projection.close()
        finally:
            ledger.close()
        if as_json:
            typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
            return
        show(console, document)

    @app.command()
    def recalibrate(
        tenant: Annotated[str, typer.Option("--tenant", help="The tenant.")],
        team: Annotated[str | None, typer.Option("--team", help="One team only.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
        data_dir: DataDir = None,
    ) -> None:
        """What would bring each under-served value back (RULES.md "Recalibration"): for
        the last 4 complete weeks, each lever's exact extra points and incentive score,
        and a range of behavior scores with the elasticity it assumes. Never writes.

        Each lever's `change` reproduces it: ledger simulate --change FILE --json.
        """
        from ledger.audit.explain import scratch_projection
        from ledger.bootstrap import open_ledger
        from ledger.errors import LedgerError
        from ledger.recalibration import levers

        ledger = open_ledger(settings_for(data_dir))
        try:
            try:
                ledger.tenant(tenant)
            except LedgerError as unknown:
                raise refuse(str(unknown), 2) from None
            projection = scratch_projection(ledger)
            try:
                document = projection.run(
                    levers.recalibrate,
                    tenant,
                    store=ledger.store,
                    now=ledger.clock.now(),
                    scope="team" if team else "tenant",
                    team=team,
                )
            except LedgerError as refused:
                raise refuse(str(refused), 2) from None
            finally:
                projection.close()
        finally:
            ledger.close()
        if as_json:
            typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
            return
        show_levers(console, document)


def show_levers(console: Console, document: dict[str, Any]) -> None:
    window = document["window"]
    where = f"team {document['team']}" if document["team"] else "the whole company"
    console.print(
        f"{where}, {window['from']} to {window['to']}: score {document['score']} "
        f"over {document['behaviors']} behaviors",
        highlight=False,
    )
    if not document["values"]:
        console.print("no under-served value", highlight=False)
    for value in document["values"]:
        console.print(
            f"[bold]{value['value']}[/]: {value['observed']:.1%} of behavior against a target of "
            f"{value['target']:.1%}" + (" (alerted)" if value["alert_id"] else ""),
            highlight=False,
        )
        for lever in value["levers"]:
            e, score = lever["elasticity"], lever["score"]
            label = lever["kind"].replace("_", " ")
            if lever["kind"] == "campaign":
                label += f" x{lever['change']['new_campaigns'][0]['multiplier']}"
            console.print(
                f"  {'*' if lever['recommended'] else ' '} {label}: +{lever['extra_points']} "
                f"points, incentive score {lever['incentive_score']['before']} -> "
                f"{lever['incentive_score']['after']}, behavior score {score['before']} -> "
                f"{score['low']} .. {score['high']} (central {score['central']}; elasticity "
                f"{e['low']}/{e['central']}/{e['high']}, "
                + (
                    f"learned from {len(e['campaigns'])} past campaigns"
                    if e["source"] == "past_campaigns"
                    else "assumed: too few past campaigns to learn from"
                )
                + ")",
                highlight=False,
            )
    console.print("* recommended: even the low end of the range gains", highlight=False)


def show(console: Console, document: dict[str, Any]) -> None:
    for alert in document["alerts"]:
        where = f"team {alert['team']}" if alert["team"] else "the whole company"
        state = "current" if alert["current"] else "no longer given by the facts"
        console.print(
            f"[bold]{alert['value']}[/] fading in {where} since {alert['onset']} "
            f"(alert week {alert['week']}, {state}): {alert['share_since_onset']:.1%} of "
            f"{alert['behaviors_since_onset']} behaviors, baseline "
            f"{alert['baseline_share']:.1%}, target {alert['target']:.1%}, "
            f"CUSUM {alert['cusum']} > {document['threshold']}",
            highlight=False,
        )
    table = Table(title=f"series (alarm line {document['threshold']})")
    for column in ("scope", "team", "value", "state", "weeks", "cusum", "onset"):
        table.add_column(column)
    for s in document["series"]:
        table.add_row(
            s["scope"],
            s["team"] or "",
            s["value"],
            s["state"],
            str(s["weeks"]),
            "" if s["cusum"] is None else str(s["cusum"]),
            s["onset"] or "",
        )
    console.print(table)
    console.print(f"{len(document['alerts'])} alert(s)", highlight=False)
