"""Real ledger processes for the fault suite, and an open-loop HTTP load driver.

Every process runs as `python -m ledger.cli ...` with its own environment and its
output captured to a log file under the test's tmp_path, so a failed restart shows
why. Every wait is bounded in time; only loopback addresses are used.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.integration.http_server import free_port
from tests.support import process_env

HOST = "127.0.0.1"
START_TIMEOUT = 45.0  # a restart must be healthy within this (2 cores, cold imports)
STOP_TIMEOUT = 30.0


def operator_token() -> str:
    return f"op_{secrets.token_urlsafe(32)}"


def ledger_env(
    data_dir: Path,
    token: str,
    kafka_bootstrap: str | None = None,
    kafka_topic: str | None = None,
    kafka_partitions: int = 3,
    **extra: str,
) -> dict[str, str]:
    """The environment of a ledger process: nothing LEDGER_* leaks in from the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        LEDGER_DATA_DIR=str(data_dir),
        LEDGER_OPERATOR_TOKEN=token,
        LEDGER_RATE_LIMIT="0",  # the load is one key at up to 100 commands/s
        COLUMNS="300",
        NO_COLOR="1",
        TERM="dumb",
        PYTHONUNBUFFERED="1",
        _TYPER_STANDARD_TRACEBACK="1",  # plain tracebacks in the logs
    )
    if kafka_bootstrap:
        env["LEDGER_KAFKA_BOOTSTRAP"] = kafka_bootstrap
        env["LEDGER_KAFKA_TOPIC"] = kafka_topic or "ledger.events"
        env["LEDGER_KAFKA_PARTITIONS"] = str(kafka_partitions)
    env.update(extra)
    return env


# `ledger ARGS...` begun at a given wall-clock moment, its modules already imported: the
# processes of one test open the store within milliseconds of each other (an
# orchestrator starting replicas together), not spread over their import times.
AT_A_MOMENT = """
import sys, time
import consumers.projector, consumers.relay, ledger.app, ledger.bootstrap
from ledger.cli import app
from ledger.bootstrap import open_ledger
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
app(sys.argv[2:], prog_name="ledger")
"""


def started_together(processes: Iterable[LedgerProcess], lead: float = 4.0) -> None:
    """Start every process now, each to begin working `lead` seconds from now (enough
    for all of them to import their modules first)."""
    moment = time.time() + lead
    for process in processes:
        process.start_at = moment
        process.start()


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class LedgerProcess:
    """One long-running ledger process (serve, relay, project) that can be killed and restarted.

    Each start writes a new log file `<name>.<n>.log` in `log_dir`.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        log_dir: Path,
        port: int | None = None,
        ready_text: str | None = None,
        start_at: float | None = None,
    ) -> None:
        self.name = name
        self.args = args
        self.start_at = start_at  # wall-clock moment to begin (see `started_together`)
        self.env = env
        self.log_dir = log_dir
        self.port = port
        self.ready_text = ready_text
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.log_path = log_dir / f"{name}.0.log"
        self.start_seconds: list[float] = []

    @classmethod
    def serve(cls, env: dict[str, str], log_dir: Path, port: int | None = None) -> LedgerProcess:
        port = port or free_port()
        args = ["serve", "--data-dir", env["LEDGER_DATA_DIR"], "--host", HOST, "--port", str(port)]
        return cls("serve", args, env, log_dir, port=port)

    @classmethod
    def relay(cls, env: dict[str, str], log_dir: Path) -> LedgerProcess:
        return cls("relay", ["relay"], env, log_dir, ready_text="relaying ")

    @classmethod
    def project(
        cls, env: dict[str, str], log_dir: Path, source: str = "kafka", snapshot_every: float = 1.0
    ) -> LedgerProcess:
        args = ["project", "--source", source, "--snapshot-every", str(snapshot_every)]
        return cls("project", args, env, log_dir, ready_text="projecting ")

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} has no port"
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        self.log_path = self.log_dir / f"{self.name}.{self.starts}.log"
        argv = (
            [sys.executable, "-m", "ledger.cli", *self.args]
            if self.start_at is None
            else [sys.executable, "-c", AT_A_MOMENT, str(self.start_at), *self.args]
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv,
                # A restart carries on the tests' timeline (never back to where it began).
                env=process_env(self.env),
                cwd=self.log_dir,  # no stray .env file is read
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def describe(self) -> str:
        code = self.process.poll() if self.process else None
        state = "running" if code is None else f"exited with {code}"
        return (
            f"{self.name} (start #{self.starts}, {state}); "
            f"log {self.log_path}:\n{tail(self.log_path)}"
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        """Until healthy (GET /healthz 200) or its ready line is printed; returns seconds."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} did not start: {self.describe()}")
            if self.port is not None:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            elif self.ready_text is None or self.ready_text in self.log_path.read_text(
                errors="replace"
            ):
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"{self.name} not ready within {timeout:.0f}s: {self.describe()}")
        took = time.monotonic() - started
        self.start_seconds.append(took)
        return took

    def start_ready(self, timeout: float = START_TIMEOUT) -> float:
        self.start()
        return self.wait_ready(timeout)

    def _expect_running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, f"{self.name} was never started"
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} had exited by itself: {self.describe()}")
        return self.process

    def kill(self) -> None:
        """SIGKILL (the process must still be running: it may not have died by itself)."""
        process = self._expect_running()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        self.kills += 1

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code (SIGKILL if it hangs)."""
        process = self._expect_running()
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Where it hangs: the ledger's processes dump every thread's stack on SIGUSR1.
            process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
            raise AssertionError(
                f"{self.name} ignored SIGTERM for {timeout:.0f}s: {self.describe()}"
            ) from None

    def ensure_stopped(self) -> None:
        """Test clean-up: whatever state it is in, it is not running afterwards."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


