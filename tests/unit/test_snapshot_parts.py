"""The analysts' snapshot costs what changed (ledger/projections/snapshot.py): which parts a
publish writes, how long replaced parts stay, what a forget and a killed publisher leave."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from ledger.clock import FixedClock
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.completions import CompleteMission
from ledger.commands.members import ForgetMember
from ledger.projections import snapshot
from ledger.projections.snapshot import parts_dir, read_manifest
from tests.support import Projected, World, days

pytestmark = pytest.mark.usefixtures("sqlite_url")


@pytest.fixture
def p(sqlite_url: str, clock: FixedClock, tmp_path: Path) -> Projected:
    from tests.conftest import open_ledger

    ledger = open_ledger(sqlite_url, clock)
    return Projected(World(ledger, clock).standard(), str(tmp_path / "p.duckdb"))


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "p.snapshot.duckdb"


@pytest.fixture
def published(p: Projected, target: Path) -> World:
    """Given a published snapshot of one behavior: its world."""
    complete(p.world)
    publish(p, target)
    return p.world


def complete(w: World, member: str = "ana", **kw: object) -> None:
    w.run(CompleteMission(mission_id="follow-up", member_id=member, **kw), w.service)


def publish(p: Projected, target: Path) -> list[str]:
    """Catch up, publish; the tables whose parts this publish wrote."""
    p.catch_up()
    p.projection.publish_snapshot(target)
    assert p.projection._snapshots is not None
    return sorted(name.split("-")[0] for name in p.projection._snapshots.written)


def snapshot_query(target: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(target), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def parts_of(target: Path, table: str) -> dict[str, str]:
    """The published parts of a table: key -> file."""
    return {p.key: p.file for p in read_manifest(target).tables[table].parts}


def test_a_publish_after_one_behavior_rewrites_only_its_month_and_appends_its_rows(
    p: Projected, target: Path, tmp_path: Path
) -> None:
    w = p.world
    # Given behaviors in two months, published.
    complete(w, occurred_at=w.clock.now() - days(12))
    complete(w, "bo", occurred_at=w.clock.now() - days(12))
    complete(w)
    first = publish(p, target)
    assert "events" in first and "awards" in first
    months_before = parts_of(target, "daily_points")
    assert len(months_before) == 2
    # When one more behavior today is published.
    complete(w, "cy")
    written = publish(p, target)
    # Then the events and awards parts gain one segment each (its rows only), the
    # rollups rewrite this month only, and untouched tables keep their files.
    assert written.count("events") == 1 and written.count("awards") == 1
    segments = read_manifest(target).tables["awards"].parts
    assert [s.rows for s in segments] == [3, 1]
    months_after = parts_of(target, "daily_points")
    old_month, this_month = sorted(months_before)
    assert months_after[old_month] == months_before[old_month]
    assert months_after[this_month] != months_before[this_month]
    for table in ("value_catalog", "missions", "member_profiles", "strategy_revisions"):
        assert table not in written
    # And the snapshot reads as the projection does.
    assert snapshot_query(target, "SELECT count(*), sum(points) FROM behaviors") == [(4, 40)]
    # A late behavior of last month rewrites last month's part, however far back.
    complete(w, "cy", occurred_at=w.clock.now() - days(11))
    publish(p, target)
    assert parts_of(target, "daily_points")[old_month] != months_before[old_month]
    assert (
        snapshot_query(target, f"SELECT count(*) FROM daily_points WHERE day < DATE '{this_month}'")
        == p.projection.reader()
        .execute(f"SELECT count(*) FROM daily_points WHERE day < DATE '{this_month}'")
        .fetchall()
    )


def test_nothing_changed_nothing_published_and_a_new_writer_reuses_the_parts(
    p: Projected, target: Path, tmp_path: Path, published: World
) -> None:
    w = published
    inode = target.stat().st_ino
    p.projection.publish_snapshot(target)
    assert target.stat().st_ino == inode
    # A restarted process (its writer reads the published manifest) writes only what
    # changed since, not everything again.
    p.projection.close()
    from ledger.projections.projection import Projection

    p.projection = Projection(p.projection.path, decrypt=w.ledger.personal.decrypt)
    p.projection.stale_snapshot_files(target)
    complete(w, "bo")
    written = publish(p, target)
    assert written.count("events") == 1
    assert read_manifest(target).tables["events"].parts[0].rows > 1  # the first segment kept


def test_replaced_parts_stay_for_the_grace_then_go(
    p: Projected, target: Path, tmp_path: Path, published: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = published
    # An analyst who opened this snapshot keeps reading it while newer ones appear.
    opened = tmp_path / "opened.duckdb"
    opened.write_bytes(target.read_bytes())
    replaced = parts_of(target, "member_totals")[""]
    complete(w, "bo")
    publish(p, target)
    assert parts_of(target, "member_totals")[""] != replaced
    assert (parts_dir(target) / replaced).exists()
    assert snapshot_query(opened, "SELECT count(*) FROM member_totals") == [(2,)]
    # Past the grace, the next publish deletes it.
    monkeypatch.setattr(snapshot, "GRACE", 0.0)
    complete(w, "cy")
    publish(p, target)
    assert not (parts_dir(target) / replaced).exists()
    listed = {f for t in read_manifest(target).tables.values() for f in (x.file for x in t.parts)}
    assert {f.name for f in parts_dir(target).iterdir()} == listed


def test_after_a_forget_no_part_names_the_member(
    p: Projected, target: Path, tmp_path: Path, published: World
) -> None:
    w = published

    def files_naming_ana() -> list[str]:
        files = [target, *parts_dir(target).iterdir()]
        return [f.name for f in files if b"Ana" in f.read_bytes()]

    assert files_naming_ana(), "the name is there before the forget"
    w.run(ForgetMember(member_id="ana"))
    publish(p, target)
    # The replaced member_profiles part is gone at once, not after the grace.
    assert files_naming_ana() == []
    assert snapshot_query(target, "SELECT display_name FROM members WHERE member_id = 'ana'") == [
        (None,)
    ]


def test_what_a_killed_publisher_left_is_removed_at_start(
    p: Projected, target: Path, tmp_path: Path, published: World
) -> None:
    stray_part = parts_dir(target) / "awards-dead-beef.parquet"
    stray_part.write_bytes(b"half a part")
    stray_snapshot = tmp_path / f".{target.name}.123.456.tmp"
    stray_snapshot.write_bytes(b"half a snapshot")
    listed = set(parts_of(target, "awards").values())
    p.projection.stale_snapshot_files(target)
    assert not stray_part.exists() and not stray_snapshot.exists()
    assert listed <= {f.name for f in parts_dir(target).iterdir()}
    assert snapshot_query(target, "SELECT count(*) FROM awards") == [(1,)]


def test_many_small_publishes_merge_into_few_segments(
    p: Projected, target: Path, tmp_path: Path, published: World
) -> None:
    w = published
    for i in range(17):
        w.run(AdjustPoints(member_id="bo", points=1 + i, reason="bench"), w.manager)
        publish(p, target)
    levels = [s.level for s in read_manifest(target).tables["awards"].parts]
    # The first write, four level-0s merged four times into one level 2, then one.
    assert levels == [snapshot.TOP_LEVEL, 2, 0]
    assert snapshot_query(target, "SELECT count(*), sum(points) FROM awards") == [
        (18, 10 + sum(range(1, 18)))
    ]


def test_a_failed_publish_leaves_the_last_snapshot_and_the_next_covers_everything(
    p: Projected, target: Path, tmp_path: Path, published: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = published
    # A late behavior of last month, then a publish that fails (a full disk, say).
    complete(w, "bo", occurred_at=w.clock.now() - days(11))
    real = snapshot.SnapshotWriter._write_snapshot

    def no_space(self: snapshot.SnapshotWriter, manifest: snapshot.Manifest) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot.SnapshotWriter, "_write_snapshot", no_space)
    with pytest.raises(OSError):
        publish(p, target)
    assert snapshot_query(target, "SELECT count(*) FROM awards") == [(1,)]
    # The next publish, after a batch six weeks later (whose rows reach back a month at
    # most), still holds the late behavior.
    monkeypatch.setattr(snapshot.SnapshotWriter, "_write_snapshot", real)
    w.clock.advance(days(45))
    complete(w, "cy")
    publish(p, target)
    live = p.projection.reader()
    for table in ("daily_points", "daily_values", "leaderboard_weekly", "alignment", "awards"):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        assert snapshot_query(target, query) == live.execute(query).fetchall(), table


def test_a_snapshot_that_wrote_every_part_does_not_space_the_next(
    p: Projected, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consumers.snapshots import Snapshots

    w = p.world
    complete(w)
    p.catch_up()
    monkeypatch.setattr(Snapshots, "MIN_GAP", 0.0)
    snapshots = Snapshots(p.projection, target)
    # The first publish writes the whole history once: it does not count for the spacing
    # (at a million behaviors it would otherwise hold the next one off for minutes).
    assert snapshots.request().copied
    assert p.projection.snapshot_started_over
    assert snapshots.seconds > 0 and snapshots.cost == 0.0
    complete(w, "bo")
    p.catch_up()
    assert snapshots.request().copied  # at once, not cost / SHARE later
    assert not p.projection.snapshot_started_over
    assert snapshots.cost == snapshots.seconds > 0


def test_a_snapshot_published_under_a_relative_path_opens_from_anywhere(
    p: Projected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `ledger serve --data-dir ledger-data/demo`: the paths the server knows are relative.
    complete(p.world)
    monkeypatch.chdir(tmp_path)
    publish(p, Path("relative.snapshot.duckdb"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert snapshot_query(tmp_path / "relative.snapshot.duckdb", "SELECT count(*) FROM awards") == [
        (1,)
    ]


def test_merges_never_write_a_segment_larger_than_sealed_rows(
    p: Projected, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = p.world
    complete(w)
    publish(p, target)
    monkeypatch.setattr(snapshot, "SEALED_ROWS", 8)
    for i in range(17):
        w.run(AdjustPoints(member_id="bo", points=1 + i, reason="bench"), w.manager)
        publish(p, target)
    segments = read_manifest(target).tables["awards"].parts
    # Four level-0s (4 rows) merge; four level-1s (16 rows) would exceed 8: they stay.
    assert [s.level for s in segments] == [snapshot.TOP_LEVEL, 1, 1, 1, 1, 0]
    assert max(s.rows for s in segments[1:]) <= 8
    assert snapshot_query(target, "SELECT count(*) FROM awards") == [(18,)]


def test_the_projector_applies_batches_while_a_snapshot_is_being_published(
    p: Projected, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from consumers.projector import Follower
    from consumers.snapshots import Snapshots
    from consumers.sources import StoreSource

    w = p.world
    complete(w)
    publishing, release = threading.Event(), threading.Event()
    real = snapshot.SnapshotWriter.publish

    def slow(self: snapshot.SnapshotWriter, *args: object, **kw: object) -> None:
        publishing.set()
        release.wait(30)  # a publish of a large history (10 s at a million behaviors)
        real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot.SnapshotWriter, "publish", slow)
    follower = Follower(
        p.projection,
        StoreSource(w.ledger.store),
        interval=0.05,
        snapshots=Snapshots(p.projection, target, every=0.0),
    )
    stopping = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stopping,))
    thread.start()
    try:
        assert publishing.wait(10), "the publisher did not start"
        # While that publish is held, a new command is projected all the same.
        complete(w, "bo")
        head = w.position()
        deadline = time.monotonic() + 10
        while p.projection.applied_position() < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.projection.applied_position() >= head
        release.set()
        deadline = time.monotonic() + 10
        while p.projection.snapshot_position < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert snapshot_query(target, "SELECT count(*) FROM awards") == [(2,)]
    finally:
        release.set()
        stopping.set()
        thread.join(30)


def test_the_background_publisher_runs_at_a_lower_cpu_priority(
    p: Projected, target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import threading

    from consumers import snapshots as policy

    seen: list[int] = []
    stopping = threading.Event()

    def background(self: policy.Snapshots) -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        stopping.set()

    monkeypatch.setattr(policy.Snapshots, "background", background)
    publisher = policy.Snapshots(p.projection, target)
    thread = threading.Thread(target=publisher.run, args=(stopping,))
    thread.start()
    publisher.wake.set()
    thread.join(10)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    assert seen == [max(policy.NICE, base)]  # never raised above the process
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # only it
