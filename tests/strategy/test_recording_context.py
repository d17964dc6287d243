"""Specification of RecordingContext, the in-memory StrategyContext, and the Strategy base."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pytest
from structlog.testing import capture_logs

from qk.marketdata.sim import SIM_BTCUSDT
from qk.orders import ClientOrderId
from qk.schemas import new_records
from qk.schemas.enums import OrderType, Side, TimeInForce
from qk.strategy import (
    CancelRequested,
    InvalidOrderRequest,
    ModifyRequested,
    NoParams,
    OrderRequestReason,
    RecordingContext,
    Strategy,
    StrategyContext,
)

BTC = SIM_BTCUSDT.instrument_id


@pytest.fixture
def ctx() -> RecordingContext:
    return RecordingContext(strategy_id=7, instruments=[SIM_BTCUSDT], start_ns=1_000)


def test_submit_when_called_then_ids_are_deterministic_strategy_sequence(
    ctx: RecordingContext,
) -> None:
    first = ctx.submit_market(BTC, Side.BUY, Decimal("0.01"))
    second = ctx.submit_limit(BTC, Side.SELL, Decimal("0.01"), Decimal("50000.5"))
    assert (first, second) == (ClientOrderId(7, 1), ClientOrderId(7, 2))


def test_submit_when_called_then_each_command_recorded_with_clock_time(
    ctx: RecordingContext,
) -> None:
    ctx.submit_market(BTC, Side.BUY, 1)
    ctx.clock.advance(500)
    ctx.submit_stop(BTC, Side.SELL, Decimal("0.5"), Decimal("49000"))
    ctx.submit_stop(BTC, Side.SELL, Decimal("0.5"), Decimal("49000"), limit_price=Decimal("48990"))
    ctx.submit_limit(BTC, Side.BUY, Decimal("0.5"), 48000, post_only=True)
    kinds = [(o.order_type, o.ts_ns, o.price, o.trigger_price) for o in ctx.orders]
    assert kinds == [
        (OrderType.MARKET, 1_000, None, None),
        (OrderType.STOP_MARKET, 1_500, None, Decimal("49000")),
        (OrderType.STOP_LIMIT, 1_500, Decimal("48990"), Decimal("49000")),
        (OrderType.LIMIT, 1_500, Decimal(48000), None),
    ]
    assert ctx.orders[0].time_in_force is TimeInForce.IOC
    assert ctx.orders[3].post_only is True


@pytest.mark.parametrize(
    "quantity", [Decimal(0), Decimal("-0.01"), Decimal("0.000015"), 0.01, True, "0.01"]
)
def test_submit_when_quantity_bad_then_refused_and_no_id_consumed(
    ctx: RecordingContext, quantity: object
) -> None:
    with pytest.raises(InvalidOrderRequest) as caught:
        ctx.submit_market(BTC, Side.BUY, quantity)  # type: ignore[arg-type]
    assert caught.value.reason is OrderRequestReason.BAD_QUANTITY
    assert ctx.commands == []
    assert ctx.submit_market(BTC, Side.BUY, 1) == ClientOrderId(7, 1)


@pytest.mark.parametrize("price", [Decimal("50000.005"), Decimal(0), 50000.0])
def test_submit_limit_when_price_off_tick_or_not_positive_then_bad_price(
    ctx: RecordingContext, price: object
) -> None:
    with pytest.raises(InvalidOrderRequest, match="price") as caught:
        ctx.submit_limit(BTC, Side.BUY, 1, price)  # type: ignore[arg-type]
    assert caught.value.reason is OrderRequestReason.BAD_PRICE


def test_submit_when_instrument_not_deployed_then_unknown_instrument(
    ctx: RecordingContext,
) -> None:
    with pytest.raises(InvalidOrderRequest, match=r"deployed: BTCUSDT\.SIM") as caught:
        ctx.submit_market(99, Side.BUY, 1)
    assert caught.value.reason is OrderRequestReason.UNKNOWN_INSTRUMENT


def test_modify_and_cancel_when_own_order_then_recorded(ctx: RecordingContext) -> None:
    order_id = ctx.submit_limit(BTC, Side.BUY, 1, Decimal("50000"))
    ctx.modify(order_id, price=Decimal("50001"))
    ctx.cancel(order_id)
    assert ctx.commands[1:] == [
        ModifyRequested(order_id, 1_000, None, Decimal("50001"), None),
        CancelRequested(order_id, 1_000),
    ]


def test_modify_when_nothing_changes_then_empty_modify(ctx: RecordingContext) -> None:
    order_id = ctx.submit_limit(BTC, Side.BUY, 1, Decimal("50000"))
    with pytest.raises(InvalidOrderRequest) as caught:
        ctx.modify(order_id)
    assert caught.value.reason is OrderRequestReason.EMPTY_MODIFY


def test_cancel_when_order_unknown_then_unknown_order(ctx: RecordingContext) -> None:
    with pytest.raises(InvalidOrderRequest) as caught:
        ctx.cancel(ClientOrderId(7, 42))
    assert caught.value.reason is OrderRequestReason.UNKNOWN_ORDER


def test_position_when_never_set_then_flat(ctx: RecordingContext) -> None:
    assert ctx.position(BTC).is_flat
    ctx.set_position(BTC, Decimal("-0.5"), Decimal("50000"))
    assert ctx.position(BTC).quantity == Decimal("-0.5")


def test_instrument_when_by_symbol_or_id_then_same(ctx: RecordingContext) -> None:
    assert ctx.instrument("BTCUSDT") is ctx.instrument(BTC) is SIM_BTCUSDT


def test_clock_when_set_backwards_then_refused(ctx: RecordingContext) -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        ctx.clock.set(999)


def test_schedule_timer_when_valid_then_recorded_and_replaced_by_name(
    ctx: RecordingContext,
) -> None:
    ctx.schedule_timer("rebalance", every_ns=60)
    ctx.schedule_timer("rebalance", at_ns=2_000, every_ns=30)
    assert ctx.timers["rebalance"].every_ns == 30
    assert len(ctx.timer_log) == 2
    ctx.cancel_timer("rebalance")
    ctx.cancel_timer("never-scheduled")
    assert ctx.timers == {}


@pytest.mark.parametrize(
    ("at_ns", "every_ns", "fragment"),
    [(None, None, "give at_ns"), (None, 0, "every_ns must be > 0"), (999, None, "before now")],
)
def test_schedule_timer_when_invalid_then_value_error(
    ctx: RecordingContext, at_ns: int | None, every_ns: int | None, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        ctx.schedule_timer("t", at_ns=at_ns, every_ns=every_ns)


def test_log_when_used_then_bound_with_strategy_id(ctx: RecordingContext) -> None:
    with capture_logs() as logs:
        ctx.log.info("entered", quantity="0.01")
    assert logs == [{"event": "entered", "quantity": "0.01", "strategy_id": 7, "log_level": "info"}]


def test_context_when_inspected_then_exposes_no_credentials_or_io(ctx: RecordingContext) -> None:
    public = {name for name in dir(StrategyContext) if not name.startswith("_")}
    assert public == {
        "account", "cancel", "cancel_timer", "clock", "instrument", "log", "modify",
        "position", "schedule_timer", "strategy_id", "submit_limit", "submit_market",
        "submit_stop",
    }  # fmt: skip


def test_strategy_when_hooks_not_overridden_then_no_ops(
    ctx: RecordingContext, make_bar: Callable[..., np.void]
) -> None:
    strategy = Strategy(ctx)
    record = new_records("TradeEvent", 1)[0]
    strategy.on_start()
    strategy.on_tick(record)
    strategy.on_bar(make_bar(SIM_BTCUSDT, "50000", 0))
    strategy.on_signal_timer("t", 1_000)
    strategy.on_order_update(new_records("OrderUpdate", 1)[0])
    strategy.on_fill(new_records("FillEvent", 1)[0])
    strategy.on_risk_event(new_records("RiskEvent", 1)[0])
    strategy.on_stop()
    assert ctx.commands == []
    assert strategy.params == NoParams()


def test_strategy_when_params_of_wrong_class_then_type_error(ctx: RecordingContext) -> None:
    with pytest.raises(TypeError, match="takes NoParams params, got dict"):
        Strategy(ctx, {"fast": 3})
