"""L2Levels (the compiled level arrays) and the exact decimal parser."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.books._book import L2Levels, parse_decimal, parse_level_pairs
from qk.schemas.fixed import FixedPointError, FixedPointOverflowError, PrecisionLossError, to_raw

BID, ASK = 0, 1


def arr(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_apply_sets_levels_and_best_is_highest_bid_lowest_ask() -> None:
    levels = L2Levels()
    levels.apply(BID, arr(100, 102, 101), arr(1, 2, 3))
    levels.apply(ASK, arr(105, 103, 104), arr(4, 5, 6))
    assert levels.best(BID) == (102, 2)
    assert levels.best(ASK) == (103, 5)
    assert levels.level_count(BID) == 3
    assert levels.level_count(ASK) == 3


def test_zero_size_removes_level_and_unknown_delete_is_ignored() -> None:
    levels = L2Levels()
    levels.apply(BID, arr(100, 101), arr(1, 2))
    levels.apply(BID, arr(101, 999), arr(0, 0))
    assert levels.best(BID) == (100, 1)
    assert levels.level_count(BID) == 1
    assert levels.size_at(BID, 101) == 0


def test_update_replaces_size_absolutely() -> None:
    levels = L2Levels()
    levels.apply(ASK, arr(200), arr(5))
    levels.apply(ASK, arr(200), arr(7))
    assert levels.size_at(ASK, 200) == 7
    assert levels.level_count(ASK) == 1


def test_top_copies_best_first_and_returns_count() -> None:
    levels = L2Levels()
    levels.apply(BID, arr(10, 30, 20), arr(1, 3, 2))
    levels.apply(ASK, arr(50, 40), arr(5, 4))
    prices = np.zeros(4, dtype=np.int64)
    sizes = np.zeros(4, dtype=np.int64)
    assert levels.top(BID, prices, sizes) == 3
    assert prices[:3].tolist() == [30, 20, 10]
    assert sizes[:3].tolist() == [3, 2, 1]
    assert levels.top(ASK, prices, sizes) == 2
    assert prices[:2].tolist() == [40, 50]


def test_crossed_when_best_bid_reaches_best_ask() -> None:
    levels = L2Levels()
    levels.apply(BID, arr(100), arr(1))
    levels.apply(ASK, arr(101), arr(1))
    assert not levels.is_crossed()
    levels.apply(BID, arr(101), arr(1))
    assert levels.is_crossed()


def test_invalid_batch_is_refused_without_changing_the_book() -> None:
    levels = L2Levels()
    levels.apply(BID, arr(100), arr(1))
    with pytest.raises(ValueError, match="level 1"):
        levels.apply(BID, arr(101, 102), arr(1, -1))
    with pytest.raises(ValueError, match="level 0"):
        levels.apply(BID, arr(0), arr(1))
    assert levels.level_count(BID) == 1
    with pytest.raises(ValueError, match="side must be 0"):
        levels.apply(2, arr(1), arr(1))


def test_growth_beyond_initial_capacity() -> None:
    levels = L2Levels(2)
    prices = np.arange(1, 5001, dtype=np.int64)
    levels.apply(ASK, prices, np.ones(5000, dtype=np.int64))
    assert levels.level_count(ASK) == 5000
    assert levels.best(ASK) == (1, 1)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([BID, ASK]),
            st.lists(st.tuples(st.integers(1, 60), st.integers(0, 5)), max_size=20),
        ),
        max_size=40,
    )
)
def test_levels_equal_a_dict_reference(batches: list[tuple[int, list[tuple[int, int]]]]) -> None:
    levels = L2Levels(1)
    reference: list[dict[int, int]] = [{}, {}]
    for side, updates in batches:
        levels.apply(side, arr(*(p for p, _ in updates)), arr(*(s for _, s in updates)))
        for price, size in updates:
            if size:
                reference[side][price] = size
            else:
                reference[side].pop(price, None)
    for side, descending in ((BID, True), (ASK, False)):
        expected = sorted(reference[side].items(), reverse=descending)
        prices = np.zeros(100, dtype=np.int64)
        sizes = np.zeros(100, dtype=np.int64)
        count = levels.top(side, prices, sizes)
        assert list(zip(prices[:count].tolist(), sizes[:count].tolist(), strict=True)) == expected


@pytest.mark.parametrize(
    ("text", "precision", "raw"),
    [
        ("20377.00", 2, 2037700),
        ("0.00100000", 5, 100),
        ("100", 0, 100),
        ("4.00000200", 8, 400000200),
        ("-1.5", 1, -15),
        (".5", 1, 5),
        ("0", 18, 0),
        ("9223372036854775807", 0, 2**63 - 1),
    ],
)
def test_parse_decimal_is_exact(text: str, precision: int, raw: int) -> None:
    assert parse_decimal(text, precision) == raw


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1.234", PrecisionLossError),
        ("1e5", FixedPointError),
        ("", FixedPointError),
        (".", FixedPointError),
        (" 1", FixedPointError),
        ("1.2.3", FixedPointError),
        ("99999999999999999999", FixedPointOverflowError),
    ],
)
def test_parse_decimal_refuses_what_it_cannot_store_exactly(text: str, error: type) -> None:
    with pytest.raises(error):
        parse_decimal(text, 2)


def test_parse_decimal_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="decimal string"):
        parse_decimal(1.5, 2)  # type: ignore[arg-type]


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9
    )
)
def test_parse_decimal_agrees_with_fixed_to_raw(value: Decimal) -> None:
    text = f"{value:f}"
    assert parse_decimal(text, 6) == to_raw(text, 6)


def test_parse_level_pairs_names_the_bad_level() -> None:
    prices, sizes = parse_level_pairs([["1.50", "2"], ["1.25", "0.000"]], 2, 3)
    assert prices.tolist() == [150, 125]
    assert sizes.tolist() == [2000, 0]
    with pytest.raises(PrecisionLossError, match="level 1 price"):
        parse_level_pairs([["1.5", "1"], ["1.255", "1"]], 2, 3)
    with pytest.raises(ValueError, match="level 0: expected"):
        parse_level_pairs([["1.5"]], 2, 3)
    with pytest.raises(ValueError, match="must be > 0"):
        parse_level_pairs([["0", "1"]], 2, 3)
    with pytest.raises(ValueError, match="must be >= 0"):
        parse_level_pairs([["1", "-1"]], 2, 3)
