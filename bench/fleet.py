"""What a fleet costs: the production stack on PostgreSQL and Kafka, with one `ledger serve`
replica and then two, each process's CPU time per command measured from /proc.

    PostgreSQL (LEDGER_BENCH_POSTGRES_DSN, else LEDGER_TEST_POSTGRES_DSN, else the local
    trust-auth server), a Tansu broker, `ledger relay`, `ledger project`, replicas.

wrk drives POST /v1/recognitions (its own process; with two replicas, one wrk per
replica, half the connections each). CPU-milliseconds per command of each process kind
(serve, PostgreSQL: every server process, relay, projector) are its CPU time over the
run divided by the commands acknowledged: the figures docs/scaling.md sizes a fleet
from. The baseline of the rate is the bare FastAPI app under the same wrk, measured in
the same run; the two-replica rate is also compared with the one-replica rate.

The cost of a command on PostgreSQL against SQLite (issue 22: within 1.3x) is compared
at one fixed open-loop rate on both stacks (FIXED_RATE, below either's capacity): under
wrk each runs at its own top rate, and work a process does per unit of time would be
charged to fewer commands on the slower store.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import open_loop, wrk
from bench.common import OPERATOR, PYTHON, Row, Sizes, free_port, wait_until
from bench.servers import HOST, Server, _spawn, _stop, bare_app, kafka_broker

MEMBERS = 200
CONNECTIONS = 16
# The rate the cost per command is compared at: well below what one replica answers on
# either store here (PostgreSQL's wrk rate is 70-110/s on this kind of machine).
FIXED_RATE = 40.0
TICKS = os.sysconf("SC_CLK_TCK")


def postgres_dsn() -> str:
    return (
        os.environ.get("LEDGER_BENCH_POSTGRES_DSN")
        or os.environ.get("LEDGER_TEST_POSTGRES_DSN")
        or "postgresql://postgres@127.0.0.1:5432/test"
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (threads included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (the postmaster and its backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextmanager
def ledger_process(
    name: str, args: list[str], env: dict[str, str], work: Path, port: int | None = None
) -> Iterator[Server]:
    log = work / f"fleet-{name}.log"
    process = _spawn([PYTHON, "-m", "ledger.cli", *args], log, env)
    server = Server(f"http://{HOST}:{port}" if port else "", process, log)
    try:
        if port:
            wait_until(lambda: _healthy(server), 120, f"{name}")
        else:
            wait_until(lambda: _printed(server, args[0]), 120, f"{name}")
        yield server
    finally:
        _stop(process)


def _healthy(server: Server) -> bool:
    server.alive()
    try:
        return httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _printed(server: Server, command: str) -> bool:
    server.alive()
    word = {"relay": "relaying ", "project": "projecting "}[command]
    return word in server.tail()


def set_up_tenant(url: str) -> str:
    """A tenant whose recognitions are never refused over the run; its service key."""
    created = httpx.post(
        f"{url}/v1/tenants",
        headers={"Authorization": f"Bearer {OPERATOR}"},
        json={
            "tenant_id": "fleet",
            "name": "Fleet",
            "settings": {
                "timezone": "UTC",
                "monthly_allowance": 1_000_000,
                "max_recognitions_per_pair_per_week": 1_000,
            },
        },
        timeout=30,
    )
    if created.status_code != 201:
        raise RuntimeError(f"creating the tenant: {created.status_code} {created.text}")
    admin = created.json()["admin_key"]
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ) as client:
        client.post("/v1/values", json={"key": "teamwork", "name": "Teamwork"}).raise_for_status()
        for i in range(MEMBERS):
            client.post(
                "/v1/members", json={"member_id": f"m{i}", "display_name": f"M{i}", "team": "t"}
            ).raise_for_status()
        issued = client.post("/v1/api-keys", json={"role": "service", "label": "fleet load"})
        issued.raise_for_status()
        return str(issued.json()["key"])


@contextmanager
def cpu_meter(pids: dict[str, list[int]]) -> Iterator[dict[str, float]]:
    """CPU seconds each kind of process spends inside the block (filled in at its end)."""
    before = {kind: cpu_seconds(p) for kind, p in pids.items()}
    spent: dict[str, float] = {}
    yield spent
    spent.update({kind: cpu_seconds(p) - before[kind] for kind, p in pids.items()})


def measured(
    servers: list[Server], key: str, seconds: int, others: dict[str, list[int]]
) -> dict[str, Any]:
    """wrk against every replica at once; commands/s and CPU-ms per command by process."""
    each = max(1, CONNECTIONS // len(servers))
    started = time.monotonic()
    with (
        cpu_meter({"serve": [s.pid for s in servers], **others}) as cpu,
        ThreadPoolExecutor(len(servers)) as pool,  # the wrk processes run at once
    ):
        runs = [
            pool.submit(wrk.run, s.url, key, MEMBERS, "teamwork", each, seconds) for s in servers
        ]
        got = [run.result() for run in runs]
    elapsed = time.monotonic() - started
    commands = sum(g["ok"] for g in got)
    return {
        "rate": sum(g["rate"] for g in got),
        "commands": commands,
        "seconds": elapsed,
        "errors": sum(g["errors"] for g in got),
        "cpu_ms": {k: 1000 * v / max(commands, 1) for k, v in cpu.items()},
        "p99_ms": max(g["p99_ms"] for g in got),
    }


def at_fixed_rate(
    server: Server, key: str, seconds: int, others: dict[str, list[int]]
) -> dict[str, Any]:
    """The open-loop generator at FIXED_RATE against one replica; CPU-ms per command by
    process. Under wrk each store runs at its own top rate, so a process's work per unit
    of time (the projector's batch every 0.1 s, whatever it holds) is shared by fewer
    commands on the slower store; at one rate both stores share it alike."""
    with cpu_meter({"serve": [server.pid], **others}) as cpu:
        got = open_loop.run(server.url, key, FIXED_RATE, seconds, MEMBERS)
    commands = int(got["answered"])
    return {
        "rate": got["achieved_rate"],
        "commands": commands,
        "errors": got["errors"],
        "cpu_ms": {k: 1000 * v / max(commands, 1) for k, v in cpu.items()},
        "p99_ms": got["p99_ms"],
    }


@contextmanager
def stack(
    name: str, store: str, bootstrap: str, work: Path
) -> Iterator[tuple[Server, str, dict[str, list[int]], dict[str, str]]]:
    """`ledger relay`, `ledger project` and one `ledger serve` on a store and a topic of
    their own: the replica, its tenant's service key, the other processes' pids by kind,
    and the environment a further replica is started with."""
    base_env = {
        "LEDGER_EVENT_STORE": store,
        "LEDGER_KAFKA_BOOTSTRAP": bootstrap,
        "LEDGER_KAFKA_TOPIC": f"fleet.{name}",
        "LEDGER_KAFKA_PARTITIONS": "6",
        "LEDGER_OPERATOR_TOKEN": OPERATOR,
        "LEDGER_RATE_LIMIT": "0",
        "LEDGER_LOG_LEVEL": "warning",
    }

    def env(process: str) -> dict[str, str]:
        directory = work / f"fleet-{name}-{process}"
        directory.mkdir(exist_ok=True)
        return {**base_env, "LEDGER_DATA_DIR": str(directory)}

    with ExitStack() as processes:
        relay = processes.enter_context(
            ledger_process(f"{name}-relay", ["relay"], env("relay"), work)
        )
        project = processes.enter_context(
            ledger_process(f"{name}-project", ["project", "--source", "kafka"], env("proj"), work)
        )
        port = free_port()
        serve = processes.enter_context(
            ledger_process(f"{name}-serve-a", ["serve", "--port", str(port)], env("a"), work, port)
        )
        key = set_up_tenant(serve.url)
        others = {"relay": [relay.pid], "projector": [project.pid]}
        yield serve, key, others, env("b")


def fleet_rows(sizes: Sizes, work: Path) -> list[Row]:
    import psycopg

    dsn = postgres_dsn()
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as error:
        return [Row("fleet on PostgreSQL", None, "", skipped=f"no PostgreSQL at {dsn}: {error}")]
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    seconds = sizes.http_seconds
    with bare_app(work / "fleet-bare.log") as bare:
        baseline = wrk.run(bare.url, "", MEMBERS, "teamwork", CONNECTIONS, seconds)
    try:
        with kafka_broker(work / "fleet-broker.log") as bootstrap:
            # The same stack on SQLite first: what a command costs each process there is
            # the yardstick for PostgreSQL's (issue 22: within 1.3x).
            sqlite_store = f"sqlite:///{work / 'fleet-sqlite.db'}"
            with stack("sqlite", sqlite_store, bootstrap, work) as (a, key, others, _):
                on_sqlite = measured([a], key, seconds, others)
                sqlite_fixed = at_fixed_rate(a, key, seconds, others)
            pg_store = f"{dsn}?schema={schema}"
            with stack("pg", pg_store, bootstrap, work) as (a, key, others, b_env):
                others["postgresql"] = postgres_pids()
                one = measured([a], key, seconds, others)
                pg_fixed = at_fixed_rate(a, key, seconds, others)
                b_port = free_port()
                with ledger_process(
                    "pg-serve-b", ["serve", "--port", str(b_port)], b_env, work, b_port
                ) as b:
                    others["postgresql"] = postgres_pids()
                    two = measured([a, b], key, seconds, others)
    finally:
        _drop_schema(dsn, schema)
        for leftover in work.glob("fleet-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
    rows = [
        Row(
            f"commands/s, 1 serve replica on PostgreSQL + Kafka (wrk, {CONNECTIONS} connections)",
            one["rate"],
            "/s",
            baseline["rate"],
            "bare FastAPI, same body",
            detail=f"p99 {one['p99_ms']:.0f} ms, {one['errors']} errors",
            extra=one,
        ),
        Row(
            "commands/s, 1 serve replica on SQLite + Kafka (the same stack)",
            on_sqlite["rate"],
            "/s",
            baseline["rate"],
            "bare FastAPI, same body",
            detail=f"p99 {on_sqlite['p99_ms']:.0f} ms, {on_sqlite['errors']} errors",
            extra=on_sqlite,
        ),
        Row(
            "commands/s, 2 serve replicas on PostgreSQL + Kafka (one wrk each)",
            two["rate"],
            "/s",
            one["rate"],
            "1 replica, same run",
            detail=f"p99 {two['p99_ms']:.0f} ms, {two['errors']} errors",
            extra=two,
        ),
    ]
    # serve's CPU per command on PostgreSQL (with PostgreSQL's own) beside SQLite's, at
    # one rate for both (the goal's row), and under wrk (each store at its own top rate).
    for how, pg, lite, goal in (
        (f"at a fixed {FIXED_RATE:.0f} commands/s (open loop)", pg_fixed, sqlite_fixed, True),
        ("under wrk (each store at its own rate)", one, on_sqlite, False),
    ):
        pg_cost = pg["cpu_ms"]["serve"] + pg["cpu_ms"]["postgresql"]
        sqlite_cost = lite["cpu_ms"]["serve"]
        rows.append(
            Row(
                f"CPU per command {how}, serve + PostgreSQL, 1 replica, beside serve on SQLite",
                pg_cost,
                "CPU-ms",
                sqlite_cost,
                "serve on SQLite, same stack and load",
                "ratio <= 1.3" if goal else "",
                (pg_cost / sqlite_cost <= 1.3 if sqlite_cost else None) if goal else None,
                f"achieved {pg['rate']:.0f}/s and {lite['rate']:.0f}/s, "
                f"p99 {pg['p99_ms']:.0f} and {lite['p99_ms']:.0f} ms, "
                f"{pg['errors'] + lite['errors']} errors",
            )
        )
    for label, figures in (
        (f"SQLite, 1 replica, {FIXED_RATE:.0f}/s", sqlite_fixed),
        (f"PostgreSQL, 1 replica, {FIXED_RATE:.0f}/s", pg_fixed),
        ("SQLite, 1 replica, wrk", on_sqlite),
        ("PostgreSQL, 1 replica, wrk", one),
        ("PostgreSQL, 2 replicas, wrk", two),
    ):
        for kind, cpu in figures["cpu_ms"].items():
            rows.append(Row(f"CPU per command, {kind}, {label}", cpu, "CPU-ms"))
    return rows


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
