"""The single writer: commands queued together commit together, in order, each deciding
on the state the commands before it left; a conflict or a failed commit loses nothing
and answers every command. On SQLite and on PostgreSQL (`store_url`): one adapter."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from ledger.clock import FixedClock
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import AllowanceExceeded
from ledger.service import Ledger, Outcome
from ledger.store import WriteBatch
from ledger.writer import Writer
from tests.support import World


@pytest.fixture
def world(ledger: Ledger, clock: FixedClock) -> World:
    return World(ledger, clock, monthly_allowance=40).standard()


@pytest.fixture
def writer(world: World) -> Iterator[Writer]:
    writer = Writer(world.ledger.store)
    yield writer
    writer.close()


def give(world: World, frm: str, to: str, points: int) -> Any:
    command = GiveRecognition(from_member=frm, to_member=to, value="ownership", points=points)
    return lambda batch: world.ledger.execute(command, world.service, batch=batch)


def held(writer: Writer) -> threading.Event:
    """Hold the writer busy until the event is set, so what is submitted meanwhile is
    taken as one group."""
    release, started = threading.Event(), threading.Event()

    def wait(_: WriteBatch) -> None:
        started.set()
        release.wait(10)

    writer.submit(wait)
    started.wait(10)
    return release


def test_commands_queued_together_commit_as_one_group_in_order(
    world: World, writer: Writer
) -> None:
    release = held(writer)
    groups_before = writer.groups
    pairs = [(a, b) for a in ("ana", "bo", "cy") for b in ("ana", "bo", "cy") if a != b]
    futures = [writer.submit(give(world, a, b, 5)) for a, b in pairs]
    release.set()
    outcomes: list[Outcome] = [f.result(10) for f in futures]
    positions = [o.position for o in outcomes]
    assert positions == sorted(positions) and len(set(positions)) == len(pairs)
    assert writer.groups - groups_before == 1
    assert world.position() == positions[-1]  # committed: the store's head is the last


def test_a_command_decides_on_what_the_commands_before_it_in_its_group_left(
    world: World, writer: Writer
) -> None:
    """Given an allowance of 40, when two gifts of 30 are in one group, the second is
    refused as if the first had committed before it."""
    release = held(writer)
    first = writer.submit(give(world, "ana", "bo", 30))
    second = writer.submit(give(world, "ana", "cy", 30))
    release.set()
    assert first.result(10).position is not None
    with pytest.raises(AllowanceExceeded):
        second.result(10)


def test_a_conflict_with_another_writer_undoes_that_command_only_and_decides_it_again(
    world: World,
    writer: Writer,
    store_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given this writer has ana's allowance cached and another process spends from it in
    the moment between this command's look at the store and its insert, when a group holds
    an unrelated gift and then ana's, then ana's insert is undone alone, it decides again on
    fresh state in the same group, both commit, and the allowance counts every gift."""
    from ledger.aggregates.allowance import Allowance
    from ledger.periods import month_key
    from tests.conftest import open_ledger

    writer.submit(give(world, "ana", "bo", 10)).result(10)  # cached here
    other = open_ledger(store_url, clock)
    other.execute(
        GiveRecognition(from_member="ana", to_member="cy", value="ownership", points=10),
        world.service,
    )
    store = world.ledger.store
    monkeypatch.setattr(store, "sync", lambda: None)  # the race: the foreign write unseen
    release = held(writer)
    groups_before = writer.groups
    unrelated = writer.submit(give(world, "bo", "cy", 5))
    stale = writer.submit(give(world, "ana", "cy", 20))
    release.set()
    assert unrelated.result(10).position is not None
    assert stale.result(10).position is not None
    assert writer.groups - groups_before == 1
    allowance = store.load(
        Allowance, Allowance.id_for(world.tenant_id, "ana", month_key(clock.now(), "UTC"))
    )
    assert allowance is not None and allowance.spent == 40
    other.close()