@dataclass
class Finished:
    returncode: int
    output: str
    seconds: float
    log_path: Path


def run_ledger(
    args: list[str], env: dict[str, str], log_dir: Path, name: str, timeout: float = 120.0
) -> Finished:
    """A one-shot ledger command (`rebuild`, `demo --no-serve`), output kept in a log file."""
    log_path = log_dir / f"{name}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        completed = subprocess.run(
            [sys.executable, "-m", "ledger.cli", *args],
            env=process_env(env),
            cwd=log_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    return Finished(
        completed.returncode,
        log_path.read_text(errors="replace"),
        time.monotonic() - started,
        log_path,
    )


def start_ledger(args: list[str], env: dict[str, str], log_dir: Path, name: str) -> LedgerProcess:
    """A one-shot command started in the background (to be killed part way)."""
    process = LedgerProcess(name, args, env, log_dir)
    process.start()
    return process


def demo_history(data_dir: Path, env: dict[str, str], log_dir: Path) -> str:
    """`ledger demo --no-serve`: ~6,600 events in a few seconds; returns the admin key."""
    done = run_ledger(["demo", "--no-serve", "--data-dir", str(data_dir)], env, log_dir, "demo")
    assert done.returncode == 0, done.output
    match = re.search(r"admin key: (lk_\S+)", done.output)
    assert match, done.output
    return match.group(1)


# -- HTTP helpers -------------------------------------------------------------------------


def create_tenant(url: str, token: str, tenant_id: str, **body: Any) -> str:
    response = httpx.post(
        f"{url}/v1/tenants",
        json={"tenant_id": tenant_id, "name": tenant_id, **body},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["admin_key"])


