"""Kafka: relay, projector and rebuild against a real broker (Tansu); nothing mocked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from kafka import KafkaConsumer, KafkaProducer

from consumers import kafka_io
from consumers.projector import catch_up
from consumers.relay import Relay
from consumers.sources import KafkaSource, StoreSource
from ledger.clock import FixedClock
from ledger.commands.completions import CompleteMission
from ledger.commands.recognitions import GiveRecognition
from ledger.config import Settings
from ledger.projections.projection import Projection
from ledger.store import EventStore
from tests.conftest import open_ledger, postgres_url
from tests.integration.http_server import create_tenant, running_server
from tests.integration.kafka_broker import Broker
from tests.property.histories import histories, run_history
from tests.property.test_projection_properties import tables
from tests.support import World

pytestmark = pytest.mark.kafka


def kafka_settings(
    broker: Broker, data_dir: Path, store_url: str | None = None, partitions: int = 3
) -> Settings:
    return Settings(
        data_dir=data_dir,
        event_store=store_url,
        kafka_bootstrap=broker.bootstrap,
        kafka_topic=broker.new_topic(),
        kafka_partitions=partitions,
        _env_file=None,
    )  # type: ignore[call-arg]


@contextmanager
def relaying(config: Settings, url: str) -> Iterator[Relay]:
    relay = Relay(config, EventStore(url, cache_size=0))
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        relay.close()
        thread.join(timeout=30)
        relay.store.close()


def from_kafka(
    config: Settings, path: Path | str = ":memory:", decrypt: Any = None, **kw: Any
) -> Projection:
    projection = Projection(path, decrypt=decrypt)
    source = KafkaSource(config, projection.source_position, until_end=True, **kw)
    catch_up(projection, source, rebuild=True)
    source.close()
    return projection


def from_store(store: EventStore, decrypt: Any = None) -> Projection:
    projection = Projection(":memory:", decrypt=decrypt)
    catch_up(projection, StoreSource(store), rebuild=True)
    return projection


def comparable(projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    # Store-fed projections also keep the store position; Kafka-fed ones keep offsets.
    return tables(projection)


def freeze(value: Any) -> Any:
    """Rows with list and struct columns, made hashable for set comparison."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def busy_world(ledger: Any, clock: FixedClock, tenants: int = 3) -> list[World]:
    worlds = []
    for t in range(tenants):
        world = World(ledger, clock, tenant_id=f"co{t}").standard()
        world.run(CompleteMission(mission_id="follow-up", member_id="ana"), world.service)
        world.run(
            GiveRecognition(from_member="bo", to_member="cy", value="ownership", points=7),
            world.service,
        )
        worlds.append(world)
    return worlds


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_end_to_end_http_relay_kafka_projector_http(
    broker: Broker, tmp_path: Path, store: str
) -> None:
    url = f"sqlite:///{tmp_path / 'events.sqlite'}" if store == "sqlite" else postgres_url()
    config = kafka_settings(broker, tmp_path, url)
    with (
        running_server(
            tmp_path,
            event_store=url,
            kafka_bootstrap=broker.bootstrap,
            kafka_topic=config.kafka_topic,
            kafka_partitions=3,
        ) as server,
        relaying(config, url),
    ):
        key = create_tenant(server, "kafkaco")
        headers = {"Authorization": f"Bearer {key}"}
        httpx.post(f"{server}/v1/values", headers=headers, json={"key": "speed", "name": "S"})
        member = httpx.post(
            f"{server}/v1/members",
            headers=headers,
            json={
                "member_id": "ana",
                "display_name": "Ana",
                "team": "ops",
                "joined_at": "2020-01-01T00:00:00Z",
            },
        )
        adjusted = httpx.post(
            f"{server}/v1/points/adjustments",
            headers=headers,
            json={"member_id": "ana", "points": 42, "reason": "welcome"},
        )
        assert member.status_code == adjusted.status_code == 201
        position = adjusted.json()["position"]
        board = httpx.get(
            f"{server}/v1/leaderboard",
            headers=headers,
            timeout=30,
            params={"period": "all", "min_position": position},
        )
        assert board.status_code == 200, board.text
        assert board.json()["entries"][0] == {
            "rank": 1,
            "member_id": "ana",
            "display_name": "Ana",
            "team": "ops",
            "points": 42,
        }
        # Lag is measured from what this file applied, not from a store follower's position.
        metrics = httpx.get(f"{server}/metrics").text
        assert "ledger_projection_lag_events 0.0" in metrics, metrics


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing catches it."""


def test_relay_crash_after_publish_before_tracking_duplicates_without_double_counting(
    broker: Broker, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    config = kafka_settings(broker, tmp_path, sqlite_url)
    ledger = open_ledger(sqlite_url, clock)
    busy_world(ledger, clock)

    class Crashing(Relay):
        def after_acknowledged(self, position: int) -> None:
            raise Crash

    with pytest.raises(Crash):
        Crashing(config, ledger.store).publish_page()
    relay = Relay(config, ledger.store)
    assert relay.position() == 0  # the crash left nothing recorded
    while relay.publish_page():
        pass
    relay.close()
    counted = KafkaConsumer(
        config.kafka_topic,
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
    )
    total = sum(1 for _ in counted)
    counted.close()
    public = sum(len(b.envelopes) for b in StoreSource(ledger.store).batches(0))
    assert total == 2 * public  # the crashed page went out twice: every record is duplicated
    kafka_fed = from_kafka(config, decrypt=ledger.personal.decrypt)
    assert (
        comparable(kafka_fed)["awards"]
        == comparable(from_store(ledger.store, ledger.personal.decrypt))["awards"]
    )
    assert kafka_fed.reader().execute("SELECT count(*) FROM awards").fetchall()[0][0] == 6
    ledger.close()


def test_poison_record_goes_to_the_dead_letter_topic_and_later_records_apply(
    broker: Broker, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    config = kafka_settings(broker, tmp_path, sqlite_url, partitions=1)
    ledger = open_ledger(sqlite_url, clock)
    kafka_io.ensure_topics(config)
    poison = KafkaProducer(bootstrap_servers=broker.bootstrap)
    poison.send(config.kafka_topic, key=b"co0", value=b"\x00 not an envelope")
    poison.send(config.kafka_topic, key=b"co0", value=orjson.dumps({"event_type": "Nope"}))
    poison.flush()
    poison.close()
    busy_world(ledger, clock, tenants=1)
    relay = Relay(config, ledger.store)
    while relay.publish_page():
        pass
    relay.close()
    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    source = KafkaSource(config, projection.source_position, until_end=True)
    catch_up(projection, source)
    assert source.dead_letters == 2
    source.close()
    assert projection.reader().execute("SELECT count(*) FROM awards").fetchall()[0][0] == 2
    dlq = KafkaConsumer(
        kafka_io.dlq_topic(config),
        bootstrap_servers=broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    letters = list(dlq)
    dlq.close()
    assert [r.value for r in letters][:1] == [b"\x00 not an envelope"]
    assert all(dict(r.headers)["error"] for r in letters)
    ledger.close()


def test_group_projector_restarts_without_reapplying_and_two_share_the_partitions(
    broker: Broker, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    config = kafka_settings(broker, tmp_path, sqlite_url, partitions=4)
    ledger = open_ledger(sqlite_url, clock)
    kafka_io.ensure_topics(config)
    # Two projectors join one group before anything is published, so each tenant's
    # partition belongs to exactly one of them.
    projections = [
        Projection(tmp_path / f"p{i}.duckdb", decrypt=ledger.personal.decrypt) for i in range(2)
    ]
    sources = [KafkaSource(config, p.source_position, group_id="pair") for p in projections]
    deadline = time.monotonic() + 60
    for s in sources:
        s.consumer = s._connect()
    while time.monotonic() < deadline and not all(s.consumer.assignment() for s in sources):
        for s in sources:
            s.consumer.poll(timeout_ms=100)
    assert all(s.consumer.assignment() for s in sources)
    busy_world(ledger, clock, tenants=6)
    relay = Relay(config, ledger.store)
    while relay.publish_page():
        pass
    relay.close()
    expected = from_store(ledger.store, ledger.personal.decrypt)
    want = expected.reader().execute("SELECT count(*) FROM awards").fetchall()[0][0]
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and sum(
            p.reader().execute("SELECT count(*) FROM awards").fetchall()[0][0] for p in projections
        )
        < want
    ):
        for p, s in zip(projections, sources, strict=True):
            catch_up(p, s)
    for s in sources:
        s.close()
    union: dict[str, set[Any]] = {}
    for p in projections:
        for table, rows in tables(p).items():
            union.setdefault(table, set()).update(map(freeze, rows))
    whole = tables(expected)
    for table in ("awards", "leaderboard_weekly", "value_heatmap", "alignment", "events"):
        assert union[table] == set(map(freeze, whole[table])), table
    tenants = [
        set(r[0] for r in p.reader().execute("SELECT DISTINCT tenant_id FROM events").fetchall())
        for p in projections
    ]
    assert tenants[0] and tenants[1] and not tenants[0] & tenants[1]

    # Restart one projector with the same file and group: it re-applies nothing.
    before = tables(projections[0])
    projections[0].close()
    again = Projection(tmp_path / "p0.duckdb", decrypt=ledger.personal.decrypt)
    source = KafkaSource(config, again.source_position, group_id="pair")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (source.consumer and source.consumer.assignment()):
        catch_up(again, source)
    assert tables(again) == before
    source.close()
    ledger.close()


def test_a_live_pass_ends_once_caught_up_though_records_keep_arriving(
    broker: Broker, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    """Given records trickling onto the topic (one every 50 ms, for up to 20 s), when the
    live projector makes one pass, then the pass ends once it has read what is there, as
    the store's pass ends at a short page. It used to poll on until a poll came back
    empty, which a steady trickle never allows: every poll a batch with its fixed cost,
    a core's worth of DuckDB work for a few commands a second."""
    config = kafka_settings(broker, tmp_path, sqlite_url, partitions=1)
    ledger = open_ledger(sqlite_url, clock)
    busy_world(ledger, clock, tenants=1)
    relay = Relay(config, ledger.store)
    while relay.publish_page():
        pass
    relay.close()
    # A copy of a published record: polled like any, applied once (positions dedupe).
    sample = orjson.dumps(next(StoreSource(ledger.store).batches(0)).envelopes[0])
    stop = threading.Event()

    def trickle() -> None:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        deadline = time.monotonic() + 20
        while not stop.wait(0.05) and time.monotonic() < deadline:
            producer.send(config.kafka_topic, key=b"co0", value=sample)
            producer.flush()
        producer.close()

    projection = Projection(":memory:", decrypt=ledger.personal.decrypt)
    source = KafkaSource(config, projection.source_position)
    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        catch_up(projection, source)
        still_arriving = thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=30)
        source.close()
    assert still_arriving  # the pass ended while records were still coming
    assert projection.reader().execute("SELECT count(*) FROM awards").fetchall()[0][0] == 2
    ledger.close()


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=histories)
def test_rebuild_from_kafka_equals_rebuild_from_store(
    broker: Broker, tmp_path_factory: Any, steps: list[Any]
) -> None:
    tmp_path = tmp_path_factory.mktemp("kafka-rebuild")
    ledger, _ = run_history(steps)
    config = kafka_settings(broker, tmp_path, ledger.store.url, partitions=3)
    relay = Relay(config, ledger.store)
    while relay.publish_page():
        pass
    relay.close()
    kafka_fed = tables(from_kafka(config, decrypt=ledger.personal.decrypt))
    store_fed = tables(from_store(ledger.store, ledger.personal.decrypt))
    assert kafka_fed == store_fed
    ledger.close()