def test_once_a_group_has_written_no_other_process_writes_until_it_commits(
    world: World, writer: Writer, store_url: str, clock: FixedClock
) -> None:
    """Why a command joining a group that has written skips the head-position sync
    (Ledger._attempt): the group holds the store's write lock (SQLite's reserved lock,
    PostgreSQL's table lock) until its commit, so nothing foreign can appear meanwhile.
    Given a group that staged a gift and stays open, when another process gives one, then
    that write waits for the group's commit and lands after it."""
    from tests.conftest import open_ledger

    other = open_ledger(store_url, clock)
    staged, release = threading.Event(), threading.Event()

    def gift_then_hold(batch: WriteBatch) -> Outcome:
        assert not batch.holds_write_lock
        outcome: Outcome = give(world, "ana", "bo", 5)(batch)
        assert batch.holds_write_lock
        staged.set()
        release.wait(10)
        return outcome

    group = writer.submit(gift_then_hold)
    assert staged.wait(10)
    foreign: Future[Outcome] = Future()

    def give_elsewhere() -> None:
        command = GiveRecognition(from_member="cy", to_member="bo", value="ownership", points=5)
        try:
            foreign.set_result(other.execute(command, world.service))
        except Exception as error:
            foreign.set_exception(error)

    threading.Thread(target=give_elsewhere, daemon=True).start()
    time.sleep(0.5)
    assert not foreign.done()  # held off by the open group's lock
    release.set()
    ours, theirs = group.result(10), foreign.result(30)
    assert ours.position is not None and theirs.position is not None
    assert theirs.position > ours.position
    other.close()


