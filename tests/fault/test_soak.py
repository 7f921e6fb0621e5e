"""A bounded soak: a fixed 100 commands/s, open loop, for LEDGER_SOAK_SECONDS (default 30)
through `ledger serve` -> store -> `ledger relay` -> Kafka -> `ledger project` -> DuckDB.

Zero errors (no refusal, no 5xx, no connection error, no 503), and at the end the counts
agree: acknowledged commands, their awards and events in the store, in Kafka (distinct
positions) and in both DuckDB files (the projector's and serve's own). The achieved rate
and the latencies are printed, not asserted: the CI machine has 2 noisy cores.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.fault.conftest import SOAK_SECONDS
from tests.fault.processes import (
    LedgerProcess,
    LoadDriver,
    LoadTenant,
    assert_acknowledged_in_store,
    kafka_records,
    ledger_env,
    operator_token,
    store_envelopes,
    tenant_heads,
    wait_snapshot_reaches,
)
from tests.integration.kafka_broker import Broker

RATE = 100.0
THREADS = 16  # enough in flight that a slow answer does not lower the rate


def duckdb_counts(path: Path, tenant_id: str) -> Counter[str]:
    """Events by type and awards of one tenant in a projection file (its writer stopped)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        counts: Counter[str] = Counter(
            dict(
                con.execute(
                    "SELECT event_type, count(*) FROM events WHERE tenant_id = ? GROUP BY ALL",
                    [tenant_id],
                ).fetchall()
            )
        )
        awards = con.execute(
            "SELECT count(*), count(DISTINCT position) FROM awards WHERE tenant_id = ?",
            [tenant_id],
        ).fetchall()[0]
    finally:
        con.close()
    counts["awards"], counts["distinct award positions"] = awards
    return counts


@pytest.mark.kafka
@pytest.mark.timeout(max(300, 3 * SOAK_SECONDS + 200))
def test_soak_fixed_rate_zero_errors_and_counts_agree(broker: Broker, tmp_path: Path) -> None:
    data_dir, token, topic = tmp_path / "data", operator_token(), broker.new_topic()
    env = ledger_env(data_dir, token, broker.bootstrap, topic)
    serve = LedgerProcess.serve(env, tmp_path)
    relay = LedgerProcess.relay(env, tmp_path)
    project = LedgerProcess.project(env, tmp_path, source="kafka")
    processes = [serve, relay, project]
    commands = int(RATE * SOAK_SECONDS)
    driver: LoadDriver | None = None
    try:
        for process in processes:
            process.start_ready()
        tenant = LoadTenant.create(serve.url, token, "soak", members=24)
        driver = LoadDriver(
            serve.url, tenant.admin_key, tenant.command, rate=RATE, threads=THREADS, limit=commands
        ).start()
        sent_all = driver.wait_all_sent(SOAK_SECONDS * 2 + 30)
        driver.stop(drain_timeout=60)
        print(driver.report("soak"))
        print(
            f"soak: {commands} commands scheduled at {RATE:.0f}/s for {SOAK_SECONDS:.0f}s; "
            f"achieved {driver.achieved_rate():.1f}/s; "
            f"latency p50 {driver.latency_ms(0.5):.0f} ms, p99 {driver.latency_ms(0.99):.0f} ms"
        )
        assert sent_all, f"only {driver.sent} of {commands} commands were sent"
        assert not driver.errors, [
            f"#{e.index} {e.command.path} -> {e.status} {e.detail}" for e in driver.errors[:5]
        ]
        assert not driver.transient, f"connection errors or 503s: {dict(driver.transient)}"
        assert not driver.unacknowledged
        acks = driver.acks
        assert len(acks) == commands
        assert all(a.attempts == 1 for a in acks)

        tenant.verify_balances(serve.url, acks, timeout=120)
        for process in processes:
            assert process.alive(), process.describe()
        assert httpx.get(f"{serve.url}/healthz", timeout=10).status_code == 200
        assert serve.terminate() == 0, serve.describe()

        envelopes = store_envelopes(data_dir)
        assert_acknowledged_in_store(acks, envelopes)
        mine = {p: e for p, e in envelopes.items() if e["tenant_id"] == "soak"}
        in_store = Counter(e["event_type"] for e in mine.values())
        assert in_store["PointsAwarded"] == len(acks)

        published = kafka_records(broker.bootstrap, topic, set(mine), timeout=120)
        assert set(mine) <= published.keys(), f"{len(set(mine) - published.keys())} not in Kafka"
        assert published.keys() <= set(envelopes)
        in_kafka = Counter(envelopes[p]["event_type"] for p in published if p in mine)
        assert in_kafka == in_store

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
    for name in ("projections.duckdb", "projections.serve.duckdb"):
        in_duckdb = duckdb_counts(data_dir / name, "soak")
        awards = in_duckdb.pop("awards")
        assert in_duckdb.pop("distinct award positions") == awards == len(acks), name
        assert in_duckdb == in_store, name
    print(
        f"soak counts agree: {len(acks)} acknowledged commands, {len(mine)} events "
        f"({dict(in_store)}) in the store, Kafka ({len(published)} positions, "
        f"{sum(published.values()) - len(published)} duplicates) and both DuckDB files"
    )
