"""Competition ranking ("1, 2, 2, 4") by score descending, ties by member_id."""

from __future__ import annotations

from collections.abc import Iterator, Mapping


def rank_scores(scores: Mapping[str, int]) -> Iterator[tuple[int, str, int]]:
    """(rank, member_id, score) for every nonzero score; ties listed by member_id."""
    ordered = sorted(((-s, m) for m, s in scores.items() if s != 0))
    rank, previous = 0, None
    for position, (negative, member_id) in enumerate(ordered, start=1):
        if negative != previous:
            rank, previous = position, negative
        yield rank, member_id, -negative