def post_ok(
    client: httpx.Client, path: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    response = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == status, f"{path}: {response.status_code} {response.text}"
    data: dict[str, Any] = response.json()
    return data


def get_when_ready(
    client: httpx.Client, path: str, params: dict[str, Any] | None = None, timeout: float = 60.0
) -> dict[str, Any]:
    """GET, waiting out 503 + Retry-After (projection recovering or catching up) and
    connection errors for at most `timeout` seconds; anything else must be 200."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get(path, params=params)
        except httpx.TransportError as error:
            last = repr(error)
            time.sleep(0.2)
            continue
        if response.status_code == 503:
            last = f"503 {response.text}"
            retry = float(response.headers.get("Retry-After", "1"))
            time.sleep(min(max(retry, 0.1), 2.0, max(0.0, deadline - time.monotonic())))
            continue
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        data: dict[str, Any] = response.json()
        return data
    raise AssertionError(f"GET {path} {params} not answered within {timeout:.0f}s: {last}")


# -- load -----------------------------------------------------------------------------------


@dataclass
class Command:
    path: str
    body: dict[str, Any]
    member: str  # who gets the points
    points: int


@dataclass
class Ack:
    index: int
    key: str
    command: Command
    status: int
    position: int
    body: dict[str, Any]
    latency: float  # from its scheduled time to the acknowledgement (open loop)
    attempts: int
    service: float  # from the last attempt's send to its answer
    replica: int = 0  # which of the driver's URLs acknowledged it


@dataclass
class Failure:
    index: int
    key: str
    command: Command
    status: int
    detail: str


@dataclass
class LoadDriver:
    """Posts commands at a fixed rate over real HTTP, open loop.

    Command i is scheduled at start + i / rate, whatever happened to the others;
    `threads` workers take the scheduled slots, so one slow answer does not lower
    the rate. Every command has its own Idempotency-Key; a connection error or a
    503 is retried with the SAME key until acknowledged or abandoned at the end of
    the test. Any other non-2xx answer is an error (counted, not retried).

    With `replicas` (more base URLs), command i's attempt k goes to replica (i + k) mod
    n: commands alternate between them, and a retry lands on another replica.
    """

    url: str
    api_key: str
    command_for: Callable[[int], Command]
    rate: float
    threads: int = 4
    limit: int | None = None  # at most this many commands
    offset: int = 0  # command i is command_for(offset + i)
    request_timeout: float = 15.0
    retry_pause: float = 0.1
    give_up_after: float = 180.0  # a command still unacknowledged then is abandoned
    replicas: list[str] = field(default_factory=list)  # other base URLs of the same ledger
    acks: list[Ack] = field(default_factory=list)
    errors: list[Failure] = field(default_factory=list)
    transient: Counter[str] = field(default_factory=Counter)
    unacknowledged: list[tuple[int, str]] = field(default_factory=list)
    late: list[float] = field(default_factory=list)  # how late each send started
    sent: int = 0

    def __post_init__(self) -> None:
        self.prefix = uuid.uuid4().hex[:10]
        self._lock = threading.Lock()
        self._next = 0
        self._stopping = threading.Event()  # no new commands
        self._abandon = threading.Event()  # give up retrying
        self._workers: list[threading.Thread] = []
        self.started_at = 0.0
        self.stopped_at = 0.0
        self.last_sent_at = 0.0

    def start(self) -> LoadDriver:
        self.started_at = time.monotonic()
        self._workers = [
            threading.Thread(target=self._work, name=f"load-{i}", daemon=True)
            for i in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self, drain_timeout: float = 60.0) -> None:
        """No new commands; the ones in flight are retried until acknowledged (bounded)."""
        self._stopping.set()
        self.stopped_at = time.monotonic()
        deadline = time.monotonic() + drain_timeout
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self._abandon.set()
        for worker in self._workers:
            worker.join(timeout=self.request_timeout + 5)
        assert not any(w.is_alive() for w in self._workers), "a load thread does not end"

    def close(self) -> None:
        """Clean-up after a failure: stop at once, abandoning what is in flight."""
        self._stopping.set()
        self._abandon.set()
        for worker in self._workers:
            worker.join(timeout=self.request_timeout + 5)

    def wait_all_sent(self, timeout: float) -> bool:
        """With a `limit`: until every command was sent (bounded)."""
        assert self.limit is not None
        deadline = time.monotonic() + timeout
        while self.sent < self.limit and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sent >= self.limit

    @property
    def next_offset(self) -> int:
        """Where a following driver on the same tenant starts (distinct commands)."""
        return self.offset + self._next

    def max_position(self) -> int:
        return max((a.position for a in self.acks), default=0)

    def _slot(self) -> tuple[int, float] | None:
        with self._lock:
            if self._stopping.is_set() or (self.limit is not None and self._next >= self.limit):
                return None
            index = self._next
            self._next += 1
        return index, self.started_at + index / self.rate

    def _work(self) -> None:
        clients = [
            httpx.Client(
                base_url=url,
                timeout=httpx.Timeout(self.request_timeout, connect=2.0),
                headers={"Authorization": f"Bearer {self.api_key}"},
            )
            for url in [self.url, *self.replicas]
        ]
        try:
            while (slot := self._slot()) is not None:
                index, scheduled = slot
                wait = scheduled - time.monotonic()
                if wait > 0 and self._stopping.wait(wait):
                    return  # stopped before this one was due: it is never sent
                with self._lock:
                    self.sent += 1
                    self.late.append(max(0.0, -wait))
                    self.last_sent_at = time.monotonic()
                self._send(clients, index, scheduled)
        finally:
            for client in clients:
                client.close()

    def _send(self, clients: list[httpx.Client], index: int, scheduled: float) -> None:
        command = self.command_for(self.offset + index)
        key = f"{self.prefix}-{self.offset + index}"
        attempts = 0
        while True:
            client = clients[(index + attempts) % len(clients)]
            attempts += 1
            sent_at = time.monotonic()
            try:
                response = client.post(
                    command.path, json=command.body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError as error:
                with self._lock:
                    self.transient[type(error).__name__] += 1
            else:
                body = response.json() if 200 <= response.status_code < 300 else None
                if isinstance(body, dict) and isinstance(body.get("position"), int):
                    with self._lock:
                        self.acks.append(
                            Ack(
                                index,
                                key,
                                command,
                                response.status_code,
                                int(body["position"]),
                                body,
                                time.monotonic() - scheduled,
                                attempts,
                                time.monotonic() - sent_at,
                                (index + attempts - 1) % len(clients),
                            )
                        )
                    return
                if response.status_code != 503:
                    with self._lock:
                        self.errors.append(
                            Failure(index, key, command, response.status_code, response.text)
                        )
                    return
                with self._lock:
                    self.transient["503"] += 1
            given_up = time.monotonic() - scheduled > self.give_up_after
            if given_up or self._abandon.wait(self.retry_pause):
                with self._lock:
                    self.unacknowledged.append((index, key))
                return

    def achieved_rate(self) -> float:
        return self.sent / max(1e-9, self.last_sent_at - self.started_at + 1 / self.rate)

    def latency_ms(self, q: float, service: bool = False) -> float:
        latencies = sorted(a.service if service else a.latency for a in self.acks)
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    def report(self, label: str) -> str:
        latencies = sorted(a.latency for a in self.acks)
        late = sorted(self.late)

        def pct(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

        # The last command is sent 1/rate after the one before: count that interval too.
        elapsed = max(1e-9, self.last_sent_at - self.started_at + 1 / self.rate)
        return (
            f"[{label}] sent {self.sent} in {elapsed:.1f}s ({self.achieved_rate():.1f}/s "
            f"of {self.rate:.0f}/s scheduled), acknowledged {len(self.acks)}, "
            f"errors {len(self.errors)}, unacknowledged {len(self.unacknowledged)}, "
            f"transient {dict(self.transient)}; latency p50 {pct(latencies, 0.5):.0f} ms "
            f"p99 {pct(latencies, 0.99):.0f} ms max {pct(latencies, 1.0):.0f} ms "
            f"(service time p50 {self.latency_ms(0.5, True):.0f} ms "
            f"p99 {self.latency_ms(0.99, True):.0f} ms); "
            f"send lateness p99 {pct(late, 0.99):.0f} ms; "
            f"retried {sum(1 for a in self.acks if a.attempts > 1)}"
        )


# -- a tenant the load can run against ------------------------------------------------------


@dataclass
class LoadTenant:
    """A tenant whose commands always succeed, so any refusal is a defect.

    Each command gives exactly one award: the first `len(members)` are completions of a
    daily mission (one per member), then recognitions over every giver/recipient pair
    (limits raised far above the load) alternate with point adjustments.
    """

    tenant_id: str
    members: list[str]
    admin_key: str = ""
    mission_points: int = 10

    @classmethod
    def create(cls, url: str, token: str, tenant_id: str, members: int = 12) -> LoadTenant:
        tenant = cls(tenant_id, [f"m{i:02d}" for i in range(members)])
        tenant.admin_key = create_tenant(
            url,
            token,
            tenant_id,
            timezone="UTC",
            settings={
                "timezone": "UTC",
                "monthly_allowance": 1_000_000,
                "max_recognitions_per_pair_per_week": 1000,
            },
        )
        with tenant.client(url) as client:
            for value in ("teamwork", "ownership"):
                post_ok(client, "/v1/values", {"key": value, "name": value.title()})
            for i, member in enumerate(tenant.members):
                post_ok(
                    client,
                    "/v1/members",
                    {
                        "member_id": member,
                        "display_name": member.upper(),
                        "team": ("red", "blue", "green")[i % 3],
                        "joined_at": "2020-01-01T00:00:00Z",
                    },
                )
            post_ok(
                client,
                "/v1/missions",
                {
                    "mission_id": "standup",
                    "title": "Stand-up notes",
                    "values": ["teamwork"],
                    "points": tenant.mission_points,
                    "cadence": "daily",
                },
            )
        return tenant

    def client(self, url: str, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=url, timeout=timeout, headers={"Authorization": f"Bearer {self.admin_key}"}
        )

    def command(self, i: int) -> Command:
        n = len(self.members)
        if i < n:
            member = self.members[i]
            path = "/v1/missions/standup/completions"
            return Command(path, {"member_id": member}, member, self.mission_points)
        j = i - n
        if j % 2 == 0:
            pair = j // 2 % (n * (n - 1))
            giver, offset = divmod(pair, n - 1)
            recipient = (giver + 1 + offset) % n
            points = 1 + j % 5
            body = {
                "from_member": self.members[giver],
                "to_member": self.members[recipient],
                "value": ("teamwork", "ownership")[j // 2 % 2],
                "points": points,
                "message": f"thanks #{i}",
            }
            return Command("/v1/recognitions", body, self.members[recipient], points)
        member = self.members[j // 2 % n]
        points = 1 + j % 7
        body = {"member_id": member, "points": points, "reason": f"load #{i}"}
        return Command("/v1/points/adjustments", body, member, points)

    def verify_balances(self, url: str, acks: Iterable[Ack], timeout: float = 60.0) -> None:
        """Read your writes: every acknowledged award is there exactly once, nothing else."""
        acks = list(acks)
        position = max((a.position for a in acks), default=0)
        expected: dict[str, list[Ack]] = {m: [] for m in self.members}
        for ack in acks:
            assert ack.body.get("points") == ack.command.points, ack.body
            expected[ack.command.member].append(ack)
        with self.client(url) as client:
            for member, mine in expected.items():
                params = {"min_position": position} if position else None
                got = get_when_ready(client, f"/v1/members/{member}/points", params, timeout)
                keys = sorted(a["command"]["idempotency_key"] for a in got["awards"])
                assert keys == sorted(a.key for a in mine), (
                    f"{member}: awards by idempotency key differ from the acknowledged commands"
                )
                assert got["balance"] == sum(a.command.points for a in mine), member


# -- what the store, Kafka and the projection files hold ----------------------------------


def open_store_ledger(data_dir: Path, store: str | None = None) -> Any:
    """The ledger of a data dir, or of the event store at URL `store` (read it while its
    processes run or after they stopped)."""
    from ledger.bootstrap import open_ledger
    from ledger.config import Settings

    return open_ledger(Settings(data_dir=data_dir, event_store=store, _env_file=None))


def store_head(data_dir: Path, store: str | None = None) -> int:
    """The store's last position (internal events included)."""
    ledger = open_store_ledger(data_dir, store)
    try:
        return int(ledger.store.max_position())
    finally:
        ledger.close()


def store_envelopes(data_dir: Path, store: str | None = None) -> dict[int, dict[str, Any]]:
    """Every public event of the store, by position."""
    from consumers.sources import StoreSource

    ledger = open_store_ledger(data_dir, store)
    try:
        return {
            e["position"]: e
            for batch in StoreSource(ledger.store).batches(0)
            for e in batch.envelopes
        }
    finally:
        ledger.close()


def assert_acknowledged_in_store(acks: Iterable[Ack], envelopes: dict[int, dict[str, Any]]) -> None:
    """Each acknowledged position is its command's award, recorded once."""
    by_key: Counter[str] = Counter(
        e["payload"]["command"]["idempotency_key"]
        for e in envelopes.values()
        if e["event_type"] == "PointsAwarded"
    )
    for ack in acks:
        envelope = envelopes.get(ack.position)
        assert envelope is not None, f"acknowledged position {ack.position} is not in the store"
        assert envelope["event_type"] == "PointsAwarded", envelope["event_type"]
        assert envelope["payload"]["command"]["idempotency_key"] == ack.key, ack
        assert by_key[ack.key] == 1, f"{ack.key} was recorded {by_key[ack.key]} times"


def _rounding_only(a: Any, b: Any) -> bool:
    """Equal but for floats one unit apart in their 4th decimal (a tie rounded both ways)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1.5e-4
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_rounding_only(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_rounding_only(a[k], b[k]) for k in a)
    return bool(a == b)


def _table_diff(name: str, have: list[Any], want: list[Any]) -> str:
    differing = [i for i, (h, w) in enumerate(zip(have, want, strict=False)) if h != w]
    if len(have) != len(want) or not differing:
        return f"{name}: {len(have)} rows in the file, {len(want)} in a clean rebuild"
    first = differing[0]
    note = (
        " (only rounding: floats one unit apart in the last rounded digit)"
        if _rounding_only(have, want)
        else ""
    )
    return (
        f"{name}: {len(differing)} rows differ{note}; first at row {first}:\n"
        f"  file:    {have[first]}\n  rebuild: {want[first]}"
    )


def assert_equals_rebuild(data_dir: Path, projection_file: Path) -> dict[str, int]:
    """The projection file (its writer stopped) equals a clean rebuild from the store,
    made as `ledger rebuild` makes it (derived tables computed once at the end).

    Returns the row count of each compared table.
    """
    from consumers.projector import catch_up
    from consumers.sources import StoreSource
    from ledger.projections.projection import Projection
    from tests.property.test_projection_properties import tables

    assert projection_file.exists(), f"no projection file {projection_file}"
    ledger = open_store_ledger(data_dir)
    try:
        clean = Projection(":memory:", decrypt=ledger.personal.decrypt)
        catch_up(clean, StoreSource(ledger.store), rebuild=True)
        want = tables(clean)
        clean.close()
        opened = Projection(projection_file, decrypt=ledger.personal.decrypt)
        try:
            have = tables(opened)
        finally:
            opened.close()
    finally:
        ledger.close()
    problems = [_table_diff(t, have[t], want[t]) for t in want if have[t] != want[t]]
    assert not problems, f"{projection_file} differs from a clean rebuild:\n" + "\n".join(problems)
    return {t: len(rows) for t, rows in want.items()}


def kafka_records(
    bootstrap: str, topic: str, want: set[int], timeout: float = 90.0
) -> Counter[int]:
    """Positions in the topic (read from offset 0) and how many times each was published.

    Reads until every wanted position was seen and a poll comes back empty, or `timeout`.
    """
    import orjson
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    seen: Counter[int] = Counter()
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] | None = None
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                time.sleep(0.1)
        assert partitions, f"topic {topic} has no partitions"
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=500)
            for records in polled.values():
                for record in records:
                    seen[int(orjson.loads(record.value)["position"])] += 1
            if not polled and want <= seen.keys():
                break
    finally:
        consumer.close()
    return seen


def snapshot_positions(snapshot: Path) -> dict[str, int]:
    """Per-tenant applied positions in an analysts' snapshot (empty if none yet)."""
    import duckdb

    if not snapshot.exists():
        return {}
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return {}  # being replaced right now
    try:
        return dict(con.execute("SELECT tenant_id, position FROM tenant_positions").fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


def wait_snapshot_reaches(snapshot: Path, wanted: dict[str, int], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    have: dict[str, int] = {}
    while time.monotonic() < deadline:
        have = snapshot_positions(snapshot)
        if all(have.get(t, 0) >= p for t, p in wanted.items()):
            return
        time.sleep(0.2)
    raise AssertionError(f"{snapshot} did not reach {wanted} in {timeout:.0f}s: {have}")


def tenant_heads(envelopes: dict[int, dict[str, Any]]) -> dict[str, int]:
    heads: dict[str, int] = {}
    for position, envelope in envelopes.items():
        tenant = envelope["tenant_id"]
        heads[tenant] = max(heads.get(tenant, 0), position)
    return heads
