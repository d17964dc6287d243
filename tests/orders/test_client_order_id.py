"""Deterministic client order ids: packing, the venue string form, the generator."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.orders import ClientOrderId, ClientOrderIdGenerator, InvalidClientOrderId
from qk.orders.client_order_id import (
    CLIENT_ORDER_ID_TEXT_LENGTH,
    MAX_SEQUENCE,
    MAX_STRATEGY_ID,
)

# Binance newClientOrderId rule; Kite tag at most 20 characters (VENUES.md §1.3).
BINANCE_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
KITE_TAG_MAX = 20

strategy_ids = st.integers(1, MAX_STRATEGY_ID)
sequences = st.integers(1, MAX_SEQUENCE)


def test_pack_when_strategy_and_sequence_then_high_and_low_bits() -> None:
    cid = ClientOrderId(7, 42)

    assert cid.value == (7 << 40) | 42
    assert ClientOrderId.from_int(cid.value) == cid


@given(strategy_ids, sequences)
def test_text_when_any_id_then_round_trips_and_fits_every_venue(strategy: int, seq: int) -> None:
    cid = ClientOrderId(strategy, seq)
    text = cid.to_text()

    assert ClientOrderId.from_text(text) == cid
    assert len(text) == CLIENT_ORDER_ID_TEXT_LENGTH <= KITE_TAG_MAX
    assert BINANCE_CLIENT_ID.fullmatch(text)
    assert text.isalnum()
    assert ClientOrderId.from_int(cid.value) == cid


@given(st.tuples(strategy_ids, sequences), st.tuples(strategy_ids, sequences))
def test_order_when_compared_then_text_order_matches_value_order(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    x, y = ClientOrderId(*a), ClientOrderId(*b)

    assert (x.to_text() < y.to_text()) == (x.value < y.value)


@pytest.mark.parametrize(
    ("strategy", "seq"),
    [(0, 1), (1, 0), (MAX_STRATEGY_ID + 1, 1), (1, MAX_SEQUENCE + 1), (-1, 1), (True, 1)],
)
def test_new_id_when_part_out_of_range_then_raises(strategy: int, seq: int) -> None:
    with pytest.raises(InvalidClientOrderId, match="must be an int in"):
        ClientOrderId(strategy, seq)


@pytest.mark.parametrize(
    "text",
    [
        "autoclose-123",
        "adl_autoclose",
        "qk",
        "QK0000000000001",
        "qk00000000000001x",
        "qk-000000000001",
    ],
)
def test_from_text_when_not_ours_then_raises_and_is_ours_false(text: str) -> None:
    assert not ClientOrderId.is_ours(text)
    with pytest.raises(InvalidClientOrderId, match="not a QuantKubera client order id"):
        ClientOrderId.from_text(text)


def test_from_int_when_zero_or_beyond_u64_then_raises() -> None:
    for value in (0, 1 << 64, -1):
        with pytest.raises(InvalidClientOrderId):
            ClientOrderId.from_int(value)


def test_generator_when_called_then_sequence_counts_from_last() -> None:
    ids = ClientOrderIdGenerator(7, last_sequence=41)

    assert [ids.next().sequence for _ in range(3)] == [42, 43, 44]
    assert ids.last_sequence == 44


def test_generator_when_two_runs_then_same_ids() -> None:
    first = [ClientOrderIdGenerator(3).next() for _ in range(1)]
    a, b = ClientOrderIdGenerator(3), ClientOrderIdGenerator(3)

    assert [a.next() for _ in range(5)] == [b.next() for _ in range(5)]
    assert first[0] == ClientOrderId(3, 1)


def test_generator_when_sequence_exhausted_then_raises() -> None:
    ids = ClientOrderIdGenerator(1, last_sequence=MAX_SEQUENCE)

    with pytest.raises(InvalidClientOrderId, match="used all"):
        ids.next()
