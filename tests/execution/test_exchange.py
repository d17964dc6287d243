"""The simulated exchange, as a specification: arrival, matching, time in force, commands."""

from __future__ import annotations

import pytest

from qk.execution import (
    FillModel,
    FixedLatency,
    InvalidCommand,
    InvalidMarketData,
    LimitFillRule,
    SimulatedExchange,
    TimeWentBackwards,
    UniformLatency,
)
from qk.fees import FeeInput, default_fee_models
from qk.orders import ClientOrderId, Order, OrderEventKind, OrderStatus
from qk.schemas import new_records
from qk.schemas.enums import (
    LiquiditySide,
    OrderFlag,
    OrderType,
    Product,
    RejectReason,
    Side,
    TimeInForce,
)
from tests.execution.conftest import IID, INFY, MS, exchange, fills, kinds, order

E = OrderEventKind
S = OrderStatus


# ---------------------------------------------------------------------------- no look-ahead
def test_market_order_when_decided_on_trade_k_then_fills_at_trade_k_plus_1() -> None:
    ex = exchange()
    ex.process_trade(IID, 1 * MS, 100_00, 50)  # trade k: the decision is made on it
    buy = order(quantity=10)
    assert kinds(ex.submit_order(buy, 1 * MS)) == [E.SUBMITTED]
    events = ex.process_trade(IID, 2 * MS, 101_00, 50)  # trade k+1
    assert kinds(events) == [E.ACCEPTED, E.FILLED]
    assert fills(events) == [(101_00, 10)]
    assert buy.status is S.FILLED


def test_market_order_when_next_trade_has_same_timestamp_then_fills_there_not_at_decision() -> None:
    ex = exchange()
    ex.process_trade(IID, 5 * MS, 100_00, 50)
    buy = order()
    ex.submit_order(buy, 5 * MS)
    assert fills(ex.process_trade(IID, 5 * MS, 100_50, 50)) == [(100_50, 10)]


def test_command_when_stamped_before_processed_market_then_raises_time_went_backwards() -> None:
    ex = exchange()
    ex.process_trade(IID, 10 * MS, 100_00, 50)
    with pytest.raises(TimeWentBackwards, match="before the exchange clock"):
        ex.submit_order(order(), 9 * MS)
    with pytest.raises(TimeWentBackwards):
        ex.process_trade(IID, 9 * MS, 100_00, 50)


# ---------------------------------------------------------------------------- latency
def test_market_order_when_latency_is_5ms_then_trades_before_arrival_do_not_fill_it() -> None:
    ex = exchange(latency=FixedLatency(5 * MS))
    buy = order()
    ex.submit_order(buy, 0)
    assert ex.process_trade(IID, 4 * MS, 99_00, 50) == []
    assert buy.status is S.SUBMITTED
    events = ex.process_trade(IID, 6 * MS, 101_00, 50)
    assert kinds(events) == [E.ACCEPTED, E.FILLED]
    assert events[0].ts_event == 5 * MS  # accepted on arrival
    assert fills(events) == [(101_00, 10)]


def test_uniform_latency_when_same_seed_then_same_draws_within_bounds() -> None:
    first = UniformLatency(1 * MS, 3 * MS, seed=42)
    second = UniformLatency(1 * MS, 3 * MS, seed=42)
    draws = [first.next_latency() for _ in range(200)]
    assert draws == [second.next_latency() for _ in range(200)]
    assert all(1 * MS <= d <= 3 * MS for d in draws)
    assert len(set(draws)) > 1


def test_commands_when_sampled_latency_then_a_cancel_never_overtakes_its_submit() -> None:
    ex = exchange(latency=UniformLatency(0, 10 * MS, seed=7))
    for step in range(20):
        buy = order(order_type=OrderType.LIMIT, price=90_00)
        ex.submit_order(buy, step * 20 * MS)
        ex.cancel_order(buy.client_order_id.value, step * 20 * MS)
        ex.advance_to(step * 20 * MS + 19 * MS)
        assert [e.kind for e in buy.events][-2:] == [E.ACCEPTED, E.CANCELED]


