"""Raising once, and webhooks that survive a kill -9 (issue 18).

Two `ledger serve` processes watch one event store (each with its own projection file):
each alert is recorded once whichever of them computes it first, and a process killed
while its webhook request is in flight loses nothing: after its claim expires another
process sends the same message (the same `webhook-id`) again, and it is delivered.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from ledger.clock import FixedClock
from ledger.commands.webhooks import RegisterWebhook
from ledger.periods import week_start
from ledger.store import EventStore
from tests.conftest import open_ledger
from tests.drift_company import fading_mix, generate
from tests.fault.processes import LedgerProcess, ledger_env, operator_token
from tests.support import now
from tests.webhook_receiver import receiver

pytestmark = [pytest.mark.fault, pytest.mark.timeout(300)]
WEEKS = 21


def company(data_dir: Path, url: str) -> str:
    """A company whose team t0 lets value `a` fade, and a webhook; returns its secret."""
    this_monday = week_start(now().date())
    start = datetime.combine(this_monday, datetime.min.time(), UTC) - timedelta(weeks=WEEKS)
    clock = FixedClock(start)
    ledger = open_ledger(f"sqlite:///{data_dir / 'events.sqlite'}", clock)
    world = generate(ledger, clock, WEEKS - 1, fading_mix(9), 3, ("t0", "t1"), start)
    clock.set(now() - timedelta(minutes=1))
    secret = world.run(RegisterWebhook(url=url, events=["drift.alert.raised"]))["secret"]
    ledger.close()
    return str(secret)


def raised_in(data_dir: Path) -> Counter[str]:
    store = EventStore(f"sqlite:///{data_dir / 'events.sqlite'}")
    try:
        return Counter(
            orjson.loads(n.state)["alert_id"]
            for n in store.select(0, 1_000_000)
            if n.topic.endswith(":DriftAlertRaised")
        )
    finally:
        store.close()


def serve(data_dir: Path, name: str, token: str) -> LedgerProcess:
    env = ledger_env(
        data_dir,
        token,
        LEDGER_DUCKDB_PATH=str(data_dir / f"{name}.duckdb"),
        LEDGER_WEBHOOK_ALLOW_PRIVATE="1",
        LEDGER_WEBHOOK_LEASE_SECONDS="3",
        LEDGER_WEBHOOK_RETRY_SECONDS="0.3",
        LEDGER_DRIFT_INTERVAL="1",
    )
    logs = data_dir / f"logs-{name}"
    logs.mkdir(exist_ok=True)
    process = LedgerProcess.serve(env, logs)
    process.name = name
    return process


def wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_two_processes_raise_each_alert_once_and_a_kill_mid_delivery_loses_nothing(
    tmp_path: Path,
) -> None:
    token = operator_token()
    with receiver(hold=True) as hook:
        secret = company(tmp_path, hook.url)
        first = serve(tmp_path, "a", token)
        try:
            first.start_ready()
            # Its watch raises at start and its dispatcher sends: the receiver holds the
            # request unanswered, and the sender is killed with it in flight.
            wait(lambda: len(hook.received) >= 1)
            first.kill()
            in_flight = hook.received[0].headers["webhook-id"]
            hook.holding.clear()
            alerts = raised_in(tmp_path)
            assert alerts and set(alerts.values()) == {1}
            # Two processes now watch the same store, started at once.
            again, second = serve(tmp_path, "a", token), serve(tmp_path, "b", token)
            again.start()
            second.start()
            again.wait_ready()
            second.wait_ready()
            later = lambda: {r.headers["webhook-id"] for r in hook.received[1:]}  # noqa: E731
            wait(lambda: in_flight in later())
            wait(lambda: len({r.headers["webhook-id"] for r in hook.received}) >= len(alerts))
            time.sleep(3)  # both watches have run more passes (every second) by now
            assert raised_in(tmp_path) == alerts  # still one DriftAlertRaised per alert
            for request in hook.received:
                Webhook(secret).verify(request.body, request.headers)
            ids = Counter(r.headers["webhook-id"] for r in hook.received)
            assert ids[in_flight] >= 2  # sent again after the kill, with the same id
            assert len(ids) == len(alerts)  # one message per alert
            for process in (again, second):
                assert process.terminate() == 0
        finally:
            for process in (first,):
                process.ensure_stopped()
