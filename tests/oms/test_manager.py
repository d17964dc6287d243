"""The order manager as a specification: orders, fills, risk, cancels, kill switch, replay."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from qk.execution import InvalidCommand
from qk.fees import FeeInput, default_fee_models
from qk.marketdata.sim import SIM_BTCUSDT
from qk.oms import JournalKind, OmsError, OmsErrorReason
from qk.orders import ClientOrderId, OrderEventKind, OrderStatus
from qk.risk import RiskLimits
from qk.schemas.enums import RiskAction, RiskReason, Side, Venue
from qk.strategy import InvalidOrderRequest, OrderRequestReason
from tests.oms.conftest import DEPOSIT, STRATEGY_ID, T0, Engine, engine, trades

E = OrderEventKind
S = OrderStatus

TAPE = trades(
    [
        (1_000, "50000.00", "1"),
        (2_000, "50010.00", "1"),
        (3_000, "50030.00", "1"),
    ]
)


# ------------------------------------------------------------------------------ fills
def test_submit_market_when_next_trade_prints_then_fills_there_and_books_position_and_cash() -> (
    None
):
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.run(TAPE)

    (order_id,) = run.probe.order_ids
    order = run.manager.orders[order_id.value]
    assert order.status is S.FILLED
    (fill,) = run.probe.fills
    # Decided on the first trade, so it cannot fill there: the second trade's price.
    assert int(fill["price"]) == 5_001_000
    assert int(fill["quantity"]) == 50_000
    assert int(fill["ts_event"]) == T0 + 2_000
    view = run.probe.context.position(1)
    assert view.quantity == Decimal("0.5")
    assert view.average_price == Decimal("50010")
    account = run.probe.context.account
    assert account.cash == DEPOSIT  # no fee model: no fee, nothing realised
    assert account.equity == DEPOSIT + Decimal("0.5") * (Decimal("50030") - Decimal("50010"))
    assert [kind for kind, _ in run.probe.updates] == [E.SUBMITTED, E.ACCEPTED, E.FILLED]
    assert run.risk.position(STRATEGY_ID, 1) == 50_000


def test_fill_when_fee_model_covers_the_venue_then_portfolio_cash_is_reduced_by_that_fee() -> None:
    binance_btc = replace(SIM_BTCUSDT, venue=Venue.BINANCE)
    model = default_fee_models()["binance.spot"]
    run = engine(instrument=binance_btc, fee_models=(model,))
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.run(trades([(1_000, "50000.00", "1"), (2_000, "50010.00", "1")], binance_btc))

    (fill,) = run.probe.fills
    expected = model.fee(
        FeeInput(instrument=binance_btc, side=Side.BUY, price=5_001_000, quantity=50_000)
    ).total
    assert expected > 0
    assert int(fill["fee"]) == expected
    state = run.portfolio.account("USDT", STRATEGY_ID)
    fee = Decimal(expected).scaleb(-8)
    assert state.fees == fee
    assert state.cash == DEPOSIT - fee
    assert run.probe.context.account.cash == DEPOSIT - fee


# ------------------------------------------------------------------------------ risk
def test_submit_when_risk_denies_then_order_is_denied_never_sent_and_strategy_sees_why() -> None:
    run = engine(limits=RiskLimits(max_order_quantity=Decimal("0.1")))
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.run(TAPE)

    (order_id,) = run.probe.order_ids
    assert run.manager.orders[order_id.value].status is S.DENIED
    with pytest.raises(InvalidCommand):
        run.exchange.order(order_id.value)
    assert run.exchange.events == []
    (event,) = run.probe.risk_events
    assert int(event["client_order_id"]) == order_id.value
    assert int(event["action"]) == RiskAction.DENY_ORDER
    assert int(event["reason"]) == RiskReason.MAX_ORDER_QUANTITY
    assert run.probe.updates == [(E.DENIED, S.DENIED)]
    assert run.probe.fills == []
    assert run.probe.context.position(1).is_flat


# ------------------------------------------------------------------------------ cancel
def test_cancel_when_before_any_fill_then_order_canceled_and_never_fills() -> None:
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_limit(1, Side.BUY, Decimal("0.5"), Decimal("49000.00"))
    )
    run.probe.on_ticks[2] = lambda p: p.context.cancel(p.order_ids[0])
    run.run(trades([(1_000, "50000.00", "1"), (2_000, "50010.00", "1"), (3_000, "48000.00", "1")]))

    order = run.manager.orders[run.probe.order_ids[0].value]
    assert order.status is S.CANCELED
    assert order.filled_quantity == 0
    assert run.probe.fills == []
    assert (E.CANCELED, S.CANCELED) in run.probe.updates
    assert run.probe.context.position(1).is_flat


def test_modify_when_price_raised_to_the_market_then_order_fills_at_the_next_trade() -> None:
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_limit(1, Side.BUY, Decimal("0.5"), Decimal("49000.00"))
    )
    run.probe.on_ticks[2] = lambda p: p.context.modify(p.order_ids[0], price=Decimal("50040.00"))
    run.run(TAPE)

    order = run.manager.orders[run.probe.order_ids[0].value]
    assert order.status is S.FILLED
    assert [int(f["ts_event"]) for f in run.probe.fills] == [T0 + 3_000]


# ------------------------------------------------------------------------------ kill switch
def test_kill_switch_when_orders_are_open_then_cancels_them_and_denies_new_ones() -> None:
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_limit(1, Side.BUY, Decimal("0.5"), Decimal("49000.00"))
    )
    run.manager.start()
    run.manager.process_record(TAPE[0])
    run.manager.process_record(TAPE[1])  # the limit order is working now

    result = run.manager.engage_kill_switch()
    late = run.probe.context.submit_market(1, Side.BUY, Decimal("0.1"))
    run.manager.process_record(TAPE[2])

    first = run.manager.orders[run.probe.order_ids[0].value]
    assert [c.client_order_id for c in result.cancels] == [first.client_order_id.value]
    assert first.status is S.CANCELED
    assert run.manager.orders[late.value].status is S.DENIED
    with pytest.raises(InvalidCommand):
        run.exchange.order(late.value)
    reasons = {(int(e["reason"]), int(e["action"])) for e in run.probe.risk_events}
    assert (RiskReason.KILL_SWITCH, RiskAction.CANCEL_OPEN_ORDERS) in reasons
    assert run.probe.fills == []


def test_kill_switch_when_flatten_then_position_is_closed_at_the_next_trade() -> None:
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.manager.start()
    run.manager.process_record(TAPE[0])
    run.manager.process_record(TAPE[1])
    assert run.probe.context.position(1).quantity == Decimal("0.5")

    result = run.manager.engage_kill_switch(flatten=True)
    run.manager.process_record(TAPE[2])

    (intent,) = result.flatten
    assert (intent.side, intent.quantity) == (Side.SELL, 50_000)
    assert run.probe.context.position(1).is_flat
    assert [int(f["side"]) for f in run.probe.fills] == [Side.BUY, Side.SELL]


# ------------------------------------------------------------------------------ timers
def test_timer_when_due_between_trades_then_fires_at_its_time_before_the_later_trade() -> None:
    run = engine()
    run.probe.at_start = lambda p: p.context.schedule_timer("once", at_ns=T0 + 1_500)
    run.run(TAPE)

    assert run.probe.seen[:3] == [
        ("tick", T0 + 1_000, T0 + 1_000),
        ("timer", "once", T0 + 1_500, T0 + 1_500),
        ("tick", T0 + 2_000, T0 + 2_000),
    ]


def test_timer_when_periodic_then_fires_every_interval_in_event_time_order() -> None:
    run = engine()
    run.probe.on_ticks[1] = lambda p: p.context.schedule_timer("beat", every_ns=400)
    run.run(TAPE)

    fired = [entry[2] for entry in run.probe.seen if entry[0] == "timer"]
    assert fired == [T0 + 1_400, T0 + 1_800, T0 + 2_200, T0 + 2_600, T0 + 3_000]


def test_timer_when_cancelled_then_never_fires() -> None:
    run = engine()
    run.probe.at_start = lambda p: p.context.schedule_timer("once", at_ns=T0 + 2_500)
    run.probe.on_ticks[2] = lambda p: p.context.cancel_timer("once")
    run.run(TAPE)

    assert [e for e in run.probe.seen if e[0] == "timer"] == []


def test_order_submitted_from_a_timer_when_next_trade_prints_then_fills_there() -> None:
    run = engine()
    run.probe.at_start = lambda p: p.context.schedule_timer("enter", at_ns=T0 + 1_500)
    run.probe.on_timers["enter"] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.run(TAPE)

    assert [int(f["price"]) for f in run.probe.fills] == [5_001_000]


def test_schedule_timer_when_in_the_past_then_value_error() -> None:
    run = engine()
    run.manager.process_record(TAPE[0])
    with pytest.raises(ValueError, match="before now"):
        run.probe.context.schedule_timer("late", at_ns=T0)


# ------------------------------------------------------------------------------ time, replay
def test_process_record_when_time_goes_backwards_then_oms_error() -> None:
    run = engine()
    run.manager.process_record(TAPE[1])
    with pytest.raises(OmsError) as caught:
        run.manager.process_record(TAPE[0])
    assert caught.value.reason is OmsErrorReason.TIME_WENT_BACKWARDS


def _scripted_run() -> Engine:
    run = engine(limits=RiskLimits(max_position=Decimal("0.6")))
    run.probe.at_start = lambda p: p.context.schedule_timer("beat", every_ns=700)
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    run.probe.on_ticks[2] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))  # breaches max_position: denied
    )
    run.probe.on_timers["beat"] = lambda p: p.order_ids.append(
        p.context.submit_limit(1, Side.SELL, Decimal("0.1"), Decimal("50020.00"))
    )
    run.run(TAPE)
    return run


def test_run_when_repeated_then_journal_and_strategy_observations_are_identical() -> None:
    first, second = _scripted_run(), _scripted_run()

    assert first.manager.journal == second.manager.journal
    assert first.probe.seen == second.probe.seen
    kinds = {entry[0] for entry in first.manager.journal}
    # The scenario exercises every kind of entry, so the comparison covers them all.
    assert kinds == set(JournalKind)
    assert [o.value for o in first.probe.order_ids] == [o.value for o in second.probe.order_ids]


# ------------------------------------------------------------------------------ boundaries
def test_on_fill_when_called_then_position_already_includes_the_fill() -> None:
    run = engine()
    seen: list[Decimal] = []
    run.probe.on_ticks[1] = lambda p: p.order_ids.append(
        p.context.submit_market(1, Side.BUY, Decimal("0.5"))
    )
    original = run.probe.on_fill

    def on_fill(fill: object) -> None:
        seen.append(run.probe.context.position(1).quantity)
        original(fill)  # type: ignore[arg-type]

    run.probe.on_fill = on_fill  # type: ignore[method-assign]
    run.run(TAPE)

    assert seen == [Decimal("0.5")]


def test_submit_when_quantity_is_a_float_then_refused_without_taking_an_id() -> None:
    run = engine()
    with pytest.raises(InvalidOrderRequest) as caught:
        run.probe.context.submit_market(1, Side.BUY, 0.5)  # type: ignore[arg-type]
    assert caught.value.reason is OrderRequestReason.BAD_QUANTITY
    first = run.probe.context.submit_market(1, Side.BUY, Decimal("0.5"))
    assert first.sequence == 1
    assert run.manager.orders.keys() == {first.value}


def test_cancel_when_order_belongs_to_another_strategy_then_unknown_order() -> None:
    run = engine()
    foreign = ClientOrderId(STRATEGY_ID + 1, 1)
    with pytest.raises(InvalidOrderRequest) as caught:
        run.probe.context.cancel(foreign)
    assert caught.value.reason is OrderRequestReason.UNKNOWN_ORDER
