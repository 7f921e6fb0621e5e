"""Re-deciding recorded commands: the live handlers, run again on the replayed past.

A command is the run of events its invocation recorded (one causation id, saved
atomically). Its inputs are read back from those events, its handler runs against
the state just before it (ledger.replay), and what the rules decide now is compared
with what was recorded: points, rule and inputs of every award, and campaign winners.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.aggregates.award import AwardReversed, PointsAwarded
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.campaign import CampaignWinnersDeclared
from ledger.audit.problems import Problem
from ledger.commands.base import Caller, Command, Decision, Invocation
from ledger.commands.context import Context
from ledger.commands.handlers import HANDLERS, decide
from ledger.errors import LedgerError
from ledger.events import EventMetadata, LedgerEvent
from ledger.store import EventStore

PAGE = 5_000
Overlay = Callable[[LedgerAggregate], LedgerAggregate]


@dataclass
class RecordedCommand:
    """The events one invocation recorded, with their positions."""

    events: list[LedgerEvent] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    @property
    def first(self) -> LedgerEvent:
        return self.events[0]

    @property
    def position(self) -> int:
        return self.positions[0]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def recorded_commands(
    store: EventStore, progress: Callable[[int], None] | None = None
) -> Iterator[RecordedCommand]:
    """Every recorded command in position order (unreadable events are skipped: the
    integrity check names them)."""
    current = RecordedCommand()
    after = 0
    while True:
        page = store.select(after, PAGE)
        for notification in page:
            try:
                event = store.mapper.to_domain_event(notification)
            except Exception:  # noqa: S112 - tampered bytes: the integrity check names them
                continue
            assert isinstance(event, LedgerEvent)
            if current.events and event.causation_id != current.first.causation_id:
                yield current
                current = RecordedCommand()
            current.events.append(event)
            current.positions.append(notification.id)
        if progress is not None and page:
            progress(page[-1].id)
        if len(page) < PAGE:
            break
        after = page[-1].id
    if current.events:
        yield current


def reconstruct(recorded: RecordedCommand) -> Command | None:
    """The command an invocation was, read back from its events by the command itself
    (None: nothing to re-decide)."""
    for kind in HANDLERS:
        command = kind.read_back(recorded.events)
        if command is not None:
            return command
    return None


def invocation_of(recorded: RecordedCommand, command: Command) -> Invocation:
    """Who sent the recorded command, and when, as its provenance recorded it."""
    first = recorded.first
    provenance: dict[str, Any] = {}
    for e in recorded.events:
        if isinstance(e, PointsAwarded | AwardReversed):
            provenance = e.command
    label = provenance.get("key_label") or getattr(first, "decided_by", "") or ""
    received_at = provenance.get("received_at")
    # Histories before the role was in the provenance: a role the rules allowed (handlers
    # never read it; the service checked it when the command arrived).
    role = provenance.get("role") or HANDLERS[type(command)].roles[0]
    return Invocation(
        Caller(first.tenant_id, role, label),
        uuid.UUID(first.causation_id) if first.causation_id else uuid.uuid4(),
        datetime.fromisoformat(received_at) if received_at else first.timestamp,
        provenance.get("idempotency_key"),
        first.correlation_id,
    )


def redecide(command: Command, context: Context) -> Decision | LedgerError:
    """Run the live handler again (ledger.commands.handlers.decide) on a past state: its
    decision, or its refusal. Events it makes are compared, never stored: no seals."""
    invocation = context.invocation
    meta = EventMetadata(
        invocation.received_at,
        str(invocation.command_id),
        invocation.correlation_id,
        sealed=False,
    )
    try:
        return decide(command, context, meta)
    except LedgerError as refusal:
        return refusal
    finally:
        settle = getattr(context, "settle", None)
        if settle is not None:
            settle()  # a replayed state is left as the history left it


def decided_events(decision: Decision) -> list[LedgerEvent]:
    return [e for a in decision.aggregates for e in a.pending]


def award_shape(award: PointsAwarded) -> dict[str, Any]:
    """What must match between a recorded and a re-decided award (not ids or times)."""
    return {
        "member_id": award.member_id,
        "points": award.points,
        "kind": award.kind,
        "values": sorted(award.values),
        "source_type": award.source.get("type"),
        "rule": award.rule,
    }


def compare(recorded: RecordedCommand, outcome: Decision | LedgerError) -> list[Problem]:
    """Where the recorded command and the rules' decision differ."""
    position = recorded.position
    tenant = recorded.first.tenant_id

    def problem(at: int, aggregate_id: Any, detail: str) -> Problem:
        return Problem("award_differs", at, str(aggregate_id), detail, tenant)

    if isinstance(outcome, LedgerError):
        return [
            problem(
                position,
                recorded.first.originator_id,
                f"the rules refuse this recorded command now: {outcome.code}: {outcome}",
            )
        ]
    decided = decided_events(outcome)
    problems: list[Problem] = []
    mine = [
        (e, p)
        for e, p in zip(recorded.events, recorded.positions, strict=True)
        if isinstance(e, PointsAwarded)
    ]
    theirs = [e for e in decided if isinstance(e, PointsAwarded)]
    for (award, at), expected in zip(mine, theirs, strict=False):
        got, want = award_shape(award), award_shape(expected)
        if got != want:
            diffs = ", ".join(
                f"{k} {got[k]!r} recorded, {want[k]!r} by the rules"
                for k in got
                if got[k] != want[k]
            )
            problems.append(problem(at, award.originator_id, diffs))
    for award, at in mine[len(theirs) :]:
        problems.append(problem(at, award.originator_id, "an award the rules do not give"))
    for expected in theirs[len(mine) :]:
        problems.append(
            problem(
                position,
                recorded.first.originator_id,
                f"the rules give {expected.points} points to {expected.member_id}; "
                "no such award is recorded",
            )
        )
    recorded_winners = recorded.of(CampaignWinnersDeclared)
    decided_winners = [e for e in decided if isinstance(e, CampaignWinnersDeclared)]
    if (
        recorded_winners
        and decided_winners
        and recorded_winners[0].winners != decided_winners[0].winners
    ):
        problems.append(
            problem(
                position,
                recorded_winners[0].originator_id,
                f"winners {recorded_winners[0].winners} recorded, "
                f"{decided_winners[0].winners} by the rules",
            )
        )
    return problems
