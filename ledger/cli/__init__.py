"""The `ledger` command line."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ledger.config import ConfigurationError, Settings, load_settings

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
    import os

    from ledger.logs import configure

    # Every file a ledger process writes (stores, WALs, snapshots, exports) is private.
    os.umask(0o077)
    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise refuse(f"configuration: {error}", 2) from None
    configure(settings.log_level, settings.log_format)


def refuse(message: str, code: int = 1) -> typer.Exit:
    """Print a clear refusal (no stack trace) and give the exit to raise."""
    console.print(f"[red]{message}[/]", highlight=False)
    return typer.Exit(code)


def stop_on_sigterm(stopping: Any = None) -> Any:
    """A polite stop (SIGTERM from a supervisor, or Ctrl-C) sets an Event the loop watches.

    SIGUSR1 prints every thread's stack to stderr: what a process that does not stop is
    waiting for, without stopping it.
    """
    import faulthandler
    import signal
    import threading

    stopping = stopping or threading.Event()
    faulthandler.register(signal.SIGUSR1, all_threads=True)

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def settings_for(data_dir: Path | None) -> Settings:
    settings = load_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    return settings


def settings_to_read(data_dir: Path | None) -> Settings:
    """Settings of a command that only reads: a store that is not there is a typo (exit 2),
    and nothing is created for it (opening a SQLite store would make an empty one)."""
    settings = settings_for(data_dir)
    url = settings.event_store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise refuse(
            f"no ledger data in {settings.data_dir} (no event store there): name the directory "
            "`ledger demo` or `ledger serve` wrote with --data-dir or LEDGER_DATA_DIR",
            2,
        )
    return settings


Host = Annotated[str, typer.Option("--host", help="Interface to listen on (loopback by default).")]
Port = Annotated[int, typer.Option("--port", help="TCP port.")]


@app.command()
def serve(data_dir: DataDir = None, host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the HTTP API (embedded: SQLite store, in-process projector, no Kafka)."""
    _serve(settings_for(data_dir), host, port)


