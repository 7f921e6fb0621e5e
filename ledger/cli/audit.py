"""The audit commands of the `ledger` CLI: audit, verify, digest, simulate, detect."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import Progress

from ledger.config import Settings

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded data lives.")]
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
FromDate = Annotated[date | None, typer.Option("--from", help="First day, local (inclusive).")]
ToDate = Annotated[date | None, typer.Option("--to", help="End day, local (exclusive).")]


def register(
    app: typer.Typer,
    console: Console,
    settings_for: Callable[[Path | None], Settings],
    refuse: Callable[..., typer.Exit],
) -> None:
    def emit(document: dict[str, Any]) -> None:
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())

    @app.command()
    def audit(
        member_id: str,
        tenant: Tenant,
        as_of: Annotated[
            datetime | None, typer.Option("--as-of", help="The history as recorded up to then.")
        ] = None,
        as_json: Json = False,
        data_dir: DataDir = None,
    ) -> None:
        """Explain every point the member holds: event, rule, inputs, command, reversal."""
        from ledger.audit.explain import explain_member
        from ledger.bootstrap import open_ledger
        from ledger.clock import as_utc
        from ledger.errors import NotFound

        ledger = open_ledger(settings_for(data_dir))
        try:
            known_tenant(ledger, tenant)
            document = explain_member(ledger, tenant, member_id, as_utc(as_of) if as_of else None)
        except NotFound as error:
            raise refuse(str(error), 2) from None  # a member id naming nobody: wrong use
        finally:
            ledger.close()
        if as_json:
            emit(document)
            return
        for award in document["awards"]:
            rule = award["rule"]
            command = award["command"]
            console.print(
                f"{award['recorded_at'][:19]}  {award['points']:>+5}  {award['kind']:<11} "
                f"{rule['name']} v{rule['version']} {json.dumps(rule['inputs'])}  "
                f"by {command.get('key_label')} (command {command.get('command_id')})"
                + ("  [reversed]" if award.get("reversal") and award["kind"] != "reversal" else ""),
                highlight=False,
            )
        console.print(
            f"balance {document['balance']} = the sum of the {len(document['awards'])} entries"
        )

    @app.command()
    def verify(
        tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
        shard: Annotated[
            str | None,
            typer.Option(
                "--shard",
                help="I/N: only the tenants in shard I of N (N processes split the work; "
                "merge their JSON by summing events and joining problems).",
            ),
        ] = None,
        start: Annotated[
            datetime | None, typer.Option("--from", help="Commands recorded from then on.")
        ] = None,
        end: Annotated[datetime | None, typer.Option("--to", help="...and before then.")] = None,
        digest: Annotated[
            Path | None, typer.Option("--digest", help="A digest kept earlier (ledger digest).")
        ] = None,
        as_json: Json = False,
        data_dir: DataDir = None,
    ) -> None:
        """Check tamper evidence and re-decide every recorded command; exit 1 on any problem."""
        from ledger.audit.verify import Digest, Shard
        from ledger.audit.verify import verify as run_verify
        from ledger.bootstrap import open_ledger
        from ledger.clock import as_utc

        part = None
        if shard is not None:
            try:
                part = Shard.parse(shard)
            except ValueError:
                raise refuse(f"--shard {shard!r}: give I/N, 1 <= I <= N (e.g. 2/4)", 2) from None
            if digest is not None:
                raise refuse(
                    "--digest pins the whole history: verify it without --shard", 2
                ) from None
        kept = None
        if digest is not None:
            try:
                kept = Digest(**json.loads(digest.read_text()))
            except (OSError, ValueError, TypeError) as error:
                raise refuse(f"cannot read the digest {digest}: {error}", 2) from None
        ledger = open_ledger(settings_for(data_dir))
        try:
            total = ledger.store.max_position() or 1
            with Progress(console=console, transient=True, disable=as_json) as bar:
                task = bar.add_task("checking seals and re-deciding commands", total=total)
                result = run_verify(
                    ledger.store,
                    tenant=tenant,
                    shard=part,
                    start=as_utc(start) if start else None,
                    end=as_utc(end) if end else None,
                    kept=kept,
                    progress=lambda n: bar.advance(task, n),
                )
        finally:
            ledger.close()
        if tenant is not None and result.events == 0 and result.ok:
            # Not one event filed under it: a typo, not a verified tenant.
            raise refuse(f"no tenant {tenant!r} in the event store", 2)
        if as_json:
            emit(result.to_dict())
        else:
            for problem in result.problems:
                console.print(
                    f"[red]{problem.kind}[/] at position {problem.position} "
                    f"({problem.aggregate_id}): {problem.detail}",
                    highlight=False,
                )
            verdict = "[green]ok[/]" if result.ok else f"[red]{len(result.problems)} problem(s)[/]"
            where = f" (shard {result.shard}, {result.tenants} tenants)" if result.shard else ""
            console.print(
                f"{verdict}{where}: {result.events} events, {result.commands} commands "
                f"re-decided in {result.seconds:.1f}s",
                highlight=False,
            )
        if not result.ok:
            raise typer.Exit(1)

    @app.command()
    def digest(as_json: Json = False, data_dir: DataDir = None) -> None:
        """Print the digest of the whole history, for an auditor to keep outside the system."""
        from ledger.audit.verify import current_digest
        from ledger.bootstrap import open_ledger

        ledger = open_ledger(settings_for(data_dir))
        try:
            document = current_digest(ledger.store, ledger.clock.now()).to_dict()
        finally:
            ledger.close()
        if as_json:
            emit(document)
        else:
            console.print(
                f"position {document['position']}  digest {document['digest']}  "
                f"at {document['recorded_at']}\nkeep it: ledger digest --json > digest.json; "
                "later: ledger verify --digest digest.json",
                highlight=False,
            )

    @app.command()
    def simulate(
        tenant: Tenant,
        change: Annotated[Path, typer.Option("--change", help="The change, as JSON.")],
        start: FromDate = None,
        end: ToDate = None,
        team: Annotated[
            str | None, typer.Option("--team", help="Window figures for this team only.")
        ] = None,
        as_json: Json = False,
        data_dir: DataDir = None,
    ) -> None:
        """Re-decide the period with a change and print before / after; never writes.

        The change file may hold `missions` ({id: {points}}), `campaigns` ({id:
        {multiplier}}), `new_campaigns` ([{values, starts_at, ends_at, multiplier}]),
        `strategy` ({effective_from, goals}), and `window` ({from, to}) and `team` (what
        --from, --to and --team say, which win). An unknown id is an error (exit 2).
        """
        from ledger.audit.simulate import Change, simulate_change
        from ledger.bootstrap import open_ledger
        from ledger.errors import Invalid, NotFound

        try:
            what = Change.model_validate_json(change.read_bytes())
        except (OSError, ValueError) as error:
            raise refuse(f"cannot read the change {change}: {_first_line(error)}", 2) from None
        ledger = open_ledger(settings_for(data_dir))
        try:
            document = simulate_change(
                ledger.store, ledger.personal, tenant, what, start, end, ledger.clock.now(), team
            )
        except (NotFound, Invalid) as error:
            raise refuse(f"cannot simulate: {error}", 2) from None
        finally:
            ledger.close()
        if as_json:
            emit(document)
            return
        window = document["window"]
        console.print(
            f"window {window['from'] or 'the beginning'} to {window['to'] or 'now'}"
            + (f", team {window['team']}" if window["team"] else "")
            + f": awards changed {document['awards_changed']}, points "
            f"{document['points']['before']} -> {document['points']['after']} "
            f"({document['points']['extra']:+}), incentive score "
            f"{document['incentive_score']['before']} -> {document['incentive_score']['after']}",
            highlight=False,
        )
        for campaign_id, winners in document["winners"].items():
            before = ", ".join(w["member_id"] for w in winners["before"])
            after = ", ".join(w["member_id"] for w in winners["after"])
            console.print(f"winners of {campaign_id}: {before} -> {after}", highlight=False)
        for side in ("before", "after"):
            top = ", ".join(
                f"{e['member_id']} {e['points']}" for e in document["leaderboard"][side][:5]
            )
            console.print(f"leaderboard {side}: {top}", highlight=False)

    @app.command()
    def detect(
        tenant: Tenant,
        start: FromDate = None,
        end: ToDate = None,
        as_json: Json = False,
        data_dir: DataDir = None,
    ) -> None:
        """Find reciprocity: concentrated pairs and rings of 3 or 4 members (signals only)."""
        from ledger.audit.explain import recognitions_of
        from ledger.audit.reciprocity import find_reciprocity
        from ledger.bootstrap import open_ledger
        from ledger.errors import NotFound

        ledger = open_ledger(settings_for(data_dir))
        try:
            known_tenant(ledger, tenant)
            recognitions, bounds = recognitions_of(ledger.store, tenant, start, end)
        except NotFound as error:
            raise refuse(str(error), 2) from None
        finally:
            ledger.close()
        findings = find_reciprocity(recognitions, *bounds)
        if as_json:
            emit({"findings": [f.to_dict() for f in findings]})
            return
        for f in findings:
            console.print(
                f"{f.kind}: {', '.join(f.members)}: {f.recognitions} recognitions, "
                f"{f.points} points",
                highlight=False,
            )
        console.print(f"{len(findings)} finding(s); signals for a person to judge", highlight=False)


def known_tenant(ledger: Any, tenant: str) -> None:
    """NotFound (naming the tenant) unless the store holds it."""
    ledger.tenant(tenant)


def _first_line(error: Exception) -> str:
    """One line a person reads: the fields a validation refused, or the error's first line."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'the file'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
