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
        # The same records as the relay sends: value, and the contract's two headers.
        sample = [
            (
                orjson.dumps(e),
                [
                    ("event_type", e["event_type"].encode()),
                    ("schema_version", str(e["schema_version"]).encode()),
                ],
            )
            for n in store.select(0, 1000)
            if (e := envelope_of(n))
        ]
        base = Settings(
            data_dir=data, kafka_bootstrap=bootstrap, kafka_partitions=6, _env_file=None
        )
        total = store.max_position()
        key = history.tenant.encode()  # the relay keys every record by its tenant

        bare = base.model_copy(update={"kafka_topic": "bare"})
        kafka_io.ensure_topics(bare)

        cpu_us: dict[str, list[float]] = {"produce": [], "relay": []}

        def produce_bare() -> float:
            producer = kafka_io.producer(bare)
            started, cpu = time.perf_counter(), time.process_time()
            for i in range(total):
                value, headers = sample[i % len(sample)]
                producer.send("bare", key=key, value=value, headers=headers)
            producer.flush()
            rate = total / (time.perf_counter() - started)
            cpu_us["produce"].append((time.process_time() - cpu) / total * 1e6)
            producer.close()
            return rate

        produce_before = produce_bare()

        topic = "ledger.events"
        relay = Relay(base.model_copy(update={"kafka_topic": topic}), store, page=5_000)
        started, cpu, relayed = time.perf_counter(), time.process_time(), 0
        while sent := relay.publish_page():
            relayed += sent
        relay_rate = relayed / (time.perf_counter() - started)
        # CPU of this process (the producer's sender thread included) per record: steadier
        # than the rates, which follow the broker's own pace.
        cpu_us["relay"].append((time.process_time() - cpu) / max(relayed, 1) * 1e6)
        relay.close()
        # The baseline again after the relay, and the mean of both: the machine's load
        # drifts over a run, and the relay ran between the two.
        produce = (produce_before + produce_bare()) / 2
        store.close()

        # The bare consume right before the rebuild, so that both follow the same
        # produce (the broker is still writing it out for a moment).
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
            "relay_cpu_us": cpu_us["relay"][0],
            "produce_cpu_us": sum(cpu_us["produce"]) / len(cpu_us["produce"]),
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