def check_port(host: str, port: int) -> None:
    """Refuse (exit 1, one line) when the address is taken, before anything is started or
    issued: uvicorn would only log it after start-up. SO_REUSEADDR as uvicorn binds."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "in use" if error.errno == 98 else error.strerror or str(error)
            raise refuse(
                f"cannot listen on {host}:{port} ({reason}): stop what holds it, or choose "
                "another port with --port"
            ) from None


def _exit_cleanly(signum: int, _: Any) -> None:
    import signal

    # A supervisor's SIGTERM is the normal end (0); Ctrl-C says it was interrupted (130).
    raise SystemExit(130 if signum == signal.SIGINT else 0)


def _serve(
    settings: Settings,
    host: str,
    port: int,
    banner: list[str] | None = None,
    clock: Any = None,
) -> None:
    import faulthandler
    import signal

    import uvicorn

    from ledger.app import SERVER_OPTIONS
    from ledger.bootstrap import ServeRuntime
    from ledger.logs import mask
    from ledger.projections.files import ProjectionInUse

    faulthandler.register(signal.SIGUSR1, all_threads=True)  # see stop_on_sigterm
    check_port(host, port)
    try:
        runtime = ServeRuntime(settings, clock)
    except ProjectionInUse as error:
        raise refuse(str(error)) from None
    runtime.start()
    url = f"http://{host}:{port}"
    console.print(f"behavior ledger at [bold]{url}[/]  (API docs: {url}/docs)")
    tenants = [t for t in runtime.ledger.store.records.tenants() if t]
    held = f"{len(tenants)} tenant{'' if len(tenants) == 1 else 's'}"
    if not tenants:
        held += ": a new, empty store; `ledger demo` or POST /v1/tenants fills it"
    console.print(f"event store: {mask(settings.event_store_url)} ({held})", highlight=False)
    if settings.embedded:
        console.print(
            f"projections: {runtime.projection_path} (analysts' snapshot: {runtime.snapshot_path})",
            highlight=False,
        )
    else:
        console.print(
            f"projections: {runtime.projection_path}, fed from Kafka topic "
            f"{settings.kafka_topic} at {settings.kafka_bootstrap} (`ledger project` "
            "publishes the analysts' snapshot)",
            highlight=False,
        )
    if runtime.generated_token:
        console.print(
            f"operator token (LEDGER_OPERATOR_TOKEN was unset): [bold]{runtime.operator_token}[/]"
        )
    for line in banner or []:
        console.print(line)
    # uvicorn re-raises the SIGTERM / SIGINT it caught once it has shut down; with the
    # default handlers that killed the process before `runtime.stop()` could checkpoint
    # DuckDB (the WAL that then bricked the next start). Ours end it through `finally`.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    try:
        # Our access log and structured logging replace uvicorn's own (logs.configure).
        uvicorn.run(
            runtime.app(),
            host=host,
            port=port,
            log_config=None,
            log_level=settings.log_level,
            access_log=False,
            **SERVER_OPTIONS,
        )
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
    """Create a sample company with half a year of history, then serve it."""
    from ledger.bootstrap import clock_for, open_ledger
    from ledger.clock import FixedClock
    from ledger.commands.base import Caller
    from ledger.commands.tenancy import IssueApiKey
    from ledger.demo import TENANT, build_demo

    settings = settings_for(data_dir or Path("ledger-data/demo"))
    if serve_after:
        check_port(host, port)  # before a key is issued that nothing would serve
    wall = clock_for(settings)
    clock = FixedClock(wall.now())
    ledger = open_ledger(settings, clock)
    if ledger.store.max_position() == 0:
        started = time.perf_counter()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("writing half a year of company history", total=1)
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
        ledger.close()
        # Derive the projections before serving, so the first query finds them ready.
        events, seconds = _rebuild(settings, "store", settings.projection_path)
        console.print(f"projections of {events} events built in {seconds:.1f}s")
        ledger = open_ledger(settings, clock)
    else:
        console.print(f"reusing the demo in {settings.data_dir}")
    clock.set(wall.now())
    admin_key = ledger.execute(
        IssueApiKey(role="admin", label="demo admin"), Caller(TENANT, "admin", "demo")
    ).body["key"]
    ledger.close()
    url = f"http://{host}:{port}"
    banner = [
        f"admin key: [bold]{admin_key}[/]",
        f"dashboard: {url}/ (sign in with the admin key)",
        f"try: curl -s -H 'Authorization: Bearer {admin_key}' '{url}/v1/leaderboard?period=month'",
    ]
    if not serve_after:
        banner[1] = (
            f"serve it: ledger serve --data-dir {settings.data_dir} --port {port}, "
            f"then open {url}/ and sign in with the admin key"
        )
        for line in banner:
            console.print(line, highlight=False)
        return
    _serve(settings, host, port, banner, wall)


Source = Annotated[str, typer.Option("--source", help="store (the event store) or kafka.")]
MetricsPort = Annotated[
    int | None,
    typer.Option(help="Serve /metrics and /healthz on this port (default LEDGER_METRICS_PORT)."),
]


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
    metrics_port: MetricsPort = None,
) -> None:
    """Run the projector as its own process: follow the source into DuckDB."""
    from ledger.bootstrap import ProjectorRuntime, snapshot_path
    from ledger.projections.files import ProjectionInUse

    stopping = stop_on_sigterm()
    settings = settings_for(data_dir)
    _check_source(settings, source)
    try:
        runtime = ProjectorRuntime(
            settings,
            source,
            group,
            snapshot_every,
            batch_size,
            metrics_port,
            stopping,
            progress=(lambda n: print(f"committed {n}", flush=True)) if report else None,
        )
    except ProjectionInUse as error:
        raise refuse(str(error)) from None
    if runtime.projection is not None:
        origin = (
            f"Kafka topic {settings.kafka_topic} at {settings.kafka_bootstrap} (group {group})"
            if source == "kafka"
            else _masked(settings.event_store_url)
        )
        console.print(
            f"projecting {origin} into {runtime.projection.path} "
            f"(analysts' snapshot: {snapshot_path(settings)}); Ctrl-C stops",
            highlight=False,
        )
    runtime.run()


def _masked(url: str) -> str:
    from ledger.logs import mask

    return mask(url)


def _check_source(settings: Settings, source: str) -> None:
    if source not in ("store", "kafka"):
        raise refuse(f"--source must be store or kafka, not {source}", 2)
    if source == "kafka" and not settings.kafka_bootstrap:
        raise refuse("--source kafka needs LEDGER_KAFKA_BOOTSTRAP", 2)


@app.command()
def relay(data_dir: DataDir = None, metrics_port: MetricsPort = None) -> None:
    """Publish new events from the event store to Kafka (production mode)."""
    from ledger.bootstrap import RelayRuntime

    settings = settings_for(data_dir)
    _check_source(settings, "kafka")
    runtime = RelayRuntime(settings, metrics_port)
    stop_on_sigterm(runtime.stopping)
    console.print(
        f"relaying {_masked(settings.event_store_url)} to {settings.kafka_bootstrap} "
        f"topic {settings.kafka_topic} from position {runtime.publisher.position()}",
        highlight=False,
    )
    runtime.run()


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
    """Rebuild every projection from scratch from the source (store, or Kafka offset 0).

    Builds a side file, then swaps it in with its WAL; refuses while another process
    (`ledger serve`, `ledger project`) owns the target file.
    """
    from ledger.clock import as_utc

    settings = settings_for(data_dir)
    _check_source(settings, source)
    moment = as_utc(as_of) if as_of else None
    target = output or (
        settings.projection_path
        if moment is None
        else settings.projection_path.with_name(f"projections-asof-{moment:%Y%m%dT%H%M%SZ}.duckdb")
    )
    applied, elapsed = _rebuild(settings, source, target, moment)
    console.print(
        f"{applied} events in {elapsed:.1f}s ({applied / max(elapsed, 1e-9):,.0f}/s) -> {target}"
    )


def _rebuild(
    settings: Settings, source: str, target: Path, moment: datetime | None = None
) -> tuple[int, float]:
    """bootstrap.rebuild_into with a progress bar; refuses (exit 1) while another process
    owns the target."""
    from ledger.bootstrap import rebuild_into
    from ledger.projections.files import ProjectionInUse

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"rebuilding from {source}", total=1)
        try:
            return rebuild_into(
                settings,
                source,
                target,
                moment,
                progress=lambda done, total: bar.update(task, completed=done, total=total or 1),
            )
        except ProjectionInUse as error:
            raise refuse(f"cannot rebuild: {error}, or rebuild into --output FILE") from None


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
    """Run a read-only SQL query against the analysts' snapshot (docs/data-dictionary.md).

    It reads the projection tables and nothing else: no files (no COPY, read_csv,
    read_blob, glob), no other databases (no ATTACH), no extensions (no INSTALL, LOAD),
    and no settings can be changed. `ledger export parquet` writes files.
    """
    import duckdb

    from ledger.bootstrap import read_only_statements

    con = _analyst_connection(settings_to_read(data_dir), locked=True)
    try:
        refused = read_only_statements(con, query)
        if refused:
            raise refuse(f"SQL: {refused}", 2)
        result = con.execute(query)
        rows = result.fetchall()
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise refuse(f"SQL: {first}", 2) from None
    table = Table()
    for column in result.description or []:
        table.add_column(str(column[0]))
    for row in rows:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console.print(table)


export_app = typer.Typer(help="Export the projections.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("parquet")
def export_parquet(directory: Path, data_dir: DataDir = None) -> None:
    """Write every projection table as Parquet files into DIRECTORY."""
    con = _analyst_connection(settings_to_read(data_dir))
    directory.mkdir(parents=True, exist_ok=True)
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name <> 'snapshot_manifest'"
        ).fetchall()
    ]
    for name in tables:
        # The relation API takes the path as a value: no SQL is composed from it.
        con.table(_quoted(name)).write_parquet(str(directory / f"{name}.parquet"))
    console.print(f"{len(tables)} tables -> {directory}")


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@app.command()
def report(
    kind: Annotated[str, typer.Argument(help="heatmap, alignment or leaderboard")],
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant id.")],
    svg: Annotated[Path | None, typer.Option("--svg", help="Write the picture as SVG.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write the picture as PNG.")] = None,
    period: Annotated[
        str, typer.Option(help="week, month or all (alignment: week or month).")
    ] = "month",
    team: Annotated[str | None, typer.Option(help="One team only.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Draw a dashboard picture from the analysts' snapshot, for slides and e-mails."""
    from ledger.bootstrap import clock_for
    from ledger.dashboard.report import KINDS, picture, write
    from ledger.errors import LedgerError

    if kind not in KINDS:
        raise refuse(f"report {kind!r}: choose one of {', '.join(KINDS)}", 2)
    if period not in ("week", "month", "all") or (kind == "alignment" and period == "all"):
        raise refuse(f"--period {period!r} does not apply to a {kind} picture", 2)
    if svg is None and png is None:
        raise refuse("name a file: --svg FILE and/or --png FILE", 2)
    settings = settings_to_read(data_dir)
    con = _analyst_connection(settings, locked=True)
    tenants = [r[0] for r in con.execute("SELECT tenant_id FROM tenants ORDER BY 1").fetchall()]
    if tenant not in tenants:
        raise refuse(f"no tenant {tenant!r} in the projections (tenants: {', '.join(tenants)})", 2)
    try:
        drawing = picture(con, kind, tenant, clock_for(settings).now(), period, team)
    except LedgerError as error:
        raise refuse(f"cannot draw it: {error}") from None
    for path in write(drawing, svg, png):
        console.print(f"{kind} of {tenant} -> {path}")


def _analyst_connection(settings: Settings, locked: bool = False) -> Any:
    from ledger.bootstrap import NoProjections, analyst_connection

    try:
        return analyst_connection(settings, locked)
    except NoProjections as error:
        raise refuse(str(error)) from None


def _register_more() -> None:
    from ledger.cli import audit, drift

    # Every command they add only reads.
    audit.register(app, console, settings_to_read, refuse)
    drift.register(app, console, settings_to_read, refuse)


_register_more()