# ---------------------------------------------------------------------------- slippage
@pytest.mark.parametrize(
    ("side", "model", "expected"),
    [
        (Side.BUY, FillModel(slippage_ticks=2), 100_10),
        (Side.SELL, FillModel(slippage_ticks=2), 99_90),
        # 3 bps of 100.00 = 0.03, rounded to the 0.05 tick against the trader: 0.05.
        (Side.BUY, FillModel(slippage_bps=3), 100_05),
        (Side.SELL, FillModel(slippage_bps=3), 99_95),
        (Side.BUY, FillModel(slippage_bps=10, slippage_ticks=1), 100_15),
    ],
)
def test_market_order_when_slippage_then_price_moves_against_the_trader_on_the_tick(
    side: Side, model: FillModel, expected: int
) -> None:
    ex = exchange(fill_model=model)
    ex.submit_order(order(side), 0)
    events = ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert fills(events) == [(expected, 10)]
    assert events[-1].fill is not None and events[-1].fill.liquidity is LiquiditySide.TAKER


def test_marketable_limit_when_slippage_then_fill_is_capped_at_the_limit() -> None:
    ex = exchange(fill_model=FillModel(slippage_ticks=4))
    ex.submit_order(order(order_type=OrderType.LIMIT, price=100_10), 0)
    assert fills(ex.process_trade(IID, 1 * MS, 100_00, 50)) == [(100_10, 10)]


# ---------------------------------------------------------------------------- limit orders
def _resting_buy(rule: LimitFillRule) -> tuple[SimulatedExchange, Order]:
    ex = exchange(fill_model=FillModel(limit_fill=rule))
    buy = order(order_type=OrderType.LIMIT, price=99_00)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 50)  # first look: not marketable, rests
    return ex, buy


def test_resting_limit_when_through_rule_and_market_touches_then_no_fill() -> None:
    ex, _ = _resting_buy(LimitFillRule.THROUGH)
    assert ex.process_trade(IID, 2 * MS, 99_00, 50) == []
    events = ex.process_trade(IID, 3 * MS, 98_95, 50)
    assert fills(events) == [(99_00, 10)]  # at its limit, not the better trade price
    assert events[-1].fill is not None and events[-1].fill.liquidity is LiquiditySide.MAKER


def test_resting_limit_when_touch_rule_and_market_touches_then_fills_at_limit() -> None:
    ex, _ = _resting_buy(LimitFillRule.TOUCH)
    assert fills(ex.process_trade(IID, 2 * MS, 99_00, 50)) == [(99_00, 10)]


def test_resting_sell_limit_when_market_trades_below_then_no_fill() -> None:
    ex = exchange(fill_model=FillModel(limit_fill=LimitFillRule.TOUCH))
    sell = order(Side.SELL, OrderType.LIMIT, price=101_00)
    ex.submit_order(sell, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert ex.process_trade(IID, 2 * MS, 100_95, 50) == []
    assert fills(ex.process_trade(IID, 3 * MS, 101_00, 50)) == [(101_00, 10)]


def test_limit_when_marketable_on_arrival_then_takes_at_the_market_price() -> None:
    ex = exchange()
    sell = order(Side.SELL, OrderType.LIMIT, price=99_00)
    ex.submit_order(sell, 0)
    events = ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert fills(events) == [(100_00, 10)]
    assert events[-1].fill is not None and events[-1].fill.liquidity is LiquiditySide.TAKER


def test_post_only_limit_when_marketable_on_arrival_then_rejected() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=101_00, flags=OrderFlag.POST_ONLY)
    ex.submit_order(buy, 0)
    events = ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert kinds(events) == [E.ACCEPTED, E.REJECTED]
    assert events[-1].reject_reason is RejectReason.POST_ONLY_WOULD_TAKE


# ---------------------------------------------------------------------------- volume
def test_limit_when_trades_smaller_than_order_then_partial_fills_capped_by_each_volume() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=99_00, quantity=100)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 500)
    first = ex.process_trade(IID, 2 * MS, 98_00, 30)
    second = ex.process_trade(IID, 3 * MS, 98_50, 45)
    third = ex.process_trade(IID, 4 * MS, 98_00, 80)
    assert fills(first + second + third) == [(99_00, 30), (99_00, 45), (99_00, 25)]
    assert kinds(first + second + third) == [E.PARTIALLY_FILLED] * 2 + [E.FILLED]
    assert buy.status is S.FILLED


def test_two_orders_when_one_trade_then_volume_shared_in_arrival_order() -> None:
    ex = exchange()
    early, late = order(quantity=30), order(quantity=30)
    ex.submit_order(early, 0)
    ex.submit_order(late, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 40)
    assert (early.filled_quantity, late.filled_quantity) == (30, 10)


def test_market_buy_when_quote_then_fills_at_ask_capped_by_ask_size() -> None:
    ex = exchange()
    buy = order(quantity=10)
    ex.submit_order(buy, 0)
    events = ex.process_quote(IID, 1 * MS, 99_95, 100, 100_05, 4)
    assert fills(events) == [(100_05, 4)]
    assert fills(ex.process_quote(IID, 2 * MS, 99_95, 100, 100_10, 50)) == [(100_10, 6)]


