"""The projector: reads batches from a source and applies them to the projection."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from consumers.snapshots import Snapshots
from consumers.sources import Source
from ledger.logs import cause, get_logger
from ledger.projections.projection import Projection

log = get_logger("ledger.projector")


def catch_up(
    projection: Projection,
    source: Source,
    source_name: str = "store",
    progress: Callable[[int], None] | None = None,
    rebuild: bool = False,
) -> int:
    """Apply everything the source has after the stored position; returns events applied.

    `rebuild` defers the derived tables to one recomputation at the end: only for a
    projection nobody reads until it is finished (a rebuild into a side file, or a
    file started afresh while queries answer 503).
    """
    with _bulk(rebuild):
        return _catch_up(projection, source, source_name, progress, rebuild)


@contextmanager
def _bulk(active: bool) -> Iterator[None]:
    """No cyclic garbage collection during a rebuild: its pages are hundreds of thousands
    of acyclic dicts that the collector would walk again and again (a third of the time);
    reference counting frees them all the same."""
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _catch_up(
    projection: Projection,
    source: Source,
    source_name: str,
    progress: Callable[[int], None] | None,
    rebuild: bool,
) -> int:
    applied = 0
    for batch in source.batches(projection.source_position(source_name)):
        started = time.perf_counter()
        count = projection.apply(batch.envelopes, batch.resume_at, defer=rebuild)
        applied += count
        if batch.commit is not None:
            batch.commit()  # Kafka offsets only after the batch is in DuckDB
        if count:
            log.info(
                "batch applied",
                events=count,
                read=len(batch.envelopes),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        if progress:
            progress(len(batch.envelopes))
    if rebuild:
        projection.finish()
    return applied


class Follower:
    """Follows a source into a projection until stopped; survives every batch failure.

    A failed batch was rolled back (its position with it), so retrying it from the
    stored position skips nothing; a DuckDB connection invalidated by an I/O error is
    reopened. When given `snapshots`, their publisher runs in a thread of its own beside
    it (consumers.snapshots), woken after each pass that applied something.
    """

    MAX_PAUSE = 0.25

    def __init__(
        self,
        projection: Projection,
        source: Source,
        interval: float = 0.1,
        snapshots: Snapshots | None = None,
        pace: float = 2.0,
        on_applied: Callable[[int], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.projection = projection
        self.source = source
        self.interval = interval
        self.pace = pace
        self.last_pass = 0.0  # seconds the last pass that applied events took
        self.snapshots = snapshots
        self.on_applied = on_applied
        self.progress = progress
        self.last_error: Exception | None = None
        self.failures = 0
        self.last_ok = time.monotonic()

    def healthy(self, within: float = 60.0) -> bool:
        return time.monotonic() - self.last_ok < within

    def step(self) -> int:
        """One pass: everything the source has now (the snapshot's publisher is woken)."""
        started, live = time.monotonic(), not self.projection.catching_up
        if self.projection.catching_up:
            # Nobody reads it yet (queries answer 503): derive the tables once at the end.
            applied = catch_up(self.projection, self.source, progress=self.progress, rebuild=True)
            self.projection.catching_up = False
            if applied:
                log.warning("projection caught up after starting afresh", events=applied)
        else:
            applied = catch_up(self.projection, self.source, progress=self.progress)
        if applied:
            # Live passes only (a start afresh takes minutes once), and not the snapshot.
            self.last_pass = time.monotonic() - started if live else 0.0
            if self.on_applied:
                self.on_applied(applied)
        if applied and self.snapshots is not None:
            self.snapshots.wake.set()
        self.last_ok = time.monotonic()
        return applied

    def pause(self) -> float:
        """How long to let the next batch grow before the next pass.

        A live batch costs about the same whatever it holds (the touched days' rollups
        and periods: ~100 ms on a large tenant, well under a millisecond more per
        event), so passes every `interval` would spend a whole core on a trickle of
        commands. Waiting `pace` times as long as the last pass took bounds it to
        1 / (1 + pace) of a core (a third by default), and the batch grows instead.
        The wait never exceeds MAX_PAUSE, so the lag stays within it plus one pass:
        at most MAX_PAUSE - `interval` (0.15 s) more than passes every `interval`.
        """
        return max(self.interval, min(self.MAX_PAUSE, self.pace * self.last_pass))

    def run(self, stopping: threading.Event) -> None:
        snapshots, publisher = self.snapshots, None
        if snapshots is not None:
            publisher = threading.Thread(
                target=snapshots.run, args=(stopping,), name="snapshots", daemon=True
            )
            publisher.start()
        try:
            self._follow(stopping)
        finally:
            if snapshots is not None and publisher is not None:
                snapshots.wake.set()  # out of its wait at once
                publisher.join(timeout=60)

    def _follow(self, stopping: threading.Event) -> None:
        backoff = 0.5
        while not stopping.is_set():
            try:
                self.step()
                if self.failures:
                    log.info("projector resumed", after_failures=self.failures)
                self.failures, backoff = 0, 0.5
                stopping.wait(self.pause())
            except Exception as error:
                self.failures += 1
                self.last_error = error
                log.error(
                    "projector batch failed; nothing after the stored position was "
                    "applied, retrying",
                    error=cause(error),
                    file=self.projection.path.name,
                    retry_in_s=backoff,
                    failures=self.failures,
                )
                self.projection.recover_connection()
                stopping.wait(backoff)
                backoff = min(backoff * 2, 10.0)


class EmbeddedProjector:
    """Runs a Follower in a background thread (`ledger serve`)."""

    def __init__(self, follower: Follower) -> None:
        self.follower = follower
        self.stopping = threading.Event()
        self.thread = threading.Thread(
            target=follower.run, args=(self.stopping,), name="projector", daemon=True
        )

    @property
    def last_error(self) -> Exception | None:
        return self.follower.last_error

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)
