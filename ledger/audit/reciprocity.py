"""Reciprocity (RULES.md "Reciprocity (gaming detection)"): pairs and rings of concentrated
recognitions.

Findings are signals for a person to judge; nothing here reverses anything.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A concentrated edge needs at least this many recognitions, and at least half of its giver's.
MIN_EDGE_RECOGNITIONS = 3
# Cycles longer than this are not findings (RULES.md: rings of 3 or 4 members).
MAX_CYCLE_MEMBERS = 4

PAIR = "pair"
RING = "ring"


@dataclass(frozen=True)
class Recognition:
    recognition_id: str
    from_member: str
    to_member: str
    points: int
    occurred_at: datetime  # timezone-aware UTC
    reversed: bool = False


@dataclass(frozen=True)
class Finding:
    kind: str  # "pair" or "ring"
    members: list[str]  # sorted
    recognitions: int  # how many recognitions lie on the finding's edges
    points: int  # their points
    evidence: list[str]  # their recognition ids, sorted

    def to_dict(self) -> dict[str, Any]:
        """The API.md `ledger detect --json` object, keys in the documented order."""
        return {
            "kind": self.kind,
            "members": list(self.members),
            "recognitions": self.recognitions,
            "points": self.points,
            "evidence": list(self.evidence),
        }


def find_reciprocity(
    recognitions: Iterable[Recognition],
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Finding]:
    """Pair and ring findings over the unreversed recognitions in [start, end).

    start inclusive, end exclusive; None = unbounded. Deterministic order: pairs first then
    rings, each sorted by members (then by evidence, which tells apart the two directions of
    a ring over the same members).
    """
    edges: defaultdict[tuple[str, str], list[Recognition]] = defaultdict(list)
    given: Counter[str] = Counter()
    for recognition in recognitions:
        if recognition.reversed:
            continue
        if start is not None and recognition.occurred_at < start:
            continue
        if end is not None and recognition.occurred_at >= end:
            continue
        # Self-recognitions are refused upstream; should one slip through it is no gaming
        # signal and must not dilute the giver's other edges either.
        if recognition.from_member == recognition.to_member:
            continue
        given[recognition.from_member] += 1
        edges[(recognition.from_member, recognition.to_member)].append(recognition)

    concentrated: defaultdict[str, list[str]] = defaultdict(list)
    for (giver, receiver), on_edge in edges.items():
        count = len(on_edge)
        # Integer form of n >= 0.5 * given: no float rounding at the boundary.
        if count >= MIN_EDGE_RECOGNITIONS and 2 * count >= given[giver]:
            concentrated[giver].append(receiver)

    findings = [
        _finding(cycle, edges)
        for giver in sorted(concentrated)
        for cycle in _cycles_from(giver, concentrated)
    ]
    findings.sort(key=lambda f: (f.kind != PAIR, f.members, f.evidence))
    return findings


def _cycles_from(first: str, concentrated: dict[str, list[str]]) -> list[tuple[str, ...]]:
    """Every concentrated cycle of 2..MAX_CYCLE_MEMBERS members whose smallest member is first.

    Rooting each cycle at its smallest member yields it exactly once, not once per rotation.
    Each member has at most two concentrated out-edges (each needs half of what it gave), so
    this search visits at most 2 + 4 + 8 paths per root.
    """
    found: list[tuple[str, ...]] = []
    path = [first]

    def extend() -> None:
        for receiver in concentrated.get(path[-1], ()):
            if receiver == first and len(path) >= 2:
                found.append(tuple(path))
            elif receiver > first and receiver not in path and len(path) < MAX_CYCLE_MEMBERS:
                path.append(receiver)
                extend()
                path.pop()

    extend()
    return found


def _finding(cycle: tuple[str, ...], edges: dict[tuple[str, str], list[Recognition]]) -> Finding:
    on_edges = [
        recognition
        for giver, receiver in zip(cycle, cycle[1:] + cycle[:1], strict=True)
        for recognition in edges[(giver, receiver)]
    ]
    return Finding(
        kind=PAIR if len(cycle) == 2 else RING,
        members=sorted(cycle),
        recognitions=len(on_edges),
        points=sum(r.points for r in on_edges),
        evidence=sorted(r.recognition_id for r in on_edges),
    )
