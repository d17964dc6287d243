"""``--param`` search-space parsing."""

from __future__ import annotations

import optuna
import pytest

from qk.research import ResearchError, ResearchErrorReason
from qk.research.space import parse_space


def test_ranges_and_choices() -> None:
    space = parse_space(["fast=5:8", "slow=20:40:10", "quantity=0.01,0.02", "r=0.1:0.3:0.05"])
    assert space.names == ("fast", "slow", "quantity", "r")
    fast, slow, quantity, ratio = space.dimensions
    assert (fast.kind, fast.values) == ("int", ("5", "6", "7", "8"))
    assert slow.values == ("20", "30", "40")
    assert (quantity.kind, quantity.values) == ("choice", ("0.01", "0.02"))
    assert (ratio.kind, ratio.values) == ("decimal", ("0.10", "0.15", "0.20", "0.25", "0.30"))
    assert space.grid_size() == 4 * 3 * 2 * 5
    points = list(space.points())
    assert len(points) == space.grid_size()
    assert points[0] == {"fast": "5", "slow": "20", "quantity": "0.01", "r": "0.10"}
    assert space.grid()["fast"] == [5, 6, 7, 8]


def test_suggestions_stay_on_the_grid_as_text() -> None:
    space = parse_space(["fast=2:4", "r=0.1:0.2:0.05"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(20):
        trial = study.ask()
        point = space.suggest(trial)
        assert point["fast"] in {"2", "3", "4"}
        assert point["r"] in {"0.10", "0.15", "0.20"}
        study.tell(trial, 0.0)


@pytest.mark.parametrize(
    ("items", "needle"),
    [
        ([], "no --param"),
        (["fast"], "expected NAME="),
        (["fast=1:2:3:4"], "LOW:HIGH"),
        (["fast=9:2"], "LOW <= HIGH"),
        (["fast=1:5:0"], "positive STEP"),
        (["r=0.1:0.5"], "needs a step"),
        (["fast=a:5"], "not a number"),
        (["q=1,,2"], "non-empty"),
        (["fast=1:3", "fast=4:5"], "given twice"),
        (["fast=1:100000000"], "too many"),
    ],
)
def test_bad_spaces_name_the_item(items: list[str], needle: str) -> None:
    with pytest.raises(ResearchError, match=needle) as caught:
        parse_space(items)
    assert caught.value.reason is ResearchErrorReason.BAD_SPACE
