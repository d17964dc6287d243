"""Position transitions, FIFO realised PnL, average price and marks."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from qk.portfolio import TRANSITIONS, FillSize, Portfolio, PositionChange, PositionSide
from qk.schemas.enums import Side

from .conftest import BTC, INFY, NIFTY_FUT, fill


def test_transitions_when_listed_then_every_state_side_and_size_is_covered_once() -> None:
    expected = {(PositionSide.FLAT, side, FillSize.NOT_OPPOSITE) for side in Side}
    for state, same, opposite in (
        (PositionSide.LONG, Side.BUY, Side.SELL),
        (PositionSide.SHORT, Side.SELL, Side.BUY),
    ):
        expected.add((state, same, FillSize.NOT_OPPOSITE))
        expected |= {
            (state, opposite, size) for size in FillSize if size is not FillSize.NOT_OPPOSITE
        }
    assert set(TRANSITIONS) == expected


def test_apply_fill_when_flat_and_buy_then_opens_long_at_fill_price(portfolio: Portfolio) -> None:
    changed = portfolio.apply_fill(fill(Side.BUY, "60000", "0.5"))
    position = portfolio.position(1, BTC)
    assert position is not None
    assert changed.change is PositionChange.OPENED
    assert position.side is PositionSide.LONG
    assert position.quantity == 50_000
    assert position.average_price() == Fraction(60000)
    assert position.realized_pnl() == 0


def test_apply_fill_when_long_and_buy_more_then_increases_with_exact_average(
    portfolio: Portfolio,
) -> None:
    portfolio.apply_fill(fill(Side.BUY, "100", "1", instrument_id=INFY))
    changed = portfolio.apply_fill(fill(Side.BUY, "101", "2", instrument_id=INFY))
    position = portfolio.position(1, INFY)
    assert position is not None
    assert changed.change is PositionChange.INCREASED
    assert position.quantity == 3
    # (100 + 2 x 101) / 3 = 100.666..., exact, and the record field rounds it half even.
    assert position.average_price() == Fraction(302, 3)
    assert position.average_price_raw() == 100_666_667  # 100.666667: 2 price decimals + 4


def test_apply_fill_when_long_and_sell_part_then_reduces_fifo(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(Side.BUY, "100", "1", instrument_id=INFY))
    portfolio.apply_fill(fill(Side.BUY, "110", "1", instrument_id=INFY))
    changed = portfolio.apply_fill(fill(Side.SELL, "120", "1", instrument_id=INFY))
    position = portfolio.position(1, INFY)
    assert position is not None
    assert changed.change is PositionChange.REDUCED
    # FIFO: the lot bought at 100 is closed first.
    assert changed.realized_pnl == Decimal(20)
    assert position.lots == ((11_000, 1),)
    assert position.average_price() == Fraction(110)


def test_apply_fill_when_long_and_sell_all_then_closes_flat(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(Side.BUY, "100", "2", instrument_id=INFY))
    changed = portfolio.apply_fill(fill(Side.SELL, "95.5", "2", instrument_id=INFY))
    position = portfolio.position(1, INFY)
    assert position is not None
    assert changed.change is PositionChange.CLOSED
    assert position.side is PositionSide.FLAT
    assert position.average_price() is None
    assert position.realized_pnl() == Decimal("-9")
    assert position.unrealized_pnl() == 0


def test_apply_fill_when_long_and_sell_more_then_flips_short_at_fill_price(
    portfolio: Portfolio,
) -> None:
    portfolio.apply_fill(fill(Side.BUY, "100", "2", instrument_id=INFY))
    changed = portfolio.apply_fill(fill(Side.SELL, "105", "5", instrument_id=INFY))
    position = portfolio.position(1, INFY)
    assert position is not None
    assert changed.change is PositionChange.FLIPPED
    assert changed.closed_quantity == 2
    assert changed.realized_pnl == Decimal(10)
    assert position.quantity == -3
    assert position.average_price() == Fraction(105)


def test_apply_fill_when_flat_and_sell_then_opens_short_and_gains_when_price_falls(
    portfolio: Portfolio,
) -> None:
    changed = portfolio.apply_fill(fill(Side.SELL, "100", "4", instrument_id=INFY))
    assert changed.change is PositionChange.OPENED
    portfolio.mark(INFY, 9_000)
    position = portfolio.position(1, INFY)
    assert position is not None
    assert position.side is PositionSide.SHORT
    assert position.unrealized_pnl() == Decimal(40)
    changed = portfolio.apply_fill(fill(Side.BUY, "90", "1", instrument_id=INFY))
    assert changed.change is PositionChange.REDUCED
    assert changed.realized_pnl == Decimal(10)
    changed = portfolio.apply_fill(fill(Side.BUY, "120", "5", instrument_id=INFY))
    assert changed.change is PositionChange.FLIPPED
    assert changed.realized_pnl == Decimal(-60)  # 3 short at 100 bought back at 120
    assert position.quantity == 2


def test_apply_fill_when_future_has_multiplier_then_pnl_scales_by_it(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(Side.BUY, "24000", "2", instrument_id=NIFTY_FUT))
    portfolio.mark(NIFTY_FUT, 2_401_050)  # 24010.50
    position = portfolio.position(1, NIFTY_FUT)
    assert position is not None
    assert position.unrealized_pnl() == Decimal("10.5") * 2 * 75
    assert position.notional() == Decimal("24010.5") * 2 * 75
    changed = portfolio.apply_fill(fill(Side.SELL, "23990", "1", instrument_id=NIFTY_FUT))
    assert changed.realized_pnl == Decimal(-10) * 75


@pytest.mark.parametrize(
    ("prices", "expected"),
    [(("0.01", "0.02", "0.02"), Fraction(5, 300)), (("1", "2", "4"), Fraction(7, 3))],
)
def test_average_price_when_fills_at_several_prices_then_equals_exact_mean(
    portfolio: Portfolio, prices: tuple[str, ...], expected: Fraction
) -> None:
    for price in prices:
        portfolio.apply_fill(fill(Side.BUY, price, "1", instrument_id=INFY))
    position = portfolio.position(1, INFY)
    assert position is not None
    assert position.average_price() == expected
