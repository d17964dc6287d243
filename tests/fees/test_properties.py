"""Property tests of fee models: totals add up and per-order rules do not depend on splits."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qk.fees import FeeComponentKind, FeeInput, default_fee_models
from qk.schemas.enums import Product, Side

from .conftest import equity, option

INFY = equity()
_splits = st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=8)
_prices = st.integers(min_value=5, max_value=1_000_000)  # raw, 0.05 .. 10000.00


def _split_order(
    model_name: str, instrument_product: Product, price: int, parts: list[int]
) -> list[Decimal]:
    model = default_fee_models()[model_name]
    instrument = INFY if model_name.startswith("zerodha.equity") else option()
    brokerages = []
    filled = 0
    for quantity in parts:
        breakdown = model.fee(
            FeeInput(
                instrument=instrument,
                side=Side.BUY,
                price=price,
                quantity=quantity,
                product=instrument_product,
                order_filled_notional=filled * price * 10**6,  # price raw (2 dp) -> money (8 dp)
            )
        )
        assert breakdown.total == sum(c.amount for c in breakdown.components)
        assert all(c.amount >= 0 for c in breakdown.components)
        brokerages.append(breakdown.value(FeeComponentKind.BROKERAGE))
        filled += quantity
    return brokerages


@settings(max_examples=200, deadline=None)
@given(_prices, _splits)
def test_brokerage_when_order_split_into_any_fills_then_total_is_that_of_one_fill(
    price: int, parts: list[int]
) -> None:
    brokerages = _split_order("zerodha.equity.intraday", Product.INTRADAY, price, parts)
    turnover = Decimal(price).scaleb(-2) * sum(parts)
    assert sum(brokerages) == min(Decimal(20), Decimal("0.0003") * turnover)


@settings(max_examples=100, deadline=None)
@given(_prices, _splits)
def test_option_brokerage_when_order_split_into_any_fills_then_twenty_rupees_once(
    price: int, parts: list[int]
) -> None:
    brokerages = _split_order("zerodha.fno.options", Product.CARRY, price, parts)
    assert brokerages[0] == Decimal(20)
    assert sum(brokerages) == Decimal(20)
