"""`ledger verify`: tamper evidence checked, then every recorded command re-decided.

The re-decision replays the whole history in memory (ledger.replay): each recorded
command's handler runs against the state just before it, and the recorded events are
then applied, so every decision is judged on the history as it really stood.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.aggregates.award import PointsAwarded
from ledger.audit.integrity import check
from ledger.audit.problems import Problem
from ledger.audit.redecide import (
    compare,
    invocation_of,
    reconstruct,
    recorded_commands,
    redecide,
)
from ledger.replay import ReplayContext, ReplayedState
from ledger.seal import digest_of
from ledger.store import EventStore


@dataclass
class Digest:
    """What an auditor keeps outside the system (`ledger digest`)."""

    position: int
    digest: str
    recorded_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "digest": self.digest, "recorded_at": self.recorded_at}


@dataclass
class Verification:
    events: int = 0
    commands: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "problems": [p.to_dict() for p in self.problems],
        }


def current_digest(store: EventStore, now: datetime) -> Digest:
    report = check(store)
    heads = report.heads_at[report.position]
    return Digest(report.position, digest_of(heads), now.isoformat())


def verify(
    store: EventStore,
    *,
    tenant: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    kept: Digest | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Verification:
    started = time.perf_counter()
    result = Verification()
    report = check(
        store,
        (kept.position,) if kept else (),
        progress=(lambda p: progress("chains", p)) if progress else None,
    )
    result.events = report.events
    result.problems.extend(p for p in report.problems if tenant in (None, p.tenant_id))
    if kept is not None:
        result.problems.extend(_digest_problems(report.heads_at.get(kept.position), kept))

    state = ReplayedState()
    for recorded in recorded_commands(
        store, progress=(lambda p: progress("decisions", p)) if progress else None
    ):
        command = reconstruct(recorded)
        if (
            command is None
            and recorded.of(PointsAwarded)
            and _in_scope(recorded.first, tenant, start, end)
        ):
            # Points no recorded command gives (a copied or forged award).
            result.problems.extend(
                Problem(
                    "award_differs",
                    position,
                    str(award.originator_id),
                    "an award without the behavior or adjustment that gives it",
                    award.tenant_id,
                )
                for award, position in zip(recorded.events, recorded.positions, strict=True)
                if isinstance(award, PointsAwarded)
            )
        if command is not None and _in_scope(recorded.first, tenant, start, end):
            state.position = recorded.position - 1
            context = ReplayContext(state, invocation_of(recorded, command))
            outcome = redecide(command, context)
            result.commands += 1
            result.problems.extend(compare(recorded, outcome))
        for event, position in zip(recorded.events, recorded.positions, strict=True):
            state.apply(event, position)
    result.problems.sort(key=lambda p: (p.position, p.kind))
    result.seconds = time.perf_counter() - started
    return result


def _in_scope(event: Any, tenant: str | None, start: datetime | None, end: datetime | None) -> bool:
    if tenant is not None and event.tenant_id != tenant:
        return False
    moment = event.timestamp
    return (start is None or moment >= start) and (end is None or moment < end)


def _digest_problems(heads: dict[Any, tuple[int, str]] | None, kept: Digest) -> list[Problem]:
    if heads is None:
        return [
            Problem(
                "digest_mismatch",
                kept.position,
                "",
                f"the history no longer reaches position {kept.position}",
            )
        ]
    if digest_of(heads) == kept.digest:
        return []
    return [
        Problem(
            "digest_mismatch",
            kept.position,
            "",
            f"the history up to position {kept.position} is not the one the kept digest "
            f"({kept.digest[:16]}…, {kept.recorded_at}) pinned",
        )
    ]
