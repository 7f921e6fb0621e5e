"""The broker paused (SIGSTOP) for 30 s under traffic: commands go on, nothing is lost."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from consumers.relay import wait_until_published
from ledger.clock import FixedClock
from ledger.commands.recognitions import GiveRecognition
from tests.conftest import open_ledger
from tests.integration.kafka_broker import Broker
from tests.integration.test_kafka import (
    busy_world,
    comparable,
    from_kafka,
    from_store,
    kafka_settings,
    relaying,
)

pytestmark = pytest.mark.kafka


def test_broker_paused_30s_under_traffic_loses_nothing(
    broker: Broker, tmp_path: Path, sqlite_url: str, clock: FixedClock
) -> None:
    config = kafka_settings(broker, tmp_path, sqlite_url)
    ledger = open_ledger(sqlite_url, clock)
    worlds = busy_world(ledger, clock, tenants=2)
    with relaying(config, sqlite_url) as relay:
        assert wait_until_published(relay, 30)
        broker.pause()
        try:
            accepted = 0
            started = time.monotonic()
            while time.monotonic() - started < 30:  # commands keep being accepted
                world = worlds[accepted % 2]
                world.run(
                    GiveRecognition(
                        from_member="ana",
                        to_member="bo",
                        value="ownership",
                        points=1,
                        occurred_at=clock.now(),
                    ),
                    world.service,
                )
                clock.advance(timedelta(days=8))  # a new week and month: no limit is hit
                accepted += 1
                time.sleep(0.5)
            assert relay.lag() > 0
        finally:
            broker.resume()
        assert wait_until_published(relay, 90), "lag did not return to zero"
        # A failed producer's sender thread is stopped, not left busy-polling (it starved
        # the process: kafka-python's close() raises before its own force-close).
        senders = [t for t in threading.enumerate() if "producer" in t.name and t.is_alive()]
        assert len(senders) <= 1, [t.name for t in senders]
    kafka_fed = from_kafka(config, decrypt=ledger.personal.decrypt)
    expected = from_store(ledger.store, ledger.personal.decrypt)
    assert comparable(kafka_fed)["awards"] == comparable(expected)["awards"]
    assert accepted >= 50
    ledger.close()
