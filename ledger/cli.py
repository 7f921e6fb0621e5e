"""The `ledger` command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

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
console = Console(soft_wrap=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the embedded data lives.")]


@app.callback()
def main() -> None:
    """Configuration comes from LEDGER_* environment variables (and a .env file)."""


def settings_for(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


Host = Annotated[str, typer.Option("--host", help="Interface to listen on (loopback by default).")]
Port = Annotated[int, typer.Option("--port", help="TCP port.")]


@app.command()
def serve(data_dir: DataDir = None, host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the HTTP API (embedded: SQLite store, in-process projector, no Kafka)."""
    _serve(settings_for(data_dir), host, port)


def _serve(settings: Settings, host: str, port: int, banner: list[str] | None = None) -> None:
    import uvicorn

    from ledger.bootstrap import EmbeddedRuntime

    runtime = EmbeddedRuntime(settings)
    runtime.start()
    url = f"http://{host}:{port}"
    console.print(f"behavior ledger at [bold]{url}[/]  (API docs: {url}/docs)")
    console.print(f"data: {settings.event_store_url}, projections: {settings.projection_path}")
    if runtime.generated_token:
        console.print(
            f"operator token (LEDGER_OPERATOR_TOKEN was unset): [bold]{runtime.operator_token}[/]"
        )
    for line in banner or []:
        console.print(line)
    try:
        uvicorn.run(runtime.app(), host=host, port=port, log_level="warning")
    finally:
        runtime.stop()


@app.command()
def demo(
    data_dir: DataDir = None,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the demo afterwards.")
    ] = True,
) -> None:
    """Create a sample company with twelve weeks of history, then serve it."""
    import time

    from ledger.clock import FixedClock
    from ledger.commands.base import Caller
    from ledger.commands.tenancy import IssueApiKey
    from ledger.demo import TENANT, build_demo
    from ledger.service import Ledger, response_body

    settings = settings_for(data_dir or Path("ledger-data/demo"))
    clock = FixedClock(datetime.now(UTC))
    ledger = Ledger.open(settings, clock=clock)
    if ledger.store.max_position() == 0:
        started = time.perf_counter()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("writing twelve weeks of company history", total=1)
            result = build_demo(
                ledger,
                clock,
                clock.now(),
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        console.print(
            f"demo company [bold]{TENANT}[/]: {len(result.members)} members, "
            f"{result.commands} commands ({result.refusals} refused by the rules), "
            f"{ledger.store.max_position()} events in "
            f"{time.perf_counter() - started:.1f}s"
        )
    else:
        console.print(f"reusing the demo in {settings.data_dir}")
    clock.set(datetime.now(UTC))
    admin_key = response_body(
        ledger.execute(
            IssueApiKey(role="admin", label="demo admin"), Caller(TENANT, "admin", "demo")
        )
    )["key"]
    ledger.close()
    url = f"http://{host}:{port}"
    banner = [
        f"admin key: [bold]{admin_key}[/]",
        f"try: curl -s -H 'Authorization: Bearer {admin_key}' '{url}/v1/leaderboard?period=month'",
    ]
    if not serve_after:
        for line in banner:
            console.print(line)
        return
    _serve(settings, host, port, banner)


Source = Annotated[str, typer.Option("--source", help="store (the event store) or kafka.")]


@app.command()
def project(
    data_dir: DataDir = None,
    source: Source = "store",
    group: Annotated[
        str, typer.Option(help="Kafka consumer group (with --source kafka).")
    ] = "ledger-projector",
    snapshot_every: Annotated[float, typer.Option(help="Seconds between analyst snapshots.")] = 5.0,
    batch_size: Annotated[int, typer.Option(help="Events read per batch (store).")] = 5000,
    report: Annotated[bool, typer.Option(help="Print a line per committed batch.")] = False,
) -> None:
    """Run the projector as its own process: follow the source into DuckDB."""
    import signal
    import time

    from consumers.projector import catch_up
    from ledger.bootstrap import (
        kafka_source,
        open_ledger,
        open_projection,
        snapshot_path,
        store_source,
    )

    # A polite stop (SIGTERM from a supervisor) ends the loop like Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = settings_for(data_dir)
    _check_source(settings, source)
    ledger = open_ledger(settings)
    projection = open_projection(settings, ledger)
    follow = (
        kafka_source(settings, projection, group_id=group)
        if source == "kafka"
        else store_source(ledger, page=batch_size)
    )
    console.print(
        f"projecting {source} into {projection.path} "
        f"(snapshot: {snapshot_path(settings)}); Ctrl-C stops"
    )
    last_snapshot = 0.0
    try:
        while True:
            applied = catch_up(
                projection,
                follow,
                progress=(lambda n: print(f"committed {n}", flush=True)) if report else None,
            )
            if time.monotonic() - last_snapshot >= snapshot_every:
                projection.publish_snapshot(snapshot_path(settings))
                last_snapshot = time.monotonic()
            if not applied:
                time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    finally:
        projection.close()
        ledger.close()


def _check_source(settings: Settings, source: str) -> None:
    if source not in ("store", "kafka"):
        console.print(f"[red]--source must be store or kafka, not {source}[/]")
        raise typer.Exit(2)
    if source == "kafka" and not settings.kafka_bootstrap:
        console.print("[red]--source kafka needs LEDGER_KAFKA_BOOTSTRAP[/]")
        raise typer.Exit(2)


@app.command()
def relay(data_dir: DataDir = None) -> None:
    """Publish new events from the event store to Kafka (production mode)."""
    import signal

    from consumers.relay import Relay
    from ledger.bootstrap import open_ledger

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = settings_for(data_dir)
    _check_source(settings, "kafka")
    ledger = open_ledger(settings)
    publisher = Relay(settings, ledger.store)
    console.print(
        f"relaying {settings.event_store_url} to {settings.kafka_bootstrap} "
        f"topic {settings.kafka_topic} from position {publisher.position()}"
    )
    try:
        publisher.run()
    except KeyboardInterrupt:
        pass
    finally:
        publisher.close()
        ledger.close()


@app.command()
def rebuild(
    data_dir: DataDir = None,
    source: Source = "store",
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            help="Only events recorded at or before this moment (UTC if no offset).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write (default: the projection file, or a file named after --as-of).",
        ),
    ] = None,
) -> None:
    """Rebuild every projection from scratch from the source (store, or Kafka offset 0)."""
    import os
    import time

    from consumers.projector import catch_up
    from consumers.sources import RecordedUntil
    from ledger.bootstrap import kafka_source, open_ledger, open_projection, store_source
    from ledger.clock import as_utc

    settings = settings_for(data_dir)
    _check_source(settings, source)
    moment = as_utc(as_of) if as_of else None
    target = output or (
        settings.projection_path
        if moment is None
        else settings.projection_path.with_name(f"projections-asof-{moment:%Y%m%dT%H%M%SZ}.duckdb")
    )
    building = target.with_name(target.name + ".building")
    building.unlink(missing_ok=True)
    ledger = open_ledger(settings)
    projection = open_projection(settings, ledger, building)
    total = ledger.store.max_position()
    started = time.perf_counter()
    replay: Any = (
        kafka_source(settings, projection, until_end=True)
        if source == "kafka"
        else store_source(ledger, page=50_000)
    )
    if moment is not None:
        replay = RecordedUntil(replay, moment)
    with Progress(console=console) as bar:
        task = bar.add_task(f"rebuilding from {source}", total=total or 1)
        applied = catch_up(
            projection, replay, progress=lambda n: bar.update(task, advance=n), rebuild=True
        )
        bar.update(task, completed=total or 1)
    projection.close()
    ledger.close()
    os.replace(building, target)
    elapsed = time.perf_counter() - started
    console.print(
        f"{applied} events in {elapsed:.1f}s ({applied / max(elapsed, 1e-9):,.0f}/s) -> {target}"
    )


