"""Every row of the performance table, each beside its bare baseline from the same run.

    python -m bench [--quick | --smoke] [--json FILE] [--only SECTION,...]

Sections: http, commands, store, kafka, fleet (PostgreSQL + Kafka replicas), verify.

HTTP load comes from wrk and from an open-loop generator, each its own process; the
rebuilds run in processes of their own so their peak memory is theirs. `--quick`
takes about 3 minutes, the full run about 10 (a one-tenant history of 1M events),
`--smoke` under a minute with tiny sizes (CI: it proves every row runs, and asserts
no figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import rows
from bench.common import Row


def table(found: list[Row]) -> str:
    lines = [
        "| figure | measured | baseline (same run) | ratio | goal | held |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in found:
        measured = "n/a" if row.measured is None else f"{row.measured:,.1f} {row.unit}"
        if row.detail:
            measured += f" ({row.detail})"
        baseline = f"{row.baseline:,.1f} ({row.baseline_name})" if row.baseline else ""
        ratio = f"{row.ratio:.3f}" if row.ratio is not None else ""
        held = {True: "yes", False: "**no**", None: ""}[row.held]
        lines.append(f"| {row.name} | {measured} | {baseline} | {ratio} | {row.goal} | {held} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, about 3 minutes")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes; every row runs once")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--only", default="http,commands,store,kafka,fleet,verify")
    args = parser.parse_args()
    size_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = rows.SIZES[size_name]
    work = rows.scratch()
    started = time.perf_counter()
    found: list[Row] = []
    failed: list[str] = []
    print(f"bench ({size_name}) in {work}", flush=True)
    try:
        sections: dict[str, Callable[[], list[Row]]] = {
            "commands": lambda: rows.command_rows(sizes),
            # Before "http": its rebuilt projection spares the server a build of its own.
            "store": lambda: rows.store_rows(sizes, work),
            "http": lambda: rows.http_rows(sizes, work),
            "kafka": lambda: rows.kafka_rows(sizes, work),
            "fleet": lambda: rows.fleet_rows(sizes, work),
            "verify": lambda: rows.verify_rows(sizes, work),
        }
        for name, section in sections.items():
            if name not in args.only.split(","):
                continue
            print(f"- {name} ...", flush=True)
            try:
                found += section()
            except Exception as error:  # one section failing must not hide the others
                traceback.print_exc()
                failed.append(f"{name}: {type(error).__name__}: {error}")
    finally:
        rows.clean(work)
    print()
    print(table(found))
    print(f"\n{size_name} run in {time.perf_counter() - started:.0f} s on this machine")
    for failure in failed:
        print(f"FAILED {failure}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"mode": size_name, "rows": [r.as_dict() for r in found], "failed": failed},
                indent=1,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
