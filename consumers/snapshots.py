"""When the analysts' snapshot is published: one policy for the background and for requests.

A snapshot writes the parts of the projection that changed (ledger/projections/
snapshot.py) from a read transaction, beside the projector, which shares the process's
cores with it. Publishes are therefore spaced so that publishing takes at most SHARE of
the time, whoever asks: the background publishes when something changed and `every`
seconds (or that spacing) have passed; a request publishes only if something changed
and the spacing since the last publish (at least MIN_GAP) has passed, and otherwise
answers the snapshot there is, with when to ask again.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ledger.logs import cause, get_logger
from ledger.projections.projection import Projection

log = get_logger("ledger.projector")
NICE = 10  # the background publisher's niceness (0 is the process's, 19 the lowest)


@dataclass(frozen=True)
class Published:
    """What a request for a snapshot got: the file, the position it holds, whether it
    was copied for this request, and when another copy may be made (seconds)."""

    path: Path
    position: int
    copied: bool
    retry_after: int = 0


class Snapshots:
    SHARE = 0.1
    MIN_GAP = 1.0
    POLL = 0.5  # the publisher's look at the schedule when nobody wakes it

    def __init__(self, projection: Projection, target: Path, every: float = 5.0) -> None:
        self.projection = projection
        self.target = target
        self.every = every
        self.lock = threading.Lock()
        self.last = -math.inf  # monotonic end of the last copy
        self.cost = 0.0  # seconds the last publish took, as far as spacing goes
        self.seconds = 0.0  # seconds the last publish took
        self.copies = 0
        self.wake = threading.Event()  # set by the projector after a pass that applied
        projection.stale_snapshot_files(target)

    def spacing(self, gap: float) -> float:
        return max(gap, self.cost / self.SHARE)

    def _copy(self) -> None:
        started = time.monotonic()
        self.projection.publish_snapshot(self.target)
        self.last = time.monotonic()
        took = self.last - started
        # A snapshot that wrote every part (the first, or after a rebuild) costs the
        # history once; the next ones cost what changed, so it does not space them.
        self.cost = 0.0 if self.projection.snapshot_started_over else took
        self.seconds = took
        self.copies += 1

    @property
    def changed(self) -> bool:
        return self.projection.changed_since_snapshot or not self.target.exists()

    def background(self) -> None:
        """The projector's turn: copy if something changed and the spacing has passed; at
        once after a forget (the old snapshot still names the member)."""
        with self.lock:
            if self.projection.erased_since_snapshot or (
                self.changed and time.monotonic() - self.last >= self.spacing(self.every)
            ):
                self._copy()

    def run(self, stopping: threading.Event) -> None:
        """The background publisher, in a thread of its own: a publish reads one committed
        state without the write lock, so the projector goes on applying meanwhile (the
        first publish of a process writes the whole history: 10.6 s at 1M behaviors).
        A failure (a full disk) is logged and retried; the last snapshot stays. The
        thread runs at a lower CPU priority (DuckDB runs the publish in it: one thread):
        on a busy machine commands and the projector go first."""
        with contextlib.suppress(OSError, AttributeError):  # Linux: per thread
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        backoff = self.POLL
        while not stopping.is_set():
            self.wake.wait(backoff)
            self.wake.clear()
            if stopping.is_set():
                return
            try:
                self.background()
                backoff = self.POLL
            except Exception as error:
                backoff = min(max(backoff, 0.5) * 2, 10.0)
                log.error(
                    "analysts' snapshot not published; the last one stays, retrying",
                    error=cause(error),
                    retry_in_s=backoff,
                )

    def request(self) -> Published:
        """An analyst's request: a fresh copy if one is due, else the one there is."""
        with self.lock:
            copied = False
            if self.changed:
                wait = self.spacing(self.MIN_GAP) - (time.monotonic() - self.last)
                if wait > 0:
                    return Published(
                        self.target,
                        self.projection.snapshot_position,
                        copied=False,
                        retry_after=math.ceil(wait),
                    )
                self._copy()
                copied = True
            return Published(self.target, self.projection.snapshot_position, copied)
