"""The replicated stack: PostgreSQL, a Kafka-protocol broker, `ledger relay`, `ledger project`
and two `ledger serve` replicas, all started at the same moment.

Commands alternate between the replicas and a retry (same Idempotency-Key) lands on
the other one; reads with `min_position` are answered by either; races sent to both at
once keep the allowance, the pair limit and once-per-period; and when one replica is
killed with SIGKILL under load, the other keeps serving: nothing acknowledged is lost,
nothing is counted twice, and `ledger verify` re-decides every command the same way.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import drop_schema, postgres_url
from tests.fault.processes import (
    Ack,
    LedgerProcess,
    LoadDriver,
    LoadTenant,
    assert_acknowledged_in_store,
    create_tenant,
    kafka_records,
    ledger_env,
    operator_token,
    post_ok,
    started_together,
    store_envelopes,
)
from tests.integration.kafka_broker import Broker
from tests.support import process_env

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


class Stack:
    def __init__(self, broker: Broker, tmp_path: Path, store: str) -> None:
        self.store = store
        self.token = operator_token()
        self.topic = broker.new_topic()
        self.bootstrap = broker.bootstrap
        self.tmp_path = tmp_path

        def env(name: str) -> dict[str, str]:
            return ledger_env(
                tmp_path / name, self.token, broker.bootstrap, self.topic, LEDGER_EVENT_STORE=store
            )

        self.a = LedgerProcess.serve(env("a"), tmp_path)
        self.b = LedgerProcess.serve(env("b"), tmp_path)
        self.a.name, self.b.name = "serve-a", "serve-b"
        self.relay = LedgerProcess.relay(env("relay"), tmp_path)
        self.project = LedgerProcess.project(env("project"), tmp_path, source="kafka")
        self.processes = [self.a, self.b, self.relay, self.project]

    def start(self) -> None:
        started_together(self.processes)
        for process in self.processes:
            process.wait_ready(timeout=90)


@pytest.fixture
def stack(broker: Broker, tmp_path: Path) -> Iterator[Stack]:
    store = postgres_url()
    stack = Stack(broker, tmp_path, store)
    try:
        yield stack
    finally:
        for process in stack.processes:
            process.ensure_stopped()
        drop_schema(store)


def check_load(driver: LoadDriver, label: str) -> list[Ack]:
    print(driver.report(label))
    assert not driver.errors, [
        f"#{e.index} {e.command.path} -> {e.status} {e.detail}" for e in driver.errors[:5]
    ]
    assert not driver.unacknowledged, f"never acknowledged: {driver.unacknowledged[:5]}"
    assert len(driver.acks) == driver.sent
    return list(driver.acks)


def concurrently(
    urls: list[str], key: str, sends: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Each send posted by its own thread, all released together, alternating replicas."""
    barrier = threading.Barrier(len(sends), timeout=60)
    answers: list[httpx.Response | None] = [None] * len(sends)

    def post(i: int, path: str, body: dict[str, Any]) -> None:
        with httpx.Client(
            base_url=urls[i % len(urls)], timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            barrier.wait()
            answers[i] = client.post(path, json=body)

    threads = [
        threading.Thread(target=post, args=(i, path, body)) for i, (path, body) in enumerate(sends)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert all(a is not None for a in answers), "a racing request got no answer"
    return [a for a in answers if a is not None]


def outcomes(answers: list[httpx.Response]) -> Counter[str]:
    """How many were accepted, and each refusal by its problem type's last part."""
    return Counter(
        "accepted" if a.status_code == 201 else a.json()["type"].rsplit("/", 1)[-1] for a in answers
    )


def races(stack: Stack) -> None:
    """Allowance, pair limit and once-per-day, each raced across both replicas."""
    urls = [stack.a.url, stack.b.url]
    key = create_tenant(
        stack.b.url,
        stack.token,
        "race",
        timezone="UTC",
        settings={
            "timezone": "UTC",
            "monthly_allowance": 30,
            "max_recognitions_per_pair_per_week": 3,
        },
    )
    with httpx.Client(
        base_url=stack.b.url, timeout=30, headers={"Authorization": f"Bearer {key}"}
    ) as admin:
        post_ok(admin, "/v1/values", {"key": "teamwork", "name": "Teamwork"})
        for member in ("giver", "spender", "r1", "r2", "r3", "r4", "r5", "r6", "doer"):
            post_ok(
                admin,
                "/v1/members",
                {"member_id": member, "display_name": member, "team": "t"},
            )
        post_ok(
            admin,
            "/v1/missions",
            {
                "mission_id": "daily",
                "title": "Daily",
                "values": ["teamwork"],
                "points": 10,
                "cadence": "daily",
            },
        )
    # An allowance of 30: 12 gifts of 5 from one giver to six recipients, at once.
    spent = outcomes(
        concurrently(
            urls,
            key,
            [
                (
                    "/v1/recognitions",
                    {
                        "from_member": "spender",
                        "to_member": f"r{1 + i % 6}",
                        "value": "teamwork",
                        "points": 5,
                    },
                )
                for i in range(12)
            ],
        )
    )
    assert spent == Counter({"accepted": 6, "allowance-exceeded": 6}), spent
    # At most 3 recognitions of one pair a week: 8 at once.
    paired = outcomes(
        concurrently(
            urls,
            key,
            [
                (
                    "/v1/recognitions",
                    {"from_member": "giver", "to_member": "r1", "value": "teamwork", "points": 1},
                )
                for _ in range(8)
            ],
        )
    )
    assert paired == Counter({"accepted": 3, "pair-limit-reached": 5}), paired
    # A daily mission, completed 8 times at once by one member.
    once = outcomes(
        concurrently(urls, key, [("/v1/missions/daily/completions", {"member_id": "doer"})] * 8)
    )
    assert once == Counter({"accepted": 1, "slot-taken": 7}), once
    replayed_on_the_other_replica(stack, key)


def replayed_on_the_other_replica(stack: Stack, key: str) -> None:
    """An Idempotency-Key answered by one replica is replayed by the other, same position."""
    idempotency_key = f"retry-{uuid.uuid4().hex}"
    answers = []
    for url in (stack.a.url, stack.b.url):
        with httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            answers.append(
                client.post(
                    "/v1/missions/daily/completions",
                    json={"member_id": "giver"},
                    headers={"Idempotency-Key": idempotency_key},
                )
            )
    first, again = answers
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["position"] == first.json()["position"]
    assert again.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.timeout(600)
def test_two_replicas_started_together_serve_races_and_survive_a_kill(stack: Stack) -> None:
    stack.start()
    tenant = LoadTenant.create(stack.a.url, stack.token, "acme")

    # 1. Commands alternate between the replicas; every read from either sees them all.
    driver = LoadDriver(
        stack.a.url, tenant.admin_key, tenant.command, rate=20, replicas=[stack.b.url], limit=160
    ).start()
    assert driver.wait_all_sent(timeout=60)
    driver.stop()
    acks = check_load(driver, "two replicas")
    assert {a.replica for a in acks} == {0, 1}
    for url in (stack.a.url, stack.b.url):
        tenant.verify_balances(url, acks, timeout=120)

    races(stack)

    # 2. Replica a is killed under load: what was sent to it is retried on b.
    second = LoadDriver(
        stack.a.url,
        tenant.admin_key,
        tenant.command,
        rate=20,
        replicas=[stack.b.url],
        offset=driver.next_offset,
        request_timeout=5.0,
    ).start()
    time.sleep(3)
    stack.a.kill()
    time.sleep(5)
    second.stop(drain_timeout=90)
    acks += check_load(second, "one replica killed")
    assert any(a.replica == 1 and a.attempts > 1 for a in second.acks) or second.transient, (
        "no command was retried on the surviving replica"
    )
    tenant.verify_balances(stack.b.url, acks, timeout=120)

    # 3. The store holds each acknowledged command once; Kafka has every position.
    envelopes = store_envelopes(stack.tmp_path / "check", stack.store)
    assert_acknowledged_in_store(acks, envelopes)
    awarded = [
        e
        for e in envelopes.values()
        if e["event_type"] == "PointsAwarded" and e["tenant_id"] == "acme"
    ]
    assert len(awarded) == len(acks)
    published = kafka_records(stack.bootstrap, stack.topic, set(envelopes), timeout=120)
    assert set(envelopes) <= published.keys()

    for process in (stack.b, stack.relay, stack.project):
        assert process.terminate() == 0, process.describe()

    # 4. Every command, raced or not, is decided the same way again.
    verified = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "verify", "--json"],
        env=process_env(stack.a.env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