def test_market_sell_when_bid_side_empty_then_no_fill() -> None:
    ex = exchange()
    sell = order(Side.SELL)
    ex.submit_order(sell, 0)
    assert kinds(ex.process_quote(IID, 1 * MS, 0, 0, 100_05, 10)) == [E.ACCEPTED]


# ---------------------------------------------------------------------------- stops
def test_buy_stop_when_trade_reaches_trigger_then_triggers_and_fills_at_next_trade() -> None:
    ex = exchange()
    stop = order(order_type=OrderType.STOP_MARKET, trigger_price=101_00)
    ex.submit_order(stop, 0)
    assert kinds(ex.process_trade(IID, 1 * MS, 100_95, 50)) == [E.ACCEPTED]
    assert kinds(ex.process_trade(IID, 2 * MS, 101_00, 50)) == [E.TRIGGERED]
    assert fills(ex.process_trade(IID, 3 * MS, 101_20, 50)) == [(101_20, 10)]


def test_sell_stop_when_only_quotes_cross_trigger_then_never_triggers() -> None:
    ex = exchange()
    stop = order(Side.SELL, OrderType.STOP_MARKET, trigger_price=99_00)
    ex.submit_order(stop, 0)
    assert kinds(ex.process_quote(IID, 1 * MS, 98_00, 50, 98_10, 50)) == [E.ACCEPTED]
    assert stop.status is S.ACCEPTED
    assert kinds(ex.process_trade(IID, 2 * MS, 98_90, 50)) == [E.TRIGGERED]


def test_stop_limit_when_triggered_then_works_as_a_limit() -> None:
    ex = exchange()
    stop = order(Side.SELL, OrderType.STOP_LIMIT, price=98_00, trigger_price=99_00)
    ex.submit_order(stop, 0)
    ex.process_trade(IID, 1 * MS, 98_95, 50)  # arrival, trigger
    assert stop.status is S.TRIGGERED
    assert ex.process_trade(IID, 2 * MS, 97_90, 50) == []  # first look: below its limit
    assert fills(ex.process_trade(IID, 3 * MS, 98_05, 50)) == [(98_00, 10)]


# ---------------------------------------------------------------------------- time in force
def test_ioc_when_trade_smaller_than_order_then_remainder_canceled() -> None:
    ex = exchange()
    buy = order(quantity=10, tif=TimeInForce.IOC)
    ex.submit_order(buy, 0)
    events = ex.process_trade(IID, 1 * MS, 100_00, 4)
    assert kinds(events) == [E.ACCEPTED, E.PARTIALLY_FILLED, E.CANCELED]
    assert buy.status is S.CANCELED and buy.filled_quantity == 4
    assert ex.process_trade(IID, 2 * MS, 100_00, 50) == []


def test_ioc_limit_when_first_trade_does_not_cross_then_canceled_unfilled() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=99_00, tif=TimeInForce.IOC)
    ex.submit_order(buy, 0)
    assert kinds(ex.process_trade(IID, 1 * MS, 100_00, 50)) == [E.ACCEPTED, E.CANCELED]


def test_fok_when_volume_short_then_canceled_without_any_fill() -> None:
    ex = exchange()
    buy = order(quantity=10, tif=TimeInForce.FOK)
    ex.submit_order(buy, 0)
    assert kinds(ex.process_trade(IID, 1 * MS, 100_00, 9)) == [E.ACCEPTED, E.CANCELED]
    assert buy.filled_quantity == 0


def test_fok_when_volume_enough_then_filled_completely() -> None:
    ex = exchange()
    buy = order(quantity=10, tif=TimeInForce.FOK)
    ex.submit_order(buy, 0)
    assert fills(ex.process_trade(IID, 1 * MS, 100_00, 10)) == [(100_00, 10)]


def test_day_order_when_session_ends_then_expired_at_session_end() -> None:
    ex = exchange(session_end=10 * MS)
    buy = order(order_type=OrderType.LIMIT, price=90_00, tif=TimeInForce.DAY)
    gtc = order(order_type=OrderType.LIMIT, price=90_00)
    ex.submit_order(buy, 0)
    ex.submit_order(gtc, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 50)
    events = ex.process_trade(IID, 12 * MS, 80_00, 50)  # after the close: must not fill DAY
    assert [
        (e.kind, e.ts_event) for e in events if e.client_order_id == buy.client_order_id.value
    ] == [(E.EXPIRED, 10 * MS)]
    assert buy.status is S.EXPIRED and buy.filled_quantity == 0
    assert gtc.status is S.FILLED


