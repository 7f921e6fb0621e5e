"""The single writer: commands run one after another on one thread, committed in groups.

Many request threads each deciding and committing on their own fight over the GIL and
SQLite's one write lock, and pay one fsync each. Here the API hands each command (with
its authentication and path checks) to one thread. That thread runs every command
queued at that moment against the write-through aggregate cache, stages their events
in one SQLite transaction (a savepoint per command) and commits them with one fsync,
then answers them all. Nothing is answered before its group is durable, so an
acknowledged command is never lost, and `synchronous` stays FULL.

A command sees the staged effects of the commands before it (the cache holds them),
exactly as if they had committed one by one. When a staged insert conflicts (another
process wrote the same aggregate first), what was staged before it is committed, the
stale aggregates are evicted, and the command runs again at the head of the next
group, on fresh state. When the commit itself fails, every command of the group gets
the error and nothing it staged stays in the cache.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError, Notification, Recording

from ledger.errors import ConcurrencyConflict
from ledger.logs import cause, get_logger
from ledger.store import EventStore

log = get_logger("ledger.writer")


class StagedConflict(Exception):
    """A staged insert met another writer's event: run the command again, later."""


class WriterBusy(Exception):
    """More commands are queued than the writer takes: the client retries later (503)."""


MAX_RUNS = 20  # as Ledger.execute's retries: a command that keeps conflicting is refused


@dataclass
class Job:
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    runs: int = 0


class Group:
    """One open transaction: commands stage into it; `commit` makes them durable."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        recorder: Any = store.recorder  # SQLite's: its datastore opens the transaction
        self.recorder = recorder
        self._transaction: AbstractContextManager[Any] = recorder.datastore.transaction(commit=True)
        self.cursor = self._transaction.__enter__()
        self.recordings: list[Recording[uuid.UUID]] = []
        self.staged: set[uuid.UUID] = set()

    def stage(self, aggregates: Sequence[Any]) -> list[Recording[uuid.UUID]]:
        # As Application.save collects them, without its runtime Protocol checks (costly).
        events: list[Any] = []
        by_id: dict[uuid.UUID, Any] = {}
        for aggregate in aggregates:
            events += aggregate.collect_events()
            by_id[aggregate.id] = aggregate
        stored = [self.store.mapper.to_stored_event(e) for e in events]
        self.cursor.execute("SAVEPOINT command")
        try:
            ids = self.recorder._insert_events(self.cursor, stored)
        except (IntegrityError, sqlite3.IntegrityError) as error:
            self.cursor.execute("ROLLBACK TO command")
            self.cursor.execute("RELEASE command")
            self.store.evict(by_id)
            raise StagedConflict from error
        self.cursor.execute("RELEASE command")
        recordings = [
            Recording(
                d,
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=n,
                ),
            )
            for d, s, n in zip(events, stored, ids, strict=True)
        ]
        # Write-through: the next command of the group decides on this state.
        cache = self.store.repository.cache
        for aggregate_id, aggregate in by_id.items():
            if cache is not None:
                cache.put(aggregate_id, aggregate)
            self.staged.add(aggregate_id)
        self.recordings += recordings
        return recordings

    def position_of(self, originator_id: uuid.UUID, version: int) -> int | None:
        for recording in self.recordings:
            event = recording.domain_event
            if event.originator_id == originator_id and event.originator_version == version:
                return int(recording.notification.id)
        return None

    def commit(self) -> None:
        try:
            self._transaction.__exit__(None, None, None)
        except BaseException:
            # A failed COMMIT can leave the transaction open on the pooled connection.
            with contextlib.suppress(Exception):
                self.cursor.sqlite_cursor.connection.rollback()
            self.store.evict(self.staged)  # none of it is in the store
            raise
        self.store.wrote(self.recordings)

    def abandon(self, error: BaseException) -> None:
        """Roll back (the transaction re-raises `error`, wrapped: that is expected)."""
        with contextlib.suppress(Exception):
            self._transaction.__exit__(type(error), error, error.__traceback__)
        self.store.evict(self.staged)


class Writer:
    """Runs submitted jobs on its own thread; a job's store appends join the open group."""

    MAX_GROUP = 256
    MAX_QUEUED = 4_096

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.grouped = not store.is_postgres  # PostgreSQL keeps one transaction per command
        self._jobs: queue.Queue[Job | None] = queue.Queue(self.MAX_QUEUED)
        self._retry: list[Job] = []
        self.groups = 0  # groups committed (tests and metrics: commands per fsync)
        self._thread = threading.Thread(target=self._loop, name="writer", daemon=True)
        self._thread.start()

    def submit(self, run: Callable[[], Any]) -> Future[Any]:
        job = Job(run)
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            job.future.set_exception(WriterBusy("too many commands queued; retry later"))
        return job.future

    def close(self) -> None:
        """Commit and answer what was submitted, then stop (a second close does nothing)."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout=30)

    def run(self, work: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Run `work` on the writer's thread and wait for its result (background jobs)."""
        if not self._thread.is_alive():
            raise WriterBusy("the writer has stopped")
        return self.submit(work).result(timeout=timeout)

    def _take(self) -> list[Job] | None:
        jobs = self._retry or []
        self._retry = []
        if not jobs:
            first = self._jobs.get()
            if first is None:
                return None
            jobs = [first]
        while len(jobs) < self.MAX_GROUP:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._jobs.put(None)  # stop after this group
                break
            jobs.append(job)
        return jobs

    def _loop(self) -> None:
        while (jobs := self._take()) is not None:
            if not self.grouped:
                for job in jobs:
                    _settle(job, job.run)
                continue
            self._group(jobs)

    def _group(self, jobs: list[Job]) -> None:
        try:
            group = Group(self.store)
        except Exception as error:
            for job in jobs:
                job.future.set_exception(error)
            return
        done: list[tuple[Job, Any, BaseException | None]] = []
        try:
            with self.store.grouped_into(group):
                for index, job in enumerate(jobs):
                    job.runs += 1
                    try:
                        done.append((job, job.run(), None))
                    except StagedConflict:
                        if job.runs >= MAX_RUNS:
                            conflict = ConcurrencyConflict("too much concurrent change, try again")
                            done.append((job, None, conflict))
                            self._retry = jobs[index + 1 :]
                        else:
                            self._retry = jobs[index:]  # first in the next group, fresh state
                        break
                    except Exception as refusal:  # a refusal stages at most its record
                        done.append((job, None, refusal))
        except BaseException as error:
            group.abandon(error)
            raise
        try:
            group.commit()
            if group.recordings:
                self.groups += 1
        except Exception as failure:
            log.error("group commit failed", commands=len(done), error=cause(failure))
            for job, _, _ in done:
                job.future.set_exception(failure)
            return
        for job, result, refused in done:
            if refused is not None:
                job.future.set_exception(refused)
            else:
                job.future.set_result(result)


def _settle(job: Job, run: Callable[[], Any]) -> None:
    try:
        job.future.set_result(run())
    except Exception as error:
        job.future.set_exception(error)
