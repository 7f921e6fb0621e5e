"""PostgreSQL goes away under load and comes back, while the ledger server keeps running.

While the event store is gone, commands answer 503 with `Retry-After` (a problem
document, never a 500, never a driver message); reads of the DuckDB projections keep
answering. When it is back, the same server process recovers on its own: commands
succeed again, every acknowledged command is in the store exactly once, a command
retried with its Idempotency-Key is recorded at most once, no command is half-written,
and the live projections equal a clean rebuild.

The server runs on a private PostgreSQL (tests/fault/private_postgres.py), crashed
with `pg_ctl stop -m immediate` and started again on the same port and data.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg_pool
import pytest
from eventsourcing import persistence
from fastapi import FastAPI
from fastapi.testclient import TestClient

from consumers.projector import catch_up
from consumers.sources import StoreSource
from ledger.bootstrap import open_ledger
from ledger.config import Settings
from ledger.projections.projection import Projection
from ledger.web import problems
from tests.fault.private_postgres import PrivatePostgres, private_postgres
from tests.integration import http_server
from tests.integration.http_server import create_tenant, running_server
from tests.property.test_projection_properties import tables
from tests.support import now

MEMBERS = [f"m{i}" for i in range(5)]
# Every store call is retried by eventsourcing for about 12 s before it gives up
# (ledger.store.store_env), so a request in flight when PostgreSQL dies answers then;
# one queued behind it on the cache's fast-forward lock of a shared aggregate (the
# tenant) starts its own 12 s only after that: 503s come in waves ~12 s apart.
FIRST_503_SECONDS = 40.0
# After a restart the connection pool reconnects on its own exponential backoff
# (psycopg_pool: 1 s, 2 s, 4 s, ... for up to 5 minutes): the wait can be about as
# long as the outage was, and the outage here lasts one or two waves of 503s.
RECOVERY_SECONDS = 30.0
# Text a 503 body must never carry: driver messages, addresses, paths, stack traces.
LEAKS = ("Traceback", 'File "', "site-packages", "/tmp", "/work", "psycopg", "Pool", "127.0.0.1")


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll `check` until true; the time it took. Fails the test after `seconds`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what}: not within {seconds:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - started


@dataclass
class Outcome:
    key: str
    body: dict[str, Any]
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all (a transport error)
    headers: dict[str, str]
    text: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.text)
        return data


class Load:
    """Threads posting point adjustments, each with a fresh Idempotency-Key, every ~20 ms.

    Adjustments have no path check (one that reads the store on the event loop; see
    test_a_request_waiting_on_the_store_does_not_stall_the_others), so the event loop
    stays free and queries and /healthz can be checked while commands wait.
    """

    def __init__(self, url: str, key: str, threads: int = 3) -> None:
        self.client = httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"}
        )
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.next = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, failure: type[BaseException] | None, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=70)  # one request at most (client timeout 60 s)
        self.client.close()
        if failure is None:  # else the test's own failure is the one to report
            assert not any(t.is_alive() for t in self.threads), "a load thread did not stop"

    def _run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                i, self.next = self.next, self.next + 1
            body = {"member_id": MEMBERS[i % len(MEMBERS)], "points": 1 + i % 9, "reason": f"{i}"}
            outcome = post(self.client, "/v1/points/adjustments", body, f"load-{i}")
            with self.lock:
                self.outcomes.append(outcome)
            time.sleep(0.02)

    def count(self, status: int, started_after: float = 0.0) -> int:
        with self.lock:
            return sum(
                1 for o in self.outcomes if o.status == status and o.started >= started_after
            )

    def snapshot(self) -> list[Outcome]:
        with self.lock:
            return list(self.outcomes)


def post(client: httpx.Client, path: str, body: dict[str, Any], key: str) -> Outcome:
    started = time.monotonic()
    try:
        response = client.post(path, json=body, headers={"Idempotency-Key": key})
    except httpx.HTTPError as error:
        return Outcome(key, body, started, time.monotonic(), None, {}, repr(error))
    return Outcome(
        key,
        body,
        started,
        time.monotonic(),
        response.status_code,
        dict(response.headers),
        response.text,
    )


def assert_unavailable(status: int | None, headers: dict[str, str], text: str) -> None:
    """A 503 problem document with Retry-After, and nothing from the server's insides."""
    assert status == 503, text
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["retry-after"]) > 0
    body = json.loads(text)
    assert body["status"] == 503 and body["title"] == "Unavailable"
    assert body["detail"] == "the event store is unavailable; retry later"
    assert not [leak for leak in LEAKS if leak in text], text