def test_day_order_when_arriving_after_session_end_then_rejected_market_closed() -> None:
    ex = exchange(session_end=10 * MS)
    buy = order(tif=TimeInForce.DAY)
    ex.submit_order(buy, 10 * MS)
    events = ex.advance_to(11 * MS)
    assert kinds(events) == [E.REJECTED]
    assert events[0].reject_reason is RejectReason.MARKET_CLOSED


# ---------------------------------------------------------------------------- cancel / modify
def test_cancel_when_it_arrives_before_any_crossing_trade_then_canceled_and_never_filled() -> None:
    ex = exchange(latency=FixedLatency(1 * MS))
    buy = order(order_type=OrderType.LIMIT, price=99_00)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 2 * MS, 100_00, 50)
    assert kinds(ex.cancel_order(buy.client_order_id.value, 2 * MS)) == [E.CANCEL_PENDING]
    assert kinds(ex.process_trade(IID, 4 * MS, 98_00, 50)) == [E.CANCELED]
    assert buy.status is S.CANCELED and buy.filled_quantity == 0


def test_cancel_when_fill_comes_first_then_fill_is_real_and_cancel_rejected() -> None:
    ex = exchange(latency=FixedLatency(5 * MS))
    buy = order(order_type=OrderType.LIMIT, price=99_00)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 6 * MS, 100_00, 50)
    ex.cancel_order(buy.client_order_id.value, 6 * MS)
    assert kinds(ex.process_trade(IID, 7 * MS, 98_00, 50)) == [E.FILLED]
    events = ex.advance_to(20 * MS)
    assert kinds(events) == [E.CANCEL_REJECTED]
    assert buy.status is S.FILLED


def test_modify_when_price_moved_then_fills_at_new_price() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=95_00)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert kinds(ex.modify_order(buy.client_order_id.value, 1 * MS, price=99_00)) == [
        E.MODIFY_PENDING
    ]
    ex.advance_to(1 * MS)
    assert buy.price == 99_00 and buy.status is S.ACCEPTED
    assert ex.process_trade(IID, 2 * MS, 99_50, 50) == []
    assert fills(ex.process_trade(IID, 3 * MS, 98_50, 50)) == [(99_00, 10)]


def test_modify_when_new_price_off_tick_then_modify_rejected_and_order_unchanged() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=95_00)
    ex.submit_order(buy, 0)
    ex.advance_to(0)
    ex.modify_order(buy.client_order_id.value, 0, price=95_03)
    events = ex.advance_to(0)
    assert kinds(events) == [E.MODIFY_REJECTED]
    assert events[0].reject_reason is RejectReason.INVALID_PRICE
    assert buy.price == 95_00 and buy.status is S.ACCEPTED


def test_modify_when_quantity_not_above_filled_then_modify_rejected() -> None:
    ex = exchange()
    buy = order(order_type=OrderType.LIMIT, price=99_00, quantity=10)
    ex.submit_order(buy, 0)
    ex.process_trade(IID, 1 * MS, 100_00, 50)
    ex.process_trade(IID, 2 * MS, 98_00, 6)
    ex.modify_order(buy.client_order_id.value, 2 * MS, quantity=6)
    events = ex.advance_to(2 * MS)
    assert events[0].reject_reason is RejectReason.INVALID_QUANTITY
    assert buy.status is S.PARTIALLY_FILLED and buy.quantity == 10


# ---------------------------------------------------------------------------- rejects
@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"order_type": OrderType.LIMIT, "price": 100_03}, RejectReason.INVALID_PRICE),
        ({"order_type": OrderType.LIMIT, "price": -100_00}, RejectReason.INVALID_PRICE),
        (
            {"order_type": OrderType.STOP_MARKET, "trigger_price": 100_01},
            RejectReason.INVALID_PRICE,
        ),
        ({"quantity": 100_001}, RejectReason.INVALID_QUANTITY),
    ],
)
def test_order_when_price_or_quantity_invalid_then_rejected_with_reason(
    kwargs: dict[str, object], reason: RejectReason
) -> None:
    ex = exchange()
    bad = order(**kwargs)  # type: ignore[arg-type]
    ex.submit_order(bad, 0)
    events = ex.advance_to(0)
    assert kinds(events) == [E.REJECTED]
    assert events[0].reject_reason is reason and bad.reject_reason is reason


