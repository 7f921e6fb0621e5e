"""Work measured in a process of its own (its peak memory is its own):

    python -m bench.child rebuild DATA_DIR OUT
    python -m bench.child kafka-rebuild DATA_DIR OUT BOOTSTRAP TOPIC
    python -m bench.child verify DATA_DIR -
    python -m bench.child bare-read DATA_DIR -

Runs the same function `ledger rebuild` runs and prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> None:
    from ledger.bootstrap import rebuild_into
    from ledger.config import Settings

    task, data_dir, out, *kafka = sys.argv[1:]
    settings = Settings(data_dir=Path(data_dir), _env_file=None)
    if task in ("verify", "bare-read"):
        print("RESULT " + json.dumps(read_or_verify(task, settings)))
        return
    if task == "kafka-rebuild":
        bootstrap, topic = kafka
        update = {"kafka_bootstrap": bootstrap, "kafka_topic": topic, "kafka_partitions": 6}
        settings = settings.model_copy(update=update)
    source = "kafka" if task == "kafka-rebuild" else "store"
    applied, elapsed = rebuild_into(settings, source, Path(out))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"applied": applied, "seconds": elapsed, "peak_rss_mb": peak}))


def read_or_verify(task: str, settings: object) -> dict[str, float]:
    """`ledger verify` (every tenant, as the CLI runs it), or the bare read it is compared
    with: every stored event fetched and its JSON decoded, nothing else."""
    import time

    import orjson

    from ledger.audit.verify import verify
    from ledger.bootstrap import open_ledger

    ledger = open_ledger(settings)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        if task == "verify":
            result = verify(ledger.store)
            if not result.ok:
                raise SystemExit(f"verify found problems: {result.problems[:3]}")
            events = result.events
        else:
            events, after = 0, 0
            while page := ledger.store.select(after, 5_000):
                for n in page:
                    orjson.loads(n.state)
                events += len(page)
                after = page[-1].id
        seconds = time.perf_counter() - started
    finally:
        ledger.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"events": events, "seconds": seconds, "rate": events / seconds, "peak_rss_mb": peak}


if __name__ == "__main__":
    main()