@dataclass
class Server:
    pg: PrivatePostgres
    url: str
    admin: httpx.Client
    manager_key: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The ledger server on a private PostgreSQL: a tenant, members, a mission, a manager key."""
    with (
        private_postgres(keep_log_in=tmp_path) as pg,
        running_server(tmp_path / "ledger", event_store=pg.url) as url,
    ):
        admin_key = create_tenant(url, "acme")
        admin = httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {admin_key}"}
        )
        try:
            joined = (now() - timedelta(days=30)).isoformat()
            ok(admin.post("/v1/values", json={"key": "ownership", "name": "Ownership"}))
            for member in MEMBERS:
                body = {
                    "member_id": member,
                    "display_name": member,
                    "team": "t",
                    "joined_at": joined,
                }
                ok(admin.post("/v1/members", json=body))
            mission = {
                "mission_id": "follow-up",
                "title": "Follow up",
                "points": 10,
                "values": ["ownership"],
                "cadence": "daily",
            }
            ok(admin.post("/v1/missions", json=mission))
            manager = ok(admin.post("/v1/api-keys", json={"role": "manager", "label": "load"}))
            # Warm the key cache: checking an API key needs the store the first time.
            assert admin.get("/v1/leaderboard", params={"period": "week"}).status_code == 200
            yield Server(pg, url, admin, str(manager["key"]))
        finally:
            admin.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.postgres
def test_postgres_outage_under_load_answers_503_then_recovers_without_restart(
    server: Server,
) -> None:
    pg, admin = server.pg, server.admin
    with Load(server.url, server.manager_key) as load:
        wait_until(lambda: load.count(201) >= 20, 20, "commands succeed before the outage")

        down_at = time.monotonic()  # the outage begins as the stop does
        pg.crash()

        # Reads of the projections do not need the store: they keep answering, at once.
        # (Not /v1/members/{id}/points: it decrypts reasons with keys kept in PostgreSQL.)
        started = time.monotonic()
        for path in ("/v1/leaderboard", "/v1/heatmap", "/v1/alignment"):
            answer = admin.get(path, params={"period": "week"}, timeout=5)
            assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < 3

        # /healthz needs the store: a 503 problem document, not a 500.
        health = admin.get("/healthz")
        assert_unavailable(health.status_code, dict(health.headers), health.text)

        wait_until(
            lambda: load.count(503, started_after=down_at - 1) >= 2,
            FIRST_503_SECONDS,
            "commands answer 503 while PostgreSQL is down",
        )

        pg.start()
        up_at = time.monotonic()
        recovered_in = wait_until(
            lambda: load.count(201, started_after=up_at) >= 10,
            RECOVERY_SECONDS,
            "commands succeed again after PostgreSQL is back (same server process)",
        )
    outage = up_at - down_at
    print(f"outage {outage:.1f}s, 10 commands succeeded {recovered_in:.1f}s after restart")

    health = admin.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text

    outcomes = load.snapshot()
    statuses = Counter(o.status for o in outcomes)
    assert set(statuses) <= {201, 503}, statuses  # never a 500, never a dropped connection
    # Recovered means recovered: once a command succeeded again, no more refusals.
    back_at = min(o.ended for o in outcomes if o.status == 201 and o.started >= up_at)
    late = [o.text for o in outcomes if o.status == 503 and o.started >= back_at]
    assert not late, late
    refused = [o for o in outcomes if o.status == 503]
    for outcome in refused:
        assert_unavailable(outcome.status, outcome.headers, outcome.text)
        assert outcome.ended >= down_at, "a 503 before the outage"

    # A client retries what was refused, with the same Idempotency-Key: accepted now.
    manager = httpx.Client(
        base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {server.manager_key}"}
    )
    with manager:
        retried = [post(manager, "/v1/points/adjustments", o.body, o.key) for o in refused]
        assert [r.status for r in retried] == [201] * len(retried), [r.text for r in retried]
        accepted = [o for o in outcomes if o.status == 201] + retried
        # ... and again, everything acknowledged: replayed, with the same answer.
        replays = {o.key: post(manager, "/v1/points/adjustments", o.body, o.key) for o in accepted}
    for outcome in accepted:
        replay = replays[outcome.key]
        assert replay.status == 201, replay.text
        assert replay.json()["adjustment_id"] == outcome.json()["adjustment_id"]

    check_the_store(pg.url, accepted, every_key={o.key for o in outcomes})


def check_the_store(url: str, accepted: list[Outcome], every_key: set[str]) -> None:
    """Read back from PostgreSQL itself (a fresh connection, no server cache)."""
    ledger = open_ledger(Settings(event_store=url, _env_file=None))  # type: ignore[call-arg]
    try:
        envelopes = [e for batch in StoreSource(ledger.store).batches(0) for e in batch.envelopes]
        by_id = {e["event_id"]: e for e in envelopes}
        by_position = {e["position"]: e for e in envelopes}
        adjusted = {e["event_id"]: e for e in envelopes if e["event_type"] == "PointsAdjusted"}
        awards = [e["payload"] for e in envelopes if e["event_type"] == "PointsAwarded"]

        # Nothing half-written: every award has its cause, every adjustment its one award.
        causes = Counter(a["cause_event_id"] for a in awards)
        assert all(cause in by_id for cause in causes), "an award without its cause"
        assert all(causes[event_id] == 1 for event_id in adjusted), "a cause without its award"
        for award in awards:
            if award["kind"] == "adjustment":
                cause = adjusted[award["cause_event_id"]]["payload"]
                assert award["source"]["id"] == str(cause["adjustment_id"])

        # Every command sent (each was acknowledged, at first or on retry) is recorded
        # exactly once: nothing lost in the outage, nothing doubled by the retries.
        by_key: dict[str, list[dict[str, Any]]] = {}
        for award in awards:
            by_key.setdefault(str(award["command"]["idempotency_key"]), []).append(award)
        load_keys = {k for k in by_key if k.startswith("load-")}
        assert load_keys == every_key
        assert all(len(by_key[key]) == 1 for key in load_keys), "recorded twice"
        for outcome in accepted:
            body = outcome.json()
            (award,) = by_key[outcome.key]
            assert award["source"]["id"] == body["adjustment_id"]
            assert award["points"] == outcome.body["points"]
            # The position answered is the command's own last event, in the store.
            at = by_position[body["position"]]
            assert at["event_type"] == "PointsAwarded"
            assert at["payload"]["command"]["idempotency_key"] == outcome.key

        # The server's projector got past the outage on its own and equals a clean rebuild.
        runtime = http_server.LAST_RUNTIME
        assert runtime is not None
        live = runtime.projection
        head = ledger.store.max_position()
        wait_until(
            lambda: live.source_position("store") >= head,
            RECOVERY_SECONDS,
            "the live projections catch up after the outage",
        )
        clean = Projection(":memory:", decrypt=ledger.personal.decrypt)
        catch_up(clean, StoreSource(ledger.store))
        assert tables(live) == tables(clean)
        clean.close()
    finally:
        ledger.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "command",
    [
        "completion",  # no personal data: the event store alone
        "adjustment",  # its reason is encrypted: the member key store too
    ],
)
def test_a_restart_between_requests_costs_clients_nothing(server: Server, command: str) -> None:
    """Restarted while idle: the pools hold only dead connections, yet no command fails."""
    admin = server.admin
    if command == "completion":
        path, bodies = "/v1/missions/follow-up/completions", [{"member_id": m} for m in MEMBERS]
    else:
        path = "/v1/points/adjustments"
        bodies = [{"member_id": m, "points": 2, "reason": "quiet"} for m in MEMBERS]
    ok(admin.post(path, json=bodies[0]))  # both pools hold live connections now
    server.pg.crash()
    server.pg.start()
    answers = [admin.post(path, json=body) for body in bodies[1:]]
    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers]


@pytest.mark.postgres
@pytest.mark.parametrize("blocker", ["command path check", "min_position query"])
def test_a_request_waiting_on_the_store_does_not_stall_the_others(
    server: Server, blocker: str
) -> None:
    pg, admin = server.pg, server.admin
    done = ok(
        admin.post("/v1/points/adjustments", json={"member_id": "m0", "points": 1, "reason": "x"})
    )

    def waiting_on_the_store() -> None:
        # Its own answer (503 after the store's retries, or success once PostgreSQL is
        # back) is not the point here: what it does to the other requests meanwhile is.
        if blocker == "command path check":
            path, body = "/v1/missions/follow-up/completions", {"member_id": "m1"}
            admin.post(path, json=body, headers={"Idempotency-Key": "blocker"})
        else:
            params = {"period": "week", "min_position": done["position"]}
            admin.get("/v1/leaderboard", params=params)

    pg.crash()
    thread = threading.Thread(target=waiting_on_the_store, daemon=True)
    thread.start()
    try:
        time.sleep(1)  # well inside the blocked request's ~12 s of retries
        started = time.monotonic()
        board = admin.get("/v1/leaderboard", params={"period": "week"}, timeout=3)
        assert board.status_code == 200
        assert time.monotonic() - started < 3
    finally:
        pg.start()
        thread.join(timeout=RECOVERY_SECONDS + 15)


# -- the mapping itself, without a database ----------------------------------------------

# What drivers say when the database is gone: an address and a path, for the log only.
DRIVER_TEXT = 'connection to server at "127.0.0.1", port 5999 failed: /tmp/pg/.s.PGSQL.5999'


def _raising(error: Exception) -> TestClient:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


def _wrapped(cause: Exception, wrapper: type[Exception]) -> Exception:
    """The exception as eventsourcing raises it: its own class, the driver's as cause."""
    try:
        raise wrapper(str(cause)) from cause
    except Exception as error:
        return error


