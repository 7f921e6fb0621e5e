"""The drift watch through real HTTP: raised by `ledger serve`'s watch, read, acknowledged,
and delivered to webhooks (Standard Webhooks signatures, retries with one webhook-id)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from ledger.clock import FixedClock
from ledger.commands.tenancy import IssueApiKey
from ledger.commands.webhooks import RegisterWebhook
from ledger.periods import week_start
from tests.conftest import open_ledger
from tests.drift_company import fading_mix, generate
from tests.integration.http_server import running_server, store_head
from tests.integration.test_http_api import Api
from tests.support import ledger_cli, now
from tests.webhook_receiver import Receiver, receiver

pytestmark = pytest.mark.calendar
WEEKS = 21  # the company's history ends with last week; t0 lets `a` fade from week 9


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Receiver, Receiver]]:
    # One receiver fails once (500) then takes it; one answers with a redirect, always.
    with (
        receiver(answers=[500]) as flaky,
        receiver(answers=[307] * 100, location="http://10.0.0.1/") as moved,
    ):
        yield flaky, moved


@pytest.fixture(scope="module")
def company(
    tmp_path_factory: pytest.TempPathFactory, hooks: tuple[Receiver, Receiver]
) -> Iterator[dict[str, Any]]:
    """The company's history and two webhooks written before the server starts; then
    `ledger serve`, whose watch raises at start what it finds."""
    data_dir: Path = tmp_path_factory.mktemp("drift")
    this_monday = week_start(now().date())
    start = datetime.combine(this_monday, datetime.min.time(), UTC) - timedelta(weeks=WEEKS)
    clock = FixedClock(start)
    ledger = open_ledger(f"sqlite:///{data_dir / 'events.sqlite'}", clock)
    world = generate(ledger, clock, WEEKS - 1, fading_mix(9), 3, ("t0", "t1"), start)
    clock.set(now() - timedelta(minutes=1))
    flaky, moved = hooks
    registered = [
        world.run(
            RegisterWebhook(
                url=flaky.url, events=["drift.alert.raised", "drift.alert.acknowledged"]
            )
        ),
        world.run(RegisterWebhook(url=moved.url, events=["drift.alert.raised"])),
    ]
    admin_key = world.run(IssueApiKey(role="admin", label="admin"))["key"]
    ledger.close()
    with running_server(
        data_dir,
        webhook_allow_private=True,
        webhook_retry_seconds=0.3,
        webhook_lease_seconds=5,
    ) as url:
        yield {"admin": Api(url, admin_key), "webhooks": registered, "data_dir": data_dir}


def raised(admin: Api) -> list[dict[str, Any]]:
    """The alerts once the watch has raised them (it runs at the server's start)."""
    deadline = time.monotonic() + 30
    while True:
        answer = admin.get("/v1/drift", min_position=store_head(admin.url))
        assert answer.status_code in (200, 503), answer.text  # 503: catching up at start
        alerts = [a for a in answer.json().get("alerts", []) if a["raised"] is not None]
        if alerts:
            return alerts
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)


def test_the_watch_raises_the_fading_teams_alert_once_and_lists_it(company: dict) -> None:
    admin: Api = company["admin"]
    alerts = raised(admin)
    fading = [a for a in alerts if (a["team"], a["value"]) == ("t0", "a")]
    assert len(fading) == 1 and fading[0]["current"] is True
    assert all(a["team"] in ("t0", None) for a in alerts)  # t1 is steady
    alert = fading[0]
    assert alert["raised"]["position"] > 0 and alert["acknowledged"] is None
    first = min(a["raised"]["position"] for a in alerts)
    events = admin.get("/v1/events", after=first - 1, limit=1000).json()["events"]
    raised_events = [e for e in events if e["event_type"] == "DriftAlertRaised"]
    assert sorted(e["payload"]["alert_id"] for e in raised_events) == sorted(
        a["alert_id"] for a in alerts
    )
    one = admin.get(f"/v1/drift/alerts/{alert['alert_id']}").json()
    assert one["weeks"][0]["week_start"] == alert["baseline_from"]
    assert one["weeks"][-1]["week_start"] == alert["week"]
    assert one["weeks"][-1]["cusum"] == alert["cusum"] > 9
    series = admin.get("/v1/drift", scope="team", team="t1").json()["series"]
    assert {s["state"] for s in series} == {"watching"} and len(series) == 4


