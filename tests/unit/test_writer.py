"""The single writer: commands queued together commit together, in order, each deciding
on the state the commands before it left; a conflict or a failed commit loses nothing
and answers every command."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from ledger.clock import FixedClock
from ledger.commands.recognitions import GiveRecognition
from ledger.errors import AllowanceExceeded
from ledger.service import Outcome
from ledger.writer import Writer
from tests.support import World

pytestmark = pytest.mark.usefixtures("sqlite_url")


@pytest.fixture
def world(sqlite_url: str, clock: FixedClock) -> World:
    from tests.conftest import open_ledger

    w = World(open_ledger(sqlite_url, clock), clock, monthly_allowance=40).standard()
    return w


@pytest.fixture
def writer(world: World) -> Iterator[Writer]:
    writer = Writer(world.ledger.store)
    yield writer
    writer.close()


def give(world: World, frm: str, to: str, points: int) -> Any:
    command = GiveRecognition(from_member=frm, to_member=to, value="ownership", points=points)
    return lambda: world.ledger.execute(command, world.service)


def held(writer: Writer) -> threading.Event:
    """Hold the writer busy until the event is set, so what is submitted meanwhile is
    taken as one group."""
    release, started = threading.Event(), threading.Event()

    def wait() -> None:
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


def test_a_conflict_with_another_writer_commits_what_came_before_and_retries(
    world: World,
    writer: Writer,
    sqlite_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given this writer has ana's allowance cached and another process spends from it in
    the moment between this command's look at the store and its insert, when a group holds
    an unrelated gift and then ana's, then the unrelated gift is committed, ana's runs again
    on fresh state in the next group, and the allowance counts every gift."""
    from ledger.aggregates.allowance import Allowance
    from ledger.periods import month_key
    from tests.conftest import open_ledger

    writer.submit(give(world, "ana", "bo", 10)).result(10)  # cached here
    other = open_ledger(sqlite_url, clock)
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
    assert writer.groups - groups_before == 2
    allowance = store.load(
        Allowance, Allowance.id_for(world.tenant_id, "ana", month_key(clock.now(), "UTC"))
    )
    assert allowance is not None and allowance.spent == 40
    other.close()


def test_a_failed_commit_answers_every_command_and_keeps_nothing(
    world: World, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given the disk fails at COMMIT, then every command of the group gets the error,
    nothing is in the store or the cache, and the next group works."""
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

    def send() -> Outcome:
        return world.ledger.execute(command, world.service, idempotency_key="burst-1")

    release = held(writer)
    first, again = writer.submit(send), writer.submit(send)
    release.set()
    answered, replayed = first.result(10), again.result(10)
    assert replayed.replayed and not answered.replayed
    assert replayed.position == answered.position == world.position()
