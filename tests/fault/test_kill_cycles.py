"""kill -9 of `ledger serve`, `ledger relay` and `ledger project` under load, and every mix
of stop, `ledger rebuild` and start.

Real processes (`python -m ledger.cli ...`), real HTTP, a real Kafka broker (Tansu). Every
restart must succeed by itself: no file is ever deleted by hand. At the end every
acknowledged command is in the store (and in Kafka), its effect is visible through the
API, and every projection file equals a clean rebuild from the store (nothing double
counted, nothing missing).

The kill moments are random but seeded: LEDGER_FAULT_SEED (default 0) and the test's
name; the seed is printed so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fault.conftest import FAULT_CYCLES
from tests.fault.processes import (
    Ack,
    LedgerProcess,
    LoadDriver,
    LoadTenant,
    assert_acknowledged_in_store,
    assert_equals_rebuild,
    demo_history,
    get_when_ready,
    kafka_records,
    ledger_env,
    operator_token,
    run_ledger,
    store_envelopes,
    store_head,
    tenant_heads,
    wait_snapshot_reaches,
)
from tests.integration.kafka_broker import Broker

SEED = int(os.environ.get("LEDGER_FAULT_SEED", "0"))


def seeded(name: str) -> random.Random:
    print(f"random kill moments: LEDGER_FAULT_SEED={SEED} ({name})")
    return random.Random(f"{SEED}:{name}")


def check_load(driver: LoadDriver, label: str, minimum: int) -> list[Ack]:
    """No refusal and no lost command; the load really ran."""
    print(driver.report(label))
    assert not driver.errors, [
        f"#{e.index} {e.command.path} -> {e.status} {e.detail}" for e in driver.errors[:5]
    ]
    assert not driver.unacknowledged, f"never acknowledged: {driver.unacknowledged[:5]}"
    assert len(driver.acks) == driver.sent
    assert len(driver.acks) >= minimum, f"only {len(driver.acks)} commands acknowledged"
    return list(driver.acks)


# -- 1. embedded: serve killed under load ---------------------------------------------------


@pytest.mark.timeout(max(300, 30 * FAULT_CYCLES))
def test_serve_killed_under_load_restarts_by_itself_and_loses_nothing(tmp_path: Path) -> None:
    rng = seeded("serve-embedded")
    data_dir, token = tmp_path / "data", operator_token()
    serve = LedgerProcess.serve(ledger_env(data_dir, token), tmp_path)
    driver: LoadDriver | None = None
    try:
        serve.start_ready()
        tenant = LoadTenant.create(serve.url, token, "acme")
        driver = LoadDriver(serve.url, tenant.admin_key, tenant.command, rate=25).start()
        with tenant.client(serve.url) as reader:
            for cycle in range(FAULT_CYCLES):
                time.sleep(rng.uniform(0.2, 2.0))
                serve.kill()
                took = serve.start_ready()
                print(f"cycle {cycle}: serve healthy {took:.1f}s after SIGKILL")
                # The restarted server also reads: its projection follows the store again.
                position = driver.max_position()
                if position:
                    get_when_ready(
                        reader,
                        "/v1/leaderboard",
                        {"period": "all", "min_position": position},
                        timeout=30,
                    )
        time.sleep(0.5)
        driver.stop()
        acks = check_load(driver, "embedded serve kills", minimum=5 * FAULT_CYCLES)
        assert driver.max_position() <= store_head(data_dir)
        tenant.verify_balances(serve.url, acks)
        assert serve.terminate() == 0, serve.describe()
    finally:
        if driver is not None:
            driver.close()
        serve.ensure_stopped()
    assert serve.kills == FAULT_CYCLES
    assert_acknowledged_in_store(acks, store_envelopes(data_dir))
    counts = assert_equals_rebuild(data_dir, data_dir / "projections.duckdb")
    assert counts["awards"] == len(acks)


# -- 2. Kafka: serve, relay and projector killed under load -------------------------------


@pytest.mark.kafka
@pytest.mark.timeout(max(300, 60 * FAULT_CYCLES))
def test_serve_relay_and_projector_killed_under_load_lose_nothing(
    broker: Broker, tmp_path: Path
) -> None:
    rng = seeded("kafka")
    data_dir, token, topic = tmp_path / "data", operator_token(), broker.new_topic()
    env = ledger_env(data_dir, token, broker.bootstrap, topic)
    serve = LedgerProcess.serve(env, tmp_path)
    relay = LedgerProcess.relay(env, tmp_path)
    project = LedgerProcess.project(env, tmp_path, source="kafka")
    processes = [serve, relay, project]
    driver: LoadDriver | None = None
    try:
        for process in processes:
            process.start_ready()
        tenant = LoadTenant.create(serve.url, token, "acme")
        driver = LoadDriver(serve.url, tenant.admin_key, tenant.command, rate=20).start()
        for cycle in range(FAULT_CYCLES):
            for process in rng.sample(processes, len(processes)):
                time.sleep(rng.uniform(0.1, 1.2))
                process.kill()
                took = process.start_ready()
                print(f"cycle {cycle}: {process.name} ready {took:.1f}s after SIGKILL")
        time.sleep(0.5)
        driver.stop(drain_timeout=90)
        acks = check_load(driver, "kafka kills", minimum=5 * FAULT_CYCLES)
        # serve's own projection is fed from Kafka: seeing every award proves the relay
        # published them and serve's projector applied them once.
        tenant.verify_balances(serve.url, acks, timeout=120)
        assert serve.terminate() == 0, serve.describe()
        envelopes = store_envelopes(data_dir)
        assert_acknowledged_in_store(acks, envelopes)
        published = kafka_records(broker.bootstrap, topic, set(envelopes), timeout=120)
        missing = sorted(set(envelopes) - published.keys())
        assert not missing, f"{len(missing)} positions never reached Kafka: {missing[:10]}"
        assert published.keys() <= set(envelopes), "Kafka holds positions the store does not"
        assert {a.position for a in acks} <= published.keys()
        duplicates = sum(n - 1 for n in published.values())
        print(f"kafka: {len(published)} positions, {duplicates} duplicate records")
        wait_snapshot_reaches(
            data_dir / "projections.snapshot.duckdb", tenant_heads(envelopes), timeout=120
        )
        assert project.terminate() == 0, project.describe()
        assert relay.terminate() == 0, relay.describe()
    finally:
        if driver is not None:
            driver.close()
        for process in processes:
            process.ensure_stopped()
    assert [p.kills for p in processes] == [FAULT_CYCLES] * 3
    counts = assert_equals_rebuild(data_dir, data_dir / "projections.duckdb")
    assert counts["awards"] == len(acks)
    assert_equals_rebuild(data_dir, data_dir / "projections.serve.duckdb")


# -- 3. stop / rebuild / start --------------------------------------------------------------


@dataclass
class Demo:
    data_dir: Path
    admin_key: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """~6,600 events of history, written once; each scenario works on its own copy."""
    root = tmp_path_factory.mktemp("demo")
    data_dir = root / "data"
    key = demo_history(data_dir, ledger_env(data_dir, operator_token()), root)
    return Demo(data_dir, key)


class Scenario:
    """A copy of the demo history, a server on it, and a load tenant."""

    def __init__(self, demo: Demo, tmp_path: Path, name: str) -> None:
        self.data_dir = tmp_path / "data"
        shutil.copytree(demo.data_dir, self.data_dir)
        self.tmp_path = tmp_path
        self.token = operator_token()
        self.env = ledger_env(self.data_dir, self.token)
        self.serve = LedgerProcess.serve(self.env, tmp_path)
        self.rng = seeded(f"mix-{name}")
        self.acks: list[Ack] = []
        self.drivers: list[LoadDriver] = []
        self.offset = 0
        self.rebuilds = 0
        self.demo_key = demo.admin_key

    def start(self) -> None:
        took = self.serve.start_ready()
        print(f"serve healthy after {took:.1f}s")

    def setup(self) -> None:
        self.start()
        self.tenant = LoadTenant.create(self.serve.url, self.token, "mix")
        # The demo's history is projected before the scenario begins.
        self.answers()

    def load(self, rate: float = 30, limit: int | None = None) -> LoadDriver:
        driver = LoadDriver(
            self.serve.url,
            self.tenant.admin_key,
            self.tenant.command,
            rate=rate,
            limit=limit,
            offset=self.offset,
        )
        self.drivers.append(driver)
        return driver.start()

    def close(self) -> None:
        for driver in self.drivers:
            driver.close()
        self.serve.ensure_stopped()

    def finish(self, driver: LoadDriver, label: str) -> None:
        driver.stop(drain_timeout=60)
        self.acks += check_load(driver, label, minimum=1)
        self.offset = driver.next_offset

    def burst(self, label: str, commands: int = 20) -> None:
        driver = self.load(rate=40, limit=commands)
        assert driver.wait_all_sent(30)
        self.finish(driver, label)

    def answers(self) -> None:
        """Writes are accepted and read back: the demo tenant and every acknowledged award."""
        with httpx.Client(
            base_url=self.serve.url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.demo_key}"},
        ) as demo_client:
            head = store_head(self.data_dir)
            board = get_when_ready(
                demo_client, "/v1/leaderboard", {"period": "all", "min_position": head}
            )
            assert board["entries"], "the demo's leaderboard is empty"
        self.tenant.verify_balances(self.serve.url, self.acks)

    def rebuild(self, expect_ok: bool = True) -> str:
        self.rebuilds += 1
        done = run_ledger(
            ["rebuild", "--data-dir", str(self.data_dir)],
            self.env,
            self.tmp_path,
            f"rebuild.{self.rebuilds}",
        )
        if expect_ok:
            assert done.returncode == 0, done.output
        print(f"rebuild #{self.rebuilds}: exit {done.returncode} in {done.seconds:.1f}s")
        return done.output

    def stop(self) -> None:
        """SIGTERM: a clean stop (exit 0)."""
        assert self.serve.terminate() == 0, self.serve.describe()

    def stop_and_compare(self) -> None:
        self.stop()
        assert_equals_rebuild(self.data_dir, self.data_dir / "projections.duckdb")


@pytest.fixture
def scenario(demo: Demo, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Scenario]:
    made = Scenario(demo, tmp_path, request.node.name)
    try:
        made.setup()
        yield made
    finally:
        made.close()


def test_sigterm_serve_then_rebuild_then_start(scenario: Scenario) -> None:
    scenario.burst("before")
    scenario.stop()
    scenario.rebuild()
    scenario.start()
    scenario.answers()
    scenario.burst("after")
    scenario.answers()
    scenario.stop_and_compare()


def test_sigkill_serve_under_load_then_rebuild_then_start(scenario: Scenario) -> None:
    """The defect "a rebuilt projection bricks the server" (WAL does not match)."""
    driver = scenario.load()
    time.sleep(scenario.rng.uniform(0.5, 2.0))
    scenario.serve.kill()
    scenario.rebuild()
    scenario.start()
    time.sleep(0.5)  # the load's retries land on the restarted server
    scenario.finish(driver, "across kill + rebuild")
    scenario.answers()
    scenario.stop_and_compare()


def test_rebuild_refuses_while_serve_owns_the_file(scenario: Scenario) -> None:
    driver = scenario.load()
    time.sleep(scenario.rng.uniform(0.2, 1.0))
    output = scenario.rebuild(expect_ok=False)
    time.sleep(0.5)
    scenario.finish(driver, "during the refused rebuild")
    assert scenario.serve.alive(), scenario.serve.describe()
    assert "in use" in output.lower() and "Traceback" not in output, output
    assert scenario.rebuilds == 1
    scenario.answers()
    # and the server's file is still good after a restart
    scenario.stop()
    scenario.start()
    scenario.answers()
    scenario.stop_and_compare()


def test_rebuild_killed_part_way_then_start(scenario: Scenario) -> None:
    scenario.burst("before")
    scenario.stop()
    killed = 0
    for attempt in range(5):  # bounded: kill it while it is writing
        rebuild = LedgerProcess(
            f"rebuild-killed.{attempt}",
            ["rebuild", "--data-dir", str(scenario.data_dir)],
            scenario.env,
            scenario.tmp_path,
        )
        before = set(scenario.data_dir.iterdir())
        rebuild.start()
        deadline = time.monotonic() + 30
        # Writing has begun when the rebuild created a file of its own.
        while rebuild.alive() and time.monotonic() < deadline:
            if set(scenario.data_dir.iterdir()) - before:
                break
            time.sleep(0.01)
        time.sleep(scenario.rng.uniform(0.0, 0.3) / (attempt + 1))
        if rebuild.alive():
            rebuild.kill()
            killed += 1
            print(f"rebuild killed part way (attempt {attempt})")
            break
        rebuild.ensure_stopped()
        print(f"rebuild finished before the kill (attempt {attempt}): {rebuild.describe()}")
    assert killed, "the rebuild always finished before it could be killed"
    scenario.start()
    scenario.answers()
    scenario.burst("after")
    scenario.answers()
    scenario.stop_and_compare()
    # a later rebuild is not stopped by the remains of the killed one
    scenario.rebuild()
    scenario.start()
    scenario.answers()
    scenario.stop_and_compare()


def test_rebuild_then_sigkill_serve_under_load_then_start(scenario: Scenario) -> None:
    scenario.burst("before")
    scenario.stop()
    scenario.rebuild()
    scenario.start()
    driver = scenario.load()
    time.sleep(scenario.rng.uniform(0.5, 2.0))
    scenario.serve.kill()
    scenario.start()
    time.sleep(0.5)
    scenario.finish(driver, "across the kill after a rebuild")
    scenario.answers()
    scenario.stop_and_compare()
