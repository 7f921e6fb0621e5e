"""The `ledger` command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ledger.config import Settings

app = typer.Typer(
    help="Behavior ledger: event-sourced missions, recognitions and alignment.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded data lives.")]


@app.callback()
def main() -> None:
    """Configuration comes from LEDGER_* environment variables (and a .env file)."""


def settings_for(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


@app.command()
def demo(data_dir: DataDir = None) -> None:
    """Create a sample company with twelve weeks of history."""
    from ledger.clock import FixedClock
    from ledger.demo import build_demo
    from ledger.history import award_facts
    from ledger.ranking import rank_scores
    from ledger.service import Ledger

    settings = settings_for(data_dir or Path("ledger-data/demo"))
    clock = FixedClock(datetime.now(UTC))
    ledger = Ledger.open(settings, clock=clock)
    if ledger.store.max_position() > 0:
        console.print(
            f"[yellow]{settings.data_dir} already holds a ledger; "
            "use another --data-dir for a fresh demo[/]"
        )
        raise typer.Exit(1)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("writing twelve weeks of history", total=1)
        result = build_demo(
            ledger,
            clock,
            clock.now(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    scores: dict[str, int] = {}
    for award in award_facts(ledger.store, result.tenant_id, ledger.store.max_position()):
        scores[award["member_id"]] = scores.get(award["member_id"], 0) + award["points"]
    table = Table(title=f"{result.tenant_id}: all-time points (top 10)")
    for column in ("rank", "member", "points"):
        table.add_column(column)
    for rank, member_id, points in list(rank_scores(scores))[:10]:
        table.add_row(str(rank), member_id, str(points))
    console.print(table)
    console.print(
        f"{result.commands} commands ({result.refusals} refused by the rules), "
        f"{ledger.store.max_position()} events in {settings.event_store_url}"
    )
    console.print(f"admin key: [bold]{result.admin_key}[/]")
    ledger.close()


if __name__ == "__main__":
    app()
