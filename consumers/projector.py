"""The projector: reads batches from a source and applies them to the projection."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from consumers.sources import Source
from ledger.projections.projection import Projection

log = logging.getLogger("ledger.projector")


def catch_up(
    projection: Projection,
    source: Source,
    source_name: str = "store",
    progress: Callable[[int], None] | None = None,
    rebuild: bool = False,
) -> int:
    """Apply everything the source has after the stored position; returns events applied.

    `rebuild` defers the derived tables to one recomputation at the end: only for a
    projection nobody reads until it is finished (a rebuild into a side file).
    """
    applied = 0
    for batch in source.batches(projection.source_position(source_name)):
        applied += projection.apply(batch.envelopes, batch.resume_at, defer=rebuild)
        if batch.commit is not None:
            batch.commit()  # Kafka offsets only after the batch is in DuckDB
        if progress:
            progress(len(batch.envelopes))
    if rebuild:
        projection.finish()
    return applied


class EmbeddedProjector:
    """Follows the event store in a background thread (embedded mode).

    Every `snapshot_every` seconds, when something was applied, it also publishes the
    analysts' snapshot (`snapshot_to`), so `ledger sql` works while the server runs.
    """

    def __init__(
        self,
        projection: Projection,
        source: Source,
        interval: float = 0.05,
        snapshot_to: Path | None = None,
        snapshot_every: float = 5.0,
    ) -> None:
        self.projection = projection
        self.source = source
        self.interval = interval
        self.snapshot_to = snapshot_to
        self.snapshot_every = snapshot_every
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="projector", daemon=True)
        self.last_error: Exception | None = None
        self._changed_since_snapshot = True
        self._last_snapshot = 0.0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def publish_snapshot(self) -> Path | None:
        """Publish the analysts' snapshot now (also called on demand)."""
        if self.snapshot_to is None:
            return None
        path = self.projection.publish_snapshot(self.snapshot_to)
        self._changed_since_snapshot = False
        self._last_snapshot = time.monotonic()
        return path

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                applied = catch_up(self.projection, self.source)
                self._changed_since_snapshot |= applied > 0
                if (
                    self._changed_since_snapshot
                    and time.monotonic() - self._last_snapshot >= self.snapshot_every
                ):
                    self.publish_snapshot()
                if applied == 0:
                    self.stopping.wait(self.interval)
            except Exception as error:  # keep following: a failed batch is retried
                log.exception("projector batch failed; retrying")
                self.last_error = error
                time.sleep(1)
