"""The single writer: commands run one after another on one thread, committed in groups.

Many request threads each deciding and committing on their own fight over the GIL and
the store's write lock, and pay one fsync each. Here the API hands each command (with
its authentication and path checks) to one thread. That thread runs every command
queued at that moment against the write-through aggregate cache, passing each the
same open batch (ledger.persistence: one transaction, a savepoint per command), and
commits them with one fsync, then answers them all. Nothing is answered before its
group is durable, so an acknowledged command is never lost, and SQLite's `synchronous`
stays FULL. The same on PostgreSQL: one commit (and one table lock) per group.

A command sees the staged effects of the commands before it (the cache holds them),
exactly as if they had committed one by one. When a staged insert conflicts (another
process wrote the same aggregate first), only that command's rows are undone and it
decides again on fresh state, in the same group (Ledger.execute's one retry loop).
When the commit itself fails, every command of the group gets the error and nothing
it staged stays in the cache.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ledger.logs import cause, get_logger
from ledger.store import EventStore, WriteBatch

log = get_logger("ledger.writer")


class WriterBusy(Exception):
    """More commands are queued than the writer takes: the client retries later (503)."""


# A job runs on the writer's thread with the group's open batch.
Work = Callable[[WriteBatch], Any]


@dataclass
class Job:
    run: Work
    future: Future[Any] = field(default_factory=Future)


class Writer:
    """Runs submitted jobs on its own thread; a job's store appends join the open group."""

    MAX_GROUP = 256
    MAX_QUEUED = 4_096

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._jobs: queue.Queue[Job | None] = queue.Queue(self.MAX_QUEUED)
        self.groups = 0  # groups committed (tests and metrics: commands per fsync)
        self._thread = threading.Thread(target=self._loop, name="writer", daemon=True)
        self._thread.start()

    def submit(self, run: Work) -> Future[Any]:
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

    def run(self, work: Work, timeout: float = 60.0) -> Any:
        """Run `work` on the writer's thread and wait for its result (background jobs)."""
        if not self._thread.is_alive():
            raise WriterBusy("the writer has stopped")
        return self.submit(work).result(timeout=timeout)

    def _take(self) -> list[Job] | None:
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
            self._group(jobs)

    def _group(self, jobs: list[Job]) -> None:
        try:
            batch = self.store.open_batch()
        except Exception as error:
            for job in jobs:
                job.future.set_exception(error)
            return
        done: list[tuple[Job, Any, BaseException | None]] = []
        try:
            for job in jobs:
                try:
                    done.append((job, job.run(batch), None))
                except Exception as refusal:  # a refusal stages at most its record
                    done.append((job, None, refusal))
        except BaseException:
            batch.rollback()
            raise
        try:
            batch.commit()
            if batch.recordings:
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