@pytest.mark.parametrize(
    "make",
    [
        lambda: _wrapped(psycopg_pool.PoolTimeout(DRIVER_TEXT), persistence.OperationalError),
        lambda: _wrapped(psycopg.OperationalError(DRIVER_TEXT), persistence.OperationalError),
        lambda: _wrapped(psycopg.InterfaceError(DRIVER_TEXT), persistence.InterfaceError),
        lambda: psycopg_pool.PoolTimeout(DRIVER_TEXT),  # the personal-data key store's pool
        lambda: psycopg.errors.AdminShutdown(DRIVER_TEXT),
        lambda: sqlite3.OperationalError(f"database is locked: {DRIVER_TEXT}"),
        lambda: _wrapped(
            sqlite3.OperationalError("database is locked"), persistence.OperationalError
        ),
    ],
    ids=[
        "pool-timeout",
        "connection-lost",
        "connection-closed",
        "key-store-pool",
        "server-shutdown",
        "sqlite-locked",
        "sqlite-locked-wrapped",
    ],
)
def test_store_unavailable_maps_to_503_with_retry_after(
    make: Callable[[], Exception], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ledger.api"):
        response = _raising(make()).get("/boom")
    assert_unavailable(response.status_code, dict(response.headers), response.text)
    lines = [r for r in caplog.records if r.name == "ledger.api"]
    assert len(lines) == 1 and lines[0].exc_info is None  # one line, no stack trace
    assert "event store unavailable" in lines[0].getMessage()


@pytest.mark.parametrize(
    "error",
    [
        persistence.ProgrammingError("relation does not exist"),
        persistence.IntegrityError("duplicate key"),
        persistence.DataError("invalid input syntax"),
    ],
)
def test_store_bugs_stay_500(error: Exception) -> None:
    """Only outages are 503: a bug must not look like something a retry would fix."""
    response = _raising(error).get("/boom")
    assert response.status_code == 500
    assert "retry" not in response.text and "retry-after" not in response.headers
