"""Kill switch: blocks new orders, cancels exactly the open orders, flattens on request."""

from __future__ import annotations

from qk.orders import ClientOrderId, Order, OrderEventKind
from qk.orders import Fill as OrderFill
from qk.risk import GLOBAL, CancelOrder, DenialReason, OrderIntent, TradingState
from qk.schemas.enums import OrderType, RiskAction, Side

from .conftest import BTC, INFY, OTHER, STRATEGY, T0, fill, intent, make_engine, raw_qty

E = OrderEventKind


def order(strategy_id: int, sequence: int, *events: E) -> Order:
    result = Order(
        client_order_id=ClientOrderId(strategy_id, sequence),
        instrument_id=BTC,
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        quantity=100,
        price=5_000_000,
    )
    for event in events:
        result.apply(event, ts_event=T0, ts_init=T0)
    return result


def book() -> list[Order]:
    """One order per interesting status, for two strategies."""
    partly = order(STRATEGY, 3, E.SUBMITTED, E.ACCEPTED)
    partly.apply_fill(OrderFill(trade_id=1, price=5_000_000, quantity=40))
    filled = order(STRATEGY, 6, E.SUBMITTED, E.ACCEPTED)
    filled.apply_fill(OrderFill(trade_id=2, price=5_000_000, quantity=100))
    return [
        order(STRATEGY, 1, E.SUBMITTED, E.ACCEPTED),
        order(STRATEGY, 2, E.SUBMITTED),  # in flight: the venue may have it
        partly,
        order(STRATEGY, 4),  # INITIALIZED: never sent
        order(STRATEGY, 5, E.SUBMITTED, E.ACCEPTED, E.CANCELED),
        filled,
        order(STRATEGY, 7, E.SUBMITTED, E.ACCEPTED, E.CANCEL_PENDING),  # cancel already sent
        order(STRATEGY, 8, E.SUBMITTED, E.STATUS_UNKNOWN),
        order(OTHER, 1, E.SUBMITTED, E.ACCEPTED),
    ]


def cancels(strategy_id: int, *sequences: int) -> set[CancelOrder]:
    return {CancelOrder(strategy_id, ClientOrderId(strategy_id, s).value) for s in sequences}


def test_kill_switch_when_engaged_globally_then_cancels_exactly_open_and_inflight() -> None:
    engine = make_engine()
    result = engine.engage_kill_switch(book(), T0)
    assert result.newly_engaged
    assert set(result.cancels) == cancels(STRATEGY, 1, 2, 3, 8) | cancels(OTHER, 1)
    assert len(result.cancels) == 5
    assert result.flatten == ()


def test_kill_switch_when_engaged_then_blocks_every_new_order_even_reducing() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "1")
    engine.engage_kill_switch([], T0)
    for order_intent in (
        intent(Side.BUY, "0.1"),
        intent(Side.SELL, "0.1", reduce_only=True),
        intent(Side.BUY, "0.1", strategy_id=OTHER),
    ):
        assert engine.check(order_intent, T0).reason is DenialReason.KILL_SWITCH
    assert engine.state(STRATEGY, T0) is TradingState.HALTED


def test_kill_switch_when_engaged_for_one_strategy_then_only_its_orders_and_trading_stop() -> None:
    engine = make_engine()
    result = engine.engage_kill_switch(book(), T0, strategy_id=OTHER)
    assert set(result.cancels) == cancels(OTHER, 1)
    assert engine.check(intent(Side.BUY, "0.1", strategy_id=OTHER), T0).reason is (
        DenialReason.KILL_SWITCH
    )
    assert engine.check(intent(Side.BUY, "0.1"), T0).approved
    assert engine.drain_events()[0]["action"] == RiskAction.HALT_STRATEGY


def test_kill_switch_when_flatten_then_one_reduce_only_market_intent_per_position() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.7")
    fill(engine, Side.SELL, "12", instrument_id=INFY)
    fill(engine, Side.BUY, "0.2", strategy_id=OTHER)
    fill(engine, Side.SELL, "0.2", strategy_id=OTHER)  # flat: nothing to close
    result = engine.engage_kill_switch([], T0, flatten=True)
    assert result.flatten == (
        OrderIntent(
            STRATEGY, BTC, Side.SELL, OrderType.MARKET, raw_qty(BTC, "0.7"), reduce_only=True
        ),
        OrderIntent(STRATEGY, INFY, Side.BUY, OrderType.MARKET, 12, reduce_only=True),
    )
    actions = list(engine.drain_events()["action"])
    assert actions == [RiskAction.HALT_ALL, RiskAction.FLATTEN, RiskAction.FLATTEN]


def test_kill_switch_when_flatten_for_one_strategy_then_other_positions_untouched() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.7")
    fill(engine, Side.BUY, "0.3", strategy_id=OTHER)
    result = engine.engage_kill_switch([], T0, strategy_id=OTHER, flatten=True)
    assert [(i.strategy_id, i.quantity) for i in result.flatten] == [(OTHER, raw_qty(BTC, "0.3"))]


def test_kill_switch_when_engaged_twice_then_idempotent() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.7")
    orders = book()
    first = engine.engage_kill_switch(orders, T0, flatten=True)
    events = len(engine.drain_events())
    second = engine.engage_kill_switch(orders, T0 + 1, flatten=True)
    assert not second.newly_engaged
    assert second.cancels == first.cancels  # a lost cancel is sent again
    assert second.flatten == ()  # never a second closing order
    assert events == 3 and len(engine.drain_events()) == 0


def test_release_when_operator_releases_then_orders_pass_and_halt_latch_is_kept() -> None:
    engine = make_engine()
    engine.halt(OTHER, T0)
    engine.engage_kill_switch([], T0)
    assert engine.release_kill_switch(GLOBAL, T0 + 1)
    assert not engine.release_kill_switch(GLOBAL, T0 + 2)
    assert not engine.kill_switch_engaged(STRATEGY)
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 2).approved
    assert engine.check(intent(Side.BUY, "0.1", strategy_id=OTHER), T0 + 2).reason is (
        DenialReason.TRADING_HALTED
    )


def test_release_when_never_engaged_then_returns_false_and_emits_nothing() -> None:
    engine = make_engine()
    assert not engine.release_kill_switch(STRATEGY, T0)
    assert len(engine.drain_events()) == 0


def test_kill_switch_when_flatten_fills_then_position_can_be_flattened_again_later() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.5")
    first = engine.engage_kill_switch([], T0, flatten=True).flatten[0]
    engine.apply_fill(STRATEGY, BTC, first.side, first.quantity)
    assert engine.position(STRATEGY, BTC) == 0
    engine.release_kill_switch(GLOBAL, T0)
    fill(engine, Side.BUY, "0.1")
    again = engine.engage_kill_switch([], T0, flatten=True)
    assert [i.quantity for i in again.flatten] == [raw_qty(BTC, "0.1")]
