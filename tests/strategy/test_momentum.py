"""Specification of strategies/momentum.py: EMA cross on 1-minute bars, long or flat."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.instruments import Instrument
from qk.marketdata.sim import SIM_BTCUSDT
from qk.schemas.enums import BarAggregation, OrderType, Side
from qk.strategy import OrderSubmitted, RecordingContext, parse_params
from strategies.momentum import Momentum

MakeBars = Callable[[Instrument, Iterable[str]], list[np.void]]

FALLING = ["100", "99", "98", "97", "96", "95"]
RISING = ["97", "100", "104", "109", "115"]
FALLING_AGAIN = ["110", "104", "97", "90"]


def _run(
    closes: Iterable[str], make_bars: MakeBars, *, fill: bool = True, **params: object
) -> tuple[RecordingContext, list[tuple[int, OrderSubmitted]]]:
    """Feed bars; with ``fill``, play the engine by filling each order into the position.

    Returns the context and (bar index, order) for every order sent.
    """
    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 2, "slow": 4, **params}))
    strategy.on_start()
    sent: list[tuple[int, OrderSubmitted]] = []
    for index, record in enumerate(make_bars(SIM_BTCUSDT, closes)):
        ctx.clock.set(int(record["ts_event"]))
        before = len(ctx.orders)
        strategy.on_bar(record)
        for order in ctx.orders[before:]:
            sent.append((index, order))
            if fill:
                signed = order.quantity if order.side is Side.BUY else -order.quantity
                held = ctx.position(order.instrument_id).quantity
                ctx.set_position(order.instrument_id, held + signed)
    strategy.on_stop()
    return ctx, sent


def test_on_bar_when_fast_crosses_above_slow_then_buys_quantity_at_market(
    make_bars: MakeBars,
) -> None:
    ctx, sent = _run(FALLING + RISING, make_bars, quantity="0.02")
    assert len(sent) == 1
    index, order = sent[0]
    assert index == len(FALLING) + 1  # 100 after 97: the first bar where fast > slow
    assert (order.side, order.order_type, order.quantity) == (
        Side.BUY,
        OrderType.MARKET,
        Decimal("0.02"),
    )
    assert order.instrument_id == SIM_BTCUSDT.instrument_id
    assert ctx.position(SIM_BTCUSDT.instrument_id).quantity == Decimal("0.02")


def test_on_bar_when_fast_crosses_below_slow_then_sells_exactly_the_position(
    make_bars: MakeBars,
) -> None:
    ctx, sent = _run(FALLING + RISING + FALLING_AGAIN, make_bars)
    assert [o.side for _, o in sent] == [Side.BUY, Side.SELL]
    assert sent[1][1].quantity == sent[0][1].quantity
    assert ctx.position(SIM_BTCUSDT.instrument_id).is_flat


def test_on_bar_when_cross_down_with_odd_position_then_sells_that_position(
    make_bars: MakeBars,
) -> None:
    # The engine's position, not the strategy's memory, decides the exit size (partial fills).
    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 2, "slow": 4}))
    strategy.on_start()
    ctx.set_position(SIM_BTCUSDT.instrument_id, Decimal("0.00731"))
    for record in make_bars(SIM_BTCUSDT, ["100", "101", "102", "103", "104", "90"]):
        ctx.clock.set(int(record["ts_event"]))
        strategy.on_bar(record)
    assert [(o.side, o.quantity) for o in ctx.orders] == [(Side.SELL, Decimal("0.00731"))]


def test_on_bar_when_cross_up_while_long_then_no_second_entry(make_bars: MakeBars) -> None:
    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 2, "slow": 4}))
    strategy.on_start()
    ctx.set_position(SIM_BTCUSDT.instrument_id, Decimal("0.01"))
    for record in make_bars(SIM_BTCUSDT, FALLING + RISING):
        ctx.clock.set(int(record["ts_event"]))
        strategy.on_bar(record)
    assert ctx.orders == []


def test_on_bar_when_flat_and_cross_down_then_never_shorts(make_bars: MakeBars) -> None:
    _, sent = _run(["100", "101", "102", "103", "104", "90", "80"], make_bars)
    assert sent == []


def test_on_bar_when_slow_ema_warming_up_then_no_orders(make_bars: MakeBars) -> None:
    # A zigzag crosses fast over slow repeatedly, but every cross is inside the slow EMA's
    # warm-up (4 bars) or on the first warm bar (no previous spread to cross from).
    _, sent = _run(["100", "80", "120", "70"], make_bars, slow=4)
    assert sent == []
    _, sent = _run(["100", "80", "120", "70", "130"], make_bars, slow=4)
    assert [index for index, _ in sent] == [4]  # the first bar that can see a cross


# make_bars is a stateless function, so sharing it across examples is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.integers(min_value=1_000_000, max_value=9_000_000), min_size=1, max_size=40),
    st.integers(min_value=3, max_value=12),
)
def test_on_bar_when_any_prices_then_no_order_before_warm_and_sides_alternate(
    make_bars: MakeBars, cents: list[int], slow: int
) -> None:
    closes = [str(Decimal(c) / 100) for c in cents]
    ctx, sent = _run(closes, make_bars, slow=slow)
    assert all(index >= slow for index, _ in sent)  # bar `slow - 1` is the first warm one
    assert [o.side for _, o in sent] == [Side.BUY, Side.SELL] * (len(sent) // 2) + (
        [Side.BUY] if len(sent) % 2 else []
    )
    assert ctx.position(SIM_BTCUSDT.instrument_id).quantity in (Decimal(0), Decimal("0.01"))


def test_on_bar_when_other_timeframe_or_tick_bars_then_ignored(
    make_bar: Callable[..., np.void],
) -> None:
    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 2, "slow": 4}))
    strategy.on_start()
    for index, close in enumerate(FALLING + RISING):
        strategy.on_bar(make_bar(SIM_BTCUSDT, close, index, timeframe_ns=300_000_000_000))
        strategy.on_bar(make_bar(SIM_BTCUSDT, close, index, aggregation=BarAggregation.TICK))
    assert ctx.orders == []


def test_on_start_when_fast_not_shorter_than_slow_then_refuses() -> None:
    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 5, "slow": 5}))
    with pytest.raises(ValueError, match="fast \\(5\\) must be shorter than slow \\(5\\)"):
        strategy.on_start()
