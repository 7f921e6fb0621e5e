"""Values and strategy revisions (RULES.md "Values and strategy")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledger.aggregates.strategy import target_weights
from ledger.commands.strategy import DefineValue, RetireValue, ReviseStrategy
from tests.support import World, days, refused


def goals(**links: dict[str, float]) -> list[dict]:
    return [{"key": k, "title": k, "weight": 1, "values": v} for k, v in links.items()]


def test_target_weights_follow_the_formula_and_sum_to_one() -> None:
    weights = target_weights(
        [
            {"key": "cx", "weight": 3, "values": {"customer-focus": 2, "ownership": 1}},
            {"key": "grow", "weight": 1, "values": {"innovation": 1, "ownership": 1}},
        ]
    )
    assert weights == pytest.approx(
        {"customer-focus": 0.5, "ownership": 0.25 + 0.125, "innovation": 0.125}
    )
    assert sum(weights.values()) == pytest.approx(1.0)


def test_revisions_are_numbered_and_must_move_forward_in_time(world: World) -> None:
    now = world.clock.now()
    first = world.run(
        ReviseStrategy(effective_from=now - days(30), goals=goals(cx={"customer-focus": 1}))
    )
    assert first["version"] == 1
    refused(
        world, ReviseStrategy(effective_from=now - days(30), goals=goals(cx={"ownership": 1})), 409
    )
    second = world.run(
        ReviseStrategy(effective_from=now - days(10), goals=goals(cx={"ownership": 1}))
    )
    assert second["version"] == 2


def test_revision_uses_known_active_values(world: World) -> None:
    now = world.clock.now()
    refused(world, ReviseStrategy(effective_from=now, goals=goals(cx={"nope": 1})), 422)
    world.run(RetireValue(key="innovation"))
    refused(world, ReviseStrategy(effective_from=now, goals=goals(cx={"innovation": 1})), 409)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [
            {"key": f"g{i}", "title": "g", "weight": 1, "values": {"ownership": 1}}
            for i in range(13)
        ],
        [{"key": "g", "title": "g", "weight": 0, "values": {"ownership": 1}}],
        [{"key": "g", "title": "g", "weight": 1, "values": {}}],
        [{"key": "g", "title": "g", "weight": 1, "values": {"ownership": 0}}],
        [{"key": "g", "title": "g", "weight": 1, "values": {f"v{i}": 1 for i in range(7)}}],
        [{"key": "g", "title": "g", "weight": 1, "values": {"ownership": 1}}] * 2,
    ],
)
def test_revision_shape_is_validated(bad: list[dict]) -> None:
    from tests.support import NOW

    with pytest.raises(ValidationError):
        ReviseStrategy(effective_from=NOW, goals=bad)


def test_value_keys_are_validated_and_unique(world: World) -> None:
    with pytest.raises(ValidationError):
        DefineValue(key="Bad Key", name="x")
    refused(world, DefineValue(key="ownership", name="again"), 409)


def test_retire_unknown_is_404_and_twice_is_409(world: World) -> None:
    refused(world, RetireValue(key="nope"), 404)
    world.run(RetireValue(key="ownership"))
    refused(world, RetireValue(key="ownership"), 409)


def test_revision_in_force_is_the_latest_effective_at_the_moment(world: World) -> None:
    now = world.clock.now()
    world.run(ReviseStrategy(effective_from=now - days(30), goals=goals(cx={"customer-focus": 1})))
    world.run(ReviseStrategy(effective_from=now - days(10), goals=goals(cx={"ownership": 1})))
    strategy = world.ledger.strategy("acme")
    assert strategy.revision_at(now - days(31)) is None
    assert strategy.revision_at(now - days(30)).version == 1  # type: ignore[union-attr]
    assert strategy.revision_at(now - days(10)).version == 2  # type: ignore[union-attr]
