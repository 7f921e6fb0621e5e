"""The analysts' snapshot equals the projection it was published from, whatever came
between two publishes: random batches, late events, team moves and strategy revisions
reaching back, restarts (a new writer reads the published manifest) and resets (a new
lineage), with segments merged along the way."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.projections.projection import Projection
from ledger.projections.snapshot import MERGE, TOP_LEVEL, parts_dir
from tests.property.histories import histories, run_history
from tests.property.test_projection_properties import interleave


def relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name <> 'snapshot_manifest' ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def contents(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in relations(con)}


def assert_snapshot_equals(projection: Projection, target: Path) -> None:
    snapshot = duckdb.connect(str(target), read_only=True)
    try:
        snapshot.execute("SET TimeZone = 'UTC'")
        published = contents(snapshot)
    finally:
        snapshot.close()
    live = contents(projection.reader())
    assert published.keys() == live.keys()
    for name in live:
        assert published[name] == live[name], name


def segments_bounded(projection: Projection) -> None:
    """Merging keeps fewer than MERGE segments per level below the top."""
    assert projection._snapshots is not None
    for table in ("events", "awards"):
        levels = [p.level for p in projection._snapshots.manifest.tables[table].parts]
        for level in set(levels) - {TOP_LEVEL}:
            assert levels.count(level) < MERGE, (table, levels)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=histories, seed=st.integers(0, 2**32))
def test_every_snapshot_equals_the_projection_it_was_published_from(
    steps: list[Any], seed: int
) -> None:
    ledger, envelopes = run_history(steps)
    decrypt = ledger.personal.decrypt
    rng = random.Random(seed)
    ordered = interleave(envelopes, rng)
    directory = Path(tempfile.mkdtemp())
    path, target = directory / "p.duckdb", directory / "p.snapshot.duckdb"
    projection = Projection(path, decrypt=decrypt)
    projection.stale_snapshot_files(target)
    i = 0
    while i < len(ordered):
        size = rng.choice([1, 1, 2, 3, 5, 8, 30])
        projection.apply(ordered[i : i + size])
        i += size
        if rng.random() < 0.1:  # restart: the new process's writer reads the manifest
            projection.close()
            projection = Projection(path, decrypt=decrypt)
            projection.stale_snapshot_files(target)
        if rng.random() < 0.05:  # a reset and a replay: a new lineage, parts start over
            projection.reset()
            projection.apply(ordered[:i])
        if rng.random() < 0.6:
            projection.publish_snapshot(target)
            assert_snapshot_equals(projection, target)
            segments_bounded(projection)
    projection.publish_snapshot(target)
    assert_snapshot_equals(projection, target)
    # Nothing but the parts the snapshot lists and those retired within the grace.
    assert projection._snapshots is not None
    manifest = projection._snapshots.manifest
    listed = manifest.files() | {f for f, _ in manifest.retired}
    assert {p.name for p in parts_dir(target).iterdir()} <= listed
    projection.close()
    ledger.close()