def test_webhooks_are_delivered_signed_and_retried_with_the_same_id(
    company: dict, hooks: tuple[Receiver, Receiver]
) -> None:
    admin: Api = company["admin"]
    raised(admin)
    flaky, moved = hooks
    alerts = len(raised(admin))
    received = flaky.wait_for(alerts + 1)  # each alert once, and the one refused again
    ids = [r.headers["webhook-id"] for r in received]
    retried = ids[0]  # the first delivery was answered 500: the same message came again
    assert ids.count(retried) == 2 and len(set(ids)) == alerts, ids
    second = received[ids.index(retried, 1)]
    secret = company["webhooks"][0]["secret"]
    payload = Webhook(secret).verify(second.body, second.headers)
    assert payload["type"] == "drift.alert.raised"
    assert payload["data"]["alert_id"] and "fading" in payload["text"]
    log = admin.get(f"/v1/webhooks/{company['webhooks'][0]['webhook_id']}/deliveries").json()
    attempts = sorted([a["status"] for a in d["attempts"]] for d in log["deliveries"])
    assert attempts == sorted([[500, 200]] + [[200]] * (alerts - 1))
    # A redirect is never followed: its attempts are failures, retried, never delivered.
    moved.wait_for(2)
    log = admin.get(f"/v1/webhooks/{company['webhooks'][1]['webhook_id']}/deliveries").json()
    assert len(log["deliveries"]) == alerts
    for delivery in log["deliveries"]:
        assert not delivery["delivered"]
        assert {a["error"] for a in delivery["attempts"]} <= {"redirects are not followed"}
    listed = admin.get("/v1/webhooks").json()["webhooks"]
    assert {w["url"] for w in listed} == {"http://" + h.url.split("/")[2] + "/…" for h in hooks}


def test_a_manager_acknowledges_an_alert_once_with_a_note_and_a_lever(
    company: dict, hooks: tuple[Receiver, Receiver]
) -> None:
    admin: Api = company["admin"]
    alert = next(a for a in raised(admin) if a["team"] == "t0")
    path = f"/v1/drift/alerts/{alert['alert_id']}/acknowledgement"
    body = {"note": "Customer week planned", "lever": {"kind": "other", "text": "Customer week"}}
    assert admin.key_for("analyst").post(path, body).status_code == 403
    manager = admin.key_for("manager")
    assert manager.post(path, {"note": ""}).status_code == 422
    unknown = {"note": "x", "lever": {"kind": "campaign", "campaign_id": "nope"}}
    assert manager.post(path, unknown).status_code == 422
    done = manager.ok(path, body)
    assert manager.post(path, body).status_code == 409
    missing = "/v1/drift/alerts/00000000-0000-0000-0000-000000000000/acknowledgement"
    assert manager.post(missing, body).status_code == 404
    shown = admin.get("/v1/drift", min_position=done["position"]).json()["alerts"]
    acknowledged = next(a for a in shown if a["alert_id"] == alert["alert_id"])["acknowledged"]
    assert acknowledged["note"] == "Customer week planned"
    assert acknowledged["lever"] == {"kind": "other", "text": "Customer week"}
    assert acknowledged["by_key_label"] == "manager key"
    flaky, _ = hooks
    types = []
    deadline = time.monotonic() + 30
    while "drift.alert.acknowledged" not in types:
        assert time.monotonic() < deadline, types
        types = [r.body.decode() for r in flaky.received]
        types = ["drift.alert.acknowledged" for t in types if "drift.alert.acknowledged" in t]
        time.sleep(0.1)


def test_drift_reads_are_for_admin_manager_and_analyst(company: dict) -> None:
    admin: Api = company["admin"]
    assert admin.key_for("service").get("/v1/drift").status_code == 403
    assert admin.key_for("analyst").get("/v1/drift").status_code == 200
    assert admin.get("/v1/drift/alerts/not-an-id").status_code == 422
    assert admin.get("/v1/drift", scope="galaxy").status_code == 422


def test_ledger_drift_from_the_event_store_answers_what_the_api_answers(company: dict) -> None:
    admin: Api = company["admin"]
    raised(admin)
    api = admin.get("/v1/drift", min_position=store_head(admin.url)).json()
    data = ("--data-dir", str(company["data_dir"]))
    cli = ledger_cli("drift", "--tenant", "acme", "--json", *data)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    for part in ("series", "alerts", "threshold", "decline"):
        assert printed[part] == api[part], part
    table = ledger_cli("drift", "--tenant", "acme", "--team", "t0", *data)
    assert table.returncode == 0 and "fading in team t0" in table.stdout, table.stdout
    unknown = ledger_cli("drift", "--tenant", "nobody", *data)
    assert unknown.returncode == 2 and "no tenant" in unknown.stdout
