"""Work measured in a process of its own (its peak memory is its own):

    python -m bench.child rebuild DATA_DIR OUT
    python -m bench.child kafka-rebuild DATA_DIR OUT BOOTSTRAP TOPIC

Runs the same function `ledger rebuild` runs and prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> None:
    from ledger.cli import rebuild_into
    from ledger.config import Settings

    task, data_dir, out, *kafka = sys.argv[1:]
    settings = Settings(data_dir=Path(data_dir), _env_file=None)
    if task == "kafka-rebuild":
        bootstrap, topic = kafka
        update = {"kafka_bootstrap": bootstrap, "kafka_topic": topic, "kafka_partitions": 6}
        settings = settings.model_copy(update=update)
    source = "kafka" if task == "kafka-rebuild" else "store"
    applied, elapsed = rebuild_into(settings, source, Path(out))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"applied": applied, "seconds": elapsed, "peak_rss_mb": peak}))


if __name__ == "__main__":
    main()