schema_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("export")
def schema_export(directory: Path) -> None:
    """Write the JSON Schema of the envelope and of every event type and version."""
    from ledger.schemas import export_schemas

    written = export_schemas(directory)
    console.print(f"{len(written)} schemas -> {directory}")


@app.command()
def sql(query: str, data_dir: DataDir = None) -> None:
    """Run a read-only SQL query against the analysts' snapshot."""
    con = _analyst_connection(settings_for(data_dir))
    result = con.execute(query)
    table = Table()
    for column in result.description or []:
        table.add_column(str(column[0]))
    for row in result.fetchall():
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)


export_app = typer.Typer(help="Export the projections.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("parquet")
def export_parquet(directory: Path, data_dir: DataDir = None) -> None:
    """Write every projection table as Parquet files into DIRECTORY."""
    con = _analyst_connection(settings_for(data_dir))
    directory.mkdir(parents=True, exist_ok=True)
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    ]
    for name in tables:
        con.execute(
            # Table names come from the catalog of our own snapshot.
            f"COPY (SELECT * FROM \"{name}\") TO '{directory / name}.parquet' (FORMAT parquet)"  # noqa: S608
        )
    console.print(f"{len(tables)} tables -> {directory}")


def _analyst_connection(settings: Settings) -> Any:
    import duckdb

    from ledger.bootstrap import snapshot_path

    for path in (snapshot_path(settings), settings.projection_path):
        if path.exists():
            con = duckdb.connect(str(path), read_only=True)
            con.execute("SET TimeZone = 'UTC'")
            return con
    console.print(f"[red]no projections under {settings.data_dir}: run `ledger rebuild`[/]")
    raise typer.Exit(1)


if __name__ == "__main__":
    app()
