"""Reciprocity (RULES.md "Reciprocity (gaming detection)"): concentrated pairs and rings."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import permutations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.reciprocity import Finding, Recognition, find_reciprocity

START = datetime(2025, 3, 3, tzinfo=UTC)
END = START + timedelta(days=7)
BOUNDED = settings(max_examples=50, deadline=None)


class Gifts:
    """Recognitions with sequential ids, as a test writes them down."""

    def __init__(self) -> None:
        self.items: list[Recognition] = []

    def give(
        self,
        giver: str,
        receiver: str,
        times: int = 1,
        points: int = 5,
        at: datetime = START + timedelta(days=1),
        reversed: bool = False,
    ) -> list[str]:
        ids = []
        for _ in range(times):
            recognition_id = f"r{len(self.items):04d}"
            self.items.append(Recognition(recognition_id, giver, receiver, points, at, reversed))
            ids.append(recognition_id)
        return ids

    def findings(self, start: datetime | None = START, end: datetime | None = END) -> list[Finding]:
        return find_reciprocity(self.items, start, end)


# --- examples ---------------------------------------------------------------------------------


def test_given_a_concentrated_pair_when_detecting_then_one_pair_with_counts_points_evidence() -> (
    None
):
    gifts = Gifts()
    there = gifts.give("bo", "ana", 3, points=5)
    back = gifts.give("ana", "bo", 4, points=10)
    gifts.give("ana", "cy", 4)  # ana gave bo exactly half: still concentrated
    gifts.give("bo", "cy", 1)

    assert gifts.findings() == [
        Finding(
            kind="pair",
            members=["ana", "bo"],
            recognitions=7,
            points=3 * 5 + 4 * 10,
            evidence=sorted(there + back),
        )
    ]


def test_given_three_gifts_under_half_of_the_givers_then_the_edge_is_not_concentrated() -> None:
    gifts = Gifts()
    gifts.give("ana", "bo", 3)
    gifts.give("ana", "cy", 2)
    gifts.give("ana", "dee", 2)  # 3 of 7 is under half
    gifts.give("bo", "ana", 3)

    assert gifts.findings() == []


def test_given_two_gifts_each_way_then_no_pair() -> None:
    gifts = Gifts()
    gifts.give("ana", "bo", 2)
    gifts.give("bo", "ana", 2)

    assert gifts.findings() == []


def test_given_a_ring_of_three_then_it_is_found_once_with_sorted_members() -> None:
    gifts = Gifts()
    ids = gifts.give("cy", "ana", 3, points=1)
    ids += gifts.give("ana", "bo", 3, points=2)
    ids += gifts.give("bo", "cy", 4, points=3)

    assert gifts.findings() == [
        Finding("ring", ["ana", "bo", "cy"], 10, 3 * 1 + 3 * 2 + 4 * 3, sorted(ids))
    ]


def test_given_a_ring_of_four_then_it_is_found_once_with_sorted_members() -> None:
    gifts = Gifts()
    ids: list[str] = []
    for giver, receiver in [("dee", "bo"), ("bo", "ana"), ("ana", "cy"), ("cy", "dee")]:
        ids += gifts.give(giver, receiver, 3)
    gifts.give("ana", "eli", 2)  # dilutes ana's edge, but not below half

    assert gifts.findings() == [Finding("ring", ["ana", "bo", "cy", "dee"], 12, 60, sorted(ids))]


def test_given_a_four_cycle_sharing_edges_with_a_three_cycle_then_both_are_findings() -> None:
    gifts = Gifts()
    ab = gifts.give("a", "b", 3)
    bc = gifts.give("b", "c", 3)
    ca = gifts.give("c", "a", 3)  # c gives half to a and half to d
    cd = gifts.give("c", "d", 3)
    da = gifts.give("d", "a", 3)

    assert gifts.findings() == [
        Finding("ring", ["a", "b", "c"], 9, 45, sorted(ab + bc + ca)),
        Finding("ring", ["a", "b", "c", "d"], 12, 60, sorted(ab + bc + cd + da)),
    ]


def test_given_a_pair_inside_a_ring_then_pairs_come_first_then_rings() -> None:
    gifts = Gifts()
    bc = gifts.give("b", "c", 3)
    cb = gifts.give("c", "b", 3)  # c gives half back to b and half on to a
    ca = gifts.give("c", "a", 3)
    ab = gifts.give("a", "b", 3)

    assert gifts.findings() == [
        Finding("pair", ["b", "c"], 6, 30, sorted(bc + cb)),
        Finding("ring", ["a", "b", "c"], 9, 45, sorted(ab + bc + ca)),
    ]


def test_given_reversed_recognitions_then_they_neither_count_nor_dilute() -> None:
    gifts = Gifts()
    gifts.give("ana", "bo", 3)
    gifts.give("bo", "ana", 2)
    gifts.give("bo", "ana", 1, reversed=True)
    assert gifts.findings() == []

    gifts = Gifts()
    ids = gifts.give("ana", "bo", 3) + gifts.give("bo", "ana", 3)
    gifts.give("ana", "cy", 10, reversed=True)
    assert [f.evidence for f in gifts.findings()] == [sorted(ids)]


def test_given_a_period_then_start_is_included_and_end_is_excluded() -> None:
    gifts = Gifts()
    ids = gifts.give("ana", "bo", 3, at=START)
    ids += gifts.give("bo", "ana", 3, at=END - timedelta(microseconds=1))
    gifts.give("ana", "cy", 5, at=START - timedelta(microseconds=1))
    gifts.give("ana", "cy", 5, at=END)
    assert [f.evidence for f in gifts.findings()] == [sorted(ids)]

    gifts = Gifts()
    gifts.give("ana", "bo", 3, at=START)
    gifts.give("bo", "ana", 2, at=START)
    gifts.give("bo", "ana", 1, at=END)
    assert gifts.findings() == []
    assert len(gifts.findings(end=None)) == 1


def test_given_no_bounds_then_every_recognition_counts() -> None:
    gifts = Gifts()
    gifts.give("ana", "bo", 3, at=START - timedelta(days=400))
    gifts.give("bo", "ana", 3, at=END + timedelta(days=400))

    assert gifts.findings(start=None, end=None)[0].members == ["ana", "bo"]
    assert gifts.findings() == []


def test_given_a_self_recognition_then_it_is_ignored() -> None:
    gifts = Gifts()
    ids = gifts.give("ana", "bo", 3) + gifts.give("bo", "ana", 3)
    gifts.give("ana", "ana", 10)

    assert [f.evidence for f in gifts.findings()] == [sorted(ids)]


def test_given_a_finding_then_its_json_follows_the_api_contract() -> None:
    gifts = Gifts()
    gifts.give("bo", "ana", 3, points=2)
    gifts.give("ana", "bo", 3, points=4)

    (finding,) = gifts.findings()
    document = json.loads(json.dumps({"findings": [finding.to_dict()]}))

    assert list(document["findings"][0]) == [
        "kind",
        "members",
        "recognitions",
        "points",
        "evidence",
    ]
    assert document == {
        "findings": [
            {
                "kind": "pair",
                "members": ["ana", "bo"],
                "recognitions": 6,
                "points": 18,
                "evidence": ["r0000", "r0001", "r0002", "r0003", "r0004", "r0005"],
            }
        ]
    }


# --- generated companies ----------------------------------------------------------------------

moments = st.integers(0, 7 * 24 * 60 - 1).map(lambda minutes: START + timedelta(minutes=minutes))


@st.composite
def companies(draw: st.DrawFn, ring_size: int) -> tuple[list[Recognition], list[str], list[str]]:
    """An ordinary company, with a planted ring of ring_size members (0: none).

    Everyone spreads what they give over at least 3 distinct peers, q or q + 1 each: the
    largest edge is q + 1 of at least 3q + 1, under half unless q = 1, where it is only 2.
    Ring members ordinarily give only outside the ring, so the planted gifts alone lie on the
    ring's edges; each planted edge gets at least 3 and at least what its giver gave before,
    so it is at least half. Returns (recognitions in a shuffled order, ring in cycle order,
    planted ids).
    """
    names = [f"m{i:02d}" for i in range(ring_size + draw(st.integers(4, 8)))]
    shuffled = draw(st.permutations(names))  # the ring's cycle order need not be sorted
    ring, others = shuffled[:ring_size], shuffled[ring_size:]
    gifts = Gifts()
    for giver in names:
        pool = [m for m in (others if giver in ring else names) if m != giver]
        peers = draw(st.lists(st.sampled_from(pool), min_size=3, max_size=5, unique=True))
        base = draw(st.integers(1, 3))
        for peer in peers:
            times = base + draw(st.integers(0, 1))
            gifts.give(giver, peer, times, points=draw(st.integers(1, 20)), at=draw(moments))
    given_before = Counter(r.from_member for r in gifts.items)
    planted: list[str] = []
    for position, giver in enumerate(ring):
        receiver = ring[(position + 1) % ring_size]
        times = max(3, given_before[giver]) + draw(st.integers(0, 2))
        planted += gifts.give(giver, receiver, times, points=draw(st.integers(1, 20)))
    # Noise the rule must ignore: reversed gifts and gifts outside the period, on ring edges too.
    for giver, receiver in draw(st.lists(st.permutations(names).map(lambda p: p[:2]), max_size=5)):
        gifts.give(giver, receiver, 3, reversed=True)
        gifts.give(giver, receiver, 3, at=END)
        gifts.give(giver, receiver, 3, at=START - timedelta(seconds=1))
    order = draw(st.permutations(range(len(gifts.items))))
    return [gifts.items[i] for i in order], list(ring), planted


@BOUNDED
@given(companies(ring_size=0))
def test_given_an_ordinary_company_then_nothing_is_found(
    company: tuple[list[Recognition], list[str], list[str]],
) -> None:
    recognitions, _, _ = company

    assert find_reciprocity(recognitions, START, END) == []


@BOUNDED
@given(st.sampled_from([2, 3, 4]).flatmap(lambda size: companies(ring_size=size)))
def test_given_a_planted_pair_or_ring_then_exactly_it_is_found_with_its_gifts_as_evidence(
    company: tuple[list[Recognition], list[str], list[str]],
) -> None:
    recognitions, ring, planted = company
    points = {r.recognition_id: r.points for r in recognitions}

    assert find_reciprocity(recognitions, START, END) == [
        Finding(
            kind="pair" if len(ring) == 2 else "ring",
            members=sorted(ring),
            recognitions=len(planted),
            points=sum(points[i] for i in planted),
            evidence=sorted(planted),
        )
    ]


# --- brute force ------------------------------------------------------------------------------


def naive_findings(
    recognitions: list[Recognition], start: datetime | None, end: datetime | None
) -> list[dict[str, object]]:
    """RULES.md read literally: every permutation of 2, 3, 4 members, cycles kept once."""
    live = [
        r
        for r in recognitions
        if not r.reversed
        and (start is None or r.occurred_at >= start)
        and (end is None or r.occurred_at < end)
        and r.from_member != r.to_member
    ]

    def on(a: str, b: str) -> list[Recognition]:
        return [r for r in live if r.from_member == a and r.to_member == b]

    def concentrated(a: str, b: str) -> bool:
        given_a = sum(1 for r in live if r.from_member == a)
        return len(on(a, b)) >= 3 and len(on(a, b)) >= 0.5 * given_a

    members = sorted({r.from_member for r in live} | {r.to_member for r in live})
    seen: set[tuple[str, ...]] = set()
    found: list[dict[str, object]] = []
    for size in (2, 3, 4):
        for cycle in permutations(members, size):
            edges = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
            rotation = min(cycle[i:] + cycle[:i] for i in range(size))
            if rotation in seen or not all(concentrated(a, b) for a, b in edges):
                continue
            seen.add(rotation)
            on_edges = [r for a, b in edges for r in on(a, b)]
            found.append(
                {
                    "kind": "pair" if size == 2 else "ring",
                    "members": sorted(cycle),
                    "recognitions": len(on_edges),
                    "points": sum(r.points for r in on_edges),
                    "evidence": sorted(r.recognition_id for r in on_edges),
                }
            )
    found.sort(key=lambda f: (f["kind"] != "pair", f["members"], f["evidence"]))
    return found


@st.composite
def small_histories(
    draw: st.DrawFn,
) -> tuple[list[Recognition], datetime | None, datetime | None]:
    """A few members; a cycle seeded among random edges, so that findings are common."""
    members = "abcdef"[: draw(st.integers(2, 6))]
    seed = draw(st.permutations(members))[: draw(st.sampled_from([2, 3, 4, 4]))]
    edges = [(a, b, 3) for a, b in zip(seed, seed[1:] + seed[:1], strict=True)]
    possible = [(a, b, 1) for a in members for b in members if a != b]
    edges += draw(st.lists(st.sampled_from(possible), max_size=4))
    gifts = Gifts()
    for giver, receiver, fewest in edges:
        for _ in range(draw(st.integers(fewest, 6))):
            gifts.give(
                giver,
                receiver,
                points=draw(st.integers(1, 20)),
                at=START + timedelta(days=draw(st.integers(0, 6) | st.sampled_from([-1, 7]))),
                reversed=draw(st.integers(0, 9)) == 0,
            )
    start = draw(st.none() | st.integers(0, 1).map(lambda d: START + timedelta(days=d)))
    end = draw(st.none() | st.integers(6, 7).map(lambda d: START + timedelta(days=d)))
    order = draw(st.permutations(range(len(gifts.items))))
    return [gifts.items[i] for i in order], start, end


@settings(max_examples=200, deadline=None)
@given(small_histories())
def test_given_small_histories_then_findings_equal_the_brute_force_reading(
    history: tuple[list[Recognition], datetime | None, datetime | None],
) -> None:
    recognitions, start, end = history

    found = [f.to_dict() for f in find_reciprocity(recognitions, start, end)]

    assert found == naive_findings(recognitions, start, end)