def test_reduce_only_when_it_would_increase_position_then_rejected() -> None:
    ex = exchange(position=5)
    buy = order(flags=OrderFlag.REDUCE_ONLY)
    ex.submit_order(buy, 0)
    events = ex.advance_to(0)
    assert events[0].reject_reason is RejectReason.REDUCE_ONLY_WOULD_INCREASE


def test_reduce_only_when_larger_than_position_then_fill_capped_at_position() -> None:
    ex = exchange(position=4)
    sell = order(Side.SELL, quantity=10, flags=OrderFlag.REDUCE_ONLY, tif=TimeInForce.IOC)
    ex.submit_order(sell, 0)
    events = ex.process_trade(IID, 1 * MS, 100_00, 50)
    assert fills(events) == [(100_00, 4)]
    assert sell.status is S.CANCELED


def test_submit_when_instrument_unknown_or_id_reused_then_invalid_command() -> None:
    ex = exchange()
    buy = order()
    ex.submit_order(buy, 0)
    with pytest.raises(InvalidCommand, match="already submitted"):
        ex.submit_order(buy, 0)
    with pytest.raises(InvalidCommand, match="no order"):
        ex.cancel_order(999, 0)
    with pytest.raises(InvalidMarketData, match="unknown instrument"):
        ex.process_trade(77, 0, 100_00, 1)
    with pytest.raises(InvalidMarketData):
        ex.process_trade(IID, 0, 0, 1)


# ---------------------------------------------------------------------------- fees
def test_fills_when_fee_model_given_then_fee_is_the_models_price_of_each_fill() -> None:
    model = default_fee_models()["zerodha.equity.intraday"]
    ex = exchange(fee_models=(default_fee_models()["binance.spot"], model))
    buy = order(quantity=100, product=Product.INTRADAY)
    ex.submit_order(buy, 0)
    first = ex.process_trade(IID, 1 * MS, 1500_00, 60)[-1].fill
    second = ex.process_trade(IID, 2 * MS, 1500_00, 60)[-1].fill
    assert first is not None and second is not None
    expected_first = model.fee(
        FeeInput(instrument=INFY, side=Side.BUY, price=1500_00, quantity=60,
                 product=Product.INTRADAY)
    )  # fmt: skip
    expected_second = model.fee(
        FeeInput(instrument=INFY, side=Side.BUY, price=1500_00, quantity=40,
                 product=Product.INTRADAY, order_filled_notional=1500 * 60 * 10**8)
    )  # fmt: skip
    assert (first.fee, first.fee_currency) == (expected_first.total, "INR")
    assert second.fee == expected_second.total
    assert first.fee > 0
    assert buy.fees == {"INR": first.fee + second.fee}


def test_submit_when_no_fee_model_covers_the_order_then_invalid_command() -> None:
    ex = exchange(fee_models=(default_fee_models()["binance.spot"],))
    with pytest.raises(InvalidCommand, match="no fee model covers"):
        ex.submit_order(order(), 0)


# ---------------------------------------------------------------------------- records
def test_process_record_when_trade_and_quote_records_then_matched_like_the_calls() -> None:
    trades = new_records("TradeEvent", 1)
    trades[0]["instrument_id"], trades[0]["ts_event"] = IID, 1 * MS
    trades[0]["price"], trades[0]["quantity"] = 100_00, 3
    quotes = new_records("QuoteEvent", 1)
    quotes[0]["instrument_id"], quotes[0]["ts_event"] = IID, 2 * MS
    quotes[0]["bid_price"], quotes[0]["bid_size"] = 99_95, 10
    quotes[0]["ask_price"], quotes[0]["ask_size"] = 100_05, 10
    ex = exchange()
    ex.submit_order(order(quantity=10), 0)
    assert fills(ex.process_record(trades[0]) + ex.process_record(quotes[0])) == [
        (100_00, 3),
        (100_05, 7),
    ]
    with pytest.raises(InvalidMarketData, match="neither TRADE_EVENT"):
        ex.process_record(new_records("BarEvent", 1)[0])


def test_gtd_order_when_expire_time_passes_without_market_data_then_expired_at_it() -> None:
    ex = exchange()
    buy = Order(
        client_order_id=ClientOrderId(9, 1), instrument_id=IID, side=Side.BUY,
        order_type=OrderType.LIMIT, quantity=5, price=90_00,
        time_in_force=TimeInForce.GTD, expire_time=7 * MS,
    )  # fmt: skip
    ex.submit_order(buy, 0)
    events = ex.advance_to(30 * MS)
    assert [(e.kind, e.ts_event) for e in events] == [(E.ACCEPTED, 0), (E.EXPIRED, 7 * MS)]
    assert ex.clock == 30 * MS
