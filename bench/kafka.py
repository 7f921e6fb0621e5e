"""Relay and rebuild from Kafka beside bare kafka-python produce and consume, one broker.

python -m bench.kafka [--events 200000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer

from bench.common import PYTHON, run_child
from bench.generator import History, cached
from bench.servers import kafka_broker


def measure(history: History, work: Path) -> dict[str, Any]:
    """Bare produce and consume of the history's own records (same keys, so the same
    partitions), then the relay of the store and a rebuild from the topic it wrote."""
    from consumers import kafka_io
    from consumers.relay import Relay
    from ledger.config import Settings
    from ledger.envelope import envelope_of
    from ledger.store import EventStore

    with kafka_broker(work / "broker.log") as bootstrap:
        data = work / "kafka"
        data.mkdir(exist_ok=True)
        for name in ("events.sqlite", "member-keys.sqlite"):
            (data / name).unlink(missing_ok=True)
            (data / name).symlink_to(history.directory / name)
        store = EventStore(f"sqlite:///{data / 'events.sqlite'}", cache_size=0)
        sample = [orjson.dumps(e) for n in store.select(0, 1000) if (e := envelope_of(n))]
        base = Settings(
            data_dir=data, kafka_bootstrap=bootstrap, kafka_partitions=6, _env_file=None
        )
        total = store.max_position()
        key = history.tenant.encode()  # the relay keys every record by its tenant

        bare = base.model_copy(update={"kafka_topic": "bare"})
        kafka_io.ensure_topics(bare)

        def produce_bare() -> float:
            producer = kafka_io.producer(bare)
            started = time.perf_counter()
            for i in range(total):
                producer.send("bare", key=key, value=sample[i % len(sample)])
            producer.flush()
            rate = total / (time.perf_counter() - started)
            producer.close()
            return rate

        produce_before = produce_bare()

        consumer = KafkaConsumer(
            "bare",
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
            max_poll_records=5000,
        )
        started, consumed = time.perf_counter(), 0
        for _ in consumer:
            consumed += 1
            if consumed == total:
                break
        consume = consumed / (time.perf_counter() - started)
        consumer.close()

        topic = "ledger.events"
        relay = Relay(base.model_copy(update={"kafka_topic": topic}), store, page=5_000)
        started, relayed = time.perf_counter(), 0
        while sent := relay.publish_page():
            relayed += sent
        relay_rate = relayed / (time.perf_counter() - started)
        relay.close()
        # The baseline again after the relay, and the mean of both: the machine's load
        # drifts over a run, and the relay ran between the two.
        produce = (produce_before + produce_bare()) / 2
        store.close()

        out = work / "from-kafka.duckdb"
        child = run_child(
            [PYTHON, "-m", "bench.child", "kafka-rebuild", str(data), str(out), bootstrap, topic]
        )
        result = child.result()
        return {
            "events": relayed,
            "produce": produce,
            "consume": consume,
            "relay": relay_rate,
            "rebuild": result["applied"] / result["seconds"],
            "rebuild_rss_mb": child.peak_rss_mb,
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka")
    parser.add_argument("--behaviors", type=int, default=50_000)
    parser.add_argument("--members", type=int, default=1_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    got = measure(cached(work, args.behaviors, args.members), work)
    print(json.dumps(got, indent=1))


if __name__ == "__main__":
    main()