def test_a_failed_commit_answers_every_command_and_keeps_nothing(
    world: World, writer: Writer, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the disk fails at COMMIT, then every command of the group gets the error,
    nothing is in the store or the cache, and the next group works."""
    if store_url.startswith("postgres"):
        pytest.skip("PostgreSQL: the connection lost before COMMIT, in the test below")
    from eventsourcing.sqlite import SQLiteConnection

    before = world.position()
    real_commit = SQLiteConnection.commit
    failing = True

    def commit(connection: SQLiteConnection) -> None:
        if failing:
            raise sqlite3.OperationalError("disk I/O error")
        real_commit(connection)

    monkeypatch.setattr(SQLiteConnection, "commit", commit)
    release = held(writer)
    futures: list[Future[Any]] = [writer.submit(give(world, "ana", "bo", 20)) for _ in range(2)]
    release.set()
    for future in futures:
        assert "disk I/O error" in str(future.exception(10))
    assert world.position() == before
    failing = False
    # The cache kept none of the lost state: the whole allowance is still there.
    assert writer.submit(give(world, "ana", "bo", 40)).result(10).position is not None


def test_a_repeat_of_an_idempotency_key_in_the_same_group_answers_the_same_position(
    world: World, writer: Writer
) -> None:
    """Given two requests with one Idempotency-Key queued together, then the second is the
    first's answer replayed, with the same position (staged, not yet committed, when it
    was asked)."""
    command = GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5)

    def send(batch: WriteBatch) -> Outcome:
        return world.ledger.execute(command, world.service, idempotency_key="burst-1", batch=batch)

    release = held(writer)
    first, again = writer.submit(send), writer.submit(send)
    release.set()
    answered, replayed = first.result(10), again.result(10)
    assert replayed.replayed and not answered.replayed
    assert replayed.position == answered.position == world.position()


@pytest.mark.postgres
def test_a_connection_lost_before_commit_answers_every_command_and_keeps_nothing(
    world: World, writer: Writer, store_url: str
) -> None:
    """Given PostgreSQL drops the group's connection after its commands staged (the
    server restarted, a proxy cut it), then every command of the group gets the error,
    nothing is in the store or the cache, and the next group works on a new connection."""
    if not store_url.startswith("postgres"):
        pytest.skip("the SQLite variant fails the COMMIT itself, above")
    import psycopg

    from ledger.store import postgres_dsn

    before = world.position()

    def cut(batch: WriteBatch) -> None:
        backend = batch._batch._connection.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(postgres_dsn(store_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))

    release = held(writer)
    futures: list[Future[Any]] = [writer.submit(give(world, "ana", "bo", 20)) for _ in range(2)]
    futures.append(writer.submit(cut))
    # Its insert meets the dead connection: psycopg marks it broken, and would end the
    # transaction quietly, committing nothing, unless the batch checks.
    futures.append(writer.submit(give(world, "ana", "bo", 5)))
    release.set()
    for future in [*futures[:2], futures[3]]:
        assert future.exception(10) is not None
    assert world.position() == before
    # The cache kept none of the lost state: the whole allowance is still there.
    assert writer.submit(give(world, "ana", "bo", 40)).result(10).position is not None


def test_refusals_after_a_staged_command_in_its_group_decide_on_what_it_staged(
    world: World, writer: Writer
) -> None:
    """Given one member's daily mission completed 4 times in one group, then the first is
    accepted and the other 3 are refused as taken (not retried into a conflict with the
    group's own staged slot: a refusal keeps what it only read in the cache)."""
    from ledger.commands.completions import CompleteMission
    from ledger.errors import SlotTaken

    command = CompleteMission(mission_id="follow-up", member_id="ana")
    release = held(writer)
    futures = [
        writer.submit(lambda batch: world.ledger.execute(command, world.service, batch=batch))
        for _ in range(4)
    ]
    release.set()
    assert futures[0].result(10).position is not None
    for future in futures[1:]:
        assert isinstance(future.exception(10), SlotTaken)


def test_a_staged_aggregate_changed_by_a_refused_command_is_rebuilt_not_lost(
    world: World,
) -> None:
    """Given a member moved in an open batch (staged, not committed), when a later command
    changes the cached member and fails (its change is evicted), then the cache holds the
    member as the batch staged it: rebuilt from the store and the batch, not dropped (the
    store alone would answer the member before the move)."""
    from ledger.aggregates.member import Member
    from ledger.events import EventMetadata, event_metadata

    store = world.ledger.store
    member_id = Member.id_for(world.tenant_id, "ana")
    meta = EventMetadata(world.clock.now(), "c1", "c1")
    batch = store.open_batch()
    try:
        member = store.load(Member, member_id)
        assert member is not None
        with event_metadata(meta):
            member.move("support", world.clock.now())
        store.append(member, batch=batch)
        staged_version = member.version
        with event_metadata(meta):
            member.move("sales", world.clock.now())  # a failing command's change, unstaged
        store.evict([member_id])
        again = store.load(Member, member_id)
        assert again is not None and again is not member
        assert again.version == staged_version and again.moves[-1][1] == "support"
    finally:
        batch.rollback()
    after = store.load(Member, member_id)
    assert after is not None and after.version == staged_version - 1  # nothing committed


@pytest.mark.postgres
def test_a_batch_whose_connection_is_gone_commits_nothing_and_says_so(
    world: World, store_url: str
) -> None:
    """Given a batch with a staged insert whose connection is gone before COMMIT (psycopg
    ends such a transaction quietly), then commit raises: nobody is told it was done."""
    if not store_url.startswith("postgres"):
        pytest.skip("SQLite's connection is a file: it cannot be lost this way")
    from eventsourcing.persistence import PersistenceError

    store = world.ledger.store
    before = world.position()
    batch = store.open_batch()
    world.ledger.execute(
        GiveRecognition(from_member="ana", to_member="bo", value="ownership", points=5),
        world.service,
        batch=batch,
    )
    batch._batch._connection.close()  # type: ignore[attr-defined]
    with pytest.raises(PersistenceError):
        batch.commit()
    assert world.position() == before


@pytest.mark.postgres
def test_a_batch_opens_once_the_pool_reconnects_and_says_so_when_it_cannot(
    world: World, writer: Writer, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given PostgreSQL just restarted (the pool's first checkouts time out while it
    reconnects), when the writer opens a batch, then it tries again and the group
    commits; when every try fails, the store's error reaches the caller (a 503)."""
    if not store_url.startswith("postgres"):
        pytest.skip("a SQLite batch opens a file, there is no pool to wait for")
    import psycopg

    from ledger import persistence

    real = persistence._PostgresBatch.__init__
    failures = {"left": persistence.PostgresLedgerRecorder.OPEN_ATTEMPTS - 1}

    def flaky(self: Any, recorder: Any) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise psycopg.OperationalError("couldn't get a connection after 1.00 sec")
        real(self, recorder)

    monkeypatch.setattr(persistence._PostgresBatch, "__init__", flaky)
    before = world.position()
    first = writer.submit(give(world, "ana", "bo", 5)).result(10).position
    assert first is not None and first > before and failures["left"] == 0
    failures["left"] = persistence.PostgresLedgerRecorder.OPEN_ATTEMPTS
    with pytest.raises(psycopg.OperationalError):
        writer.submit(give(world, "ana", "cy", 5)).result(10)
    assert world.position() == first  # the second gift was refused whole
