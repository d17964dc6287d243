"""The Order model: validation, fills, exact average price, fees, modifies, history."""

from __future__ import annotations

from fractions import Fraction

import pytest

from qk.orders import (
    ClientOrderId,
    Fill,
    InvalidFill,
    InvalidModify,
    InvalidOrder,
    Order,
    OrderErrorReason,
    OrderEventKind,
    OrderOverfill,
    OrderStatus,
)
from qk.schemas.enums import LiquiditySide, OrderFlag, OrderType, RejectReason, Side, TimeInForce
from tests.orders.conftest import fill, make_order, order_in, snapshot

E = OrderEventKind
S = OrderStatus


def _order(**overrides: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": ClientOrderId(1, 1),
        "instrument_id": 1,
        "side": Side.SELL,
        "order_type": OrderType.LIMIT,
        "quantity": 5,
        "price": 100,
    }
    fields.update(overrides)
    return Order(**fields)  # type: ignore[arg-type]


def test_new_order_when_created_then_initialized_with_nothing_filled() -> None:
    order = _order(flags=OrderFlag.REDUCE_ONLY, ts_init=42)

    assert order.status is S.INITIALIZED
    assert (order.filled_quantity, order.leaves_quantity) == (0, 5)
    assert order.avg_price is None and order.avg_price_raw() == 0
    assert order.reduce_only and not order.post_only
    assert order.strategy_id == 1
    assert order.events == () and order.revision == 0
    assert (order.ts_init, order.ts_last) == (42, 42)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -5}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"instrument_id": 0}, "instrument_id"),
        ({"price": 0}, "LIMIT order: price must be non-zero"),
        ({"order_type": OrderType.MARKET}, "MARKET order: price must be 0"),
        ({"order_type": OrderType.STOP_LIMIT}, "trigger_price must be non-zero"),
        ({"trigger_price": 99}, "LIMIT order: trigger_price must be 0"),
        ({"time_in_force": TimeInForce.GTD}, "expire_time must be > 0 exactly for GTD"),
        ({"expire_time": 5}, "expire_time must be > 0 exactly for GTD"),
        ({"side": 1}, "side must be a Side"),
        ({"client_order_id": 5}, "client_order_id must be a ClientOrderId"),
    ],
)
def test_new_order_when_field_invalid_then_raises_invalid_order_naming_it(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidOrder, match=message) as caught:
        _order(**overrides)
    assert caught.value.reason is OrderErrorReason.INVALID_ORDER


@pytest.mark.parametrize(
    ("order_type", "price", "trigger"),
    [
        (OrderType.MARKET, 0, 0),
        (OrderType.LIMIT, 100, 0),
        (OrderType.STOP_MARKET, 0, 90),
        (OrderType.STOP_LIMIT, 100, 90),
        (OrderType.TAKE_PROFIT_MARKET, 0, 110),
        (OrderType.TAKE_PROFIT_LIMIT, 100, 110),
    ],
)
def test_new_order_when_type_has_its_prices_then_created(
    order_type: OrderType, price: int, trigger: int
) -> None:
    order = _order(order_type=order_type, price=price, trigger_price=trigger)

    assert (order.order_type, order.price, order.trigger_price) == (order_type, price, trigger)


@pytest.mark.parametrize(
    "tif", [TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY]
)
def test_new_order_when_time_in_force_without_expiry_then_created(tif: TimeInForce) -> None:
    assert _order(time_in_force=tif).time_in_force is tif


def test_accept_when_venue_order_id_given_then_recorded() -> None:
    order = order_in(S.SUBMITTED)

    order.apply(E.ACCEPTED, ts_event=10, ts_init=11, venue_order_id="250125000012345")

    assert order.venue_order_id == "250125000012345"
    assert order.ts_last == 10


def test_accept_when_venue_order_id_too_long_then_raises_and_unchanged() -> None:
    order = order_in(S.SUBMITTED)
    before = snapshot(order)

    with pytest.raises(InvalidOrder, match="venue order id"):
        order.apply(E.ACCEPTED, ts_event=10, ts_init=11, venue_order_id="9" * 41)
    assert snapshot(order) == before


def test_reject_when_reason_given_then_order_keeps_reason_and_code() -> None:
    order = order_in(S.SUBMITTED)

    order.apply(
        E.REJECTED,
        ts_event=10,
        ts_init=11,
        reject_reason=RejectReason.INSUFFICIENT_FUNDS,
        venue_error_code=-2010,
    )

    assert order.status is S.REJECTED and order.is_terminal
    assert (order.reject_reason, order.venue_error_code) == (RejectReason.INSUFFICIENT_FUNDS, -2010)


def test_apply_when_kind_is_a_fill_then_raises_pointing_to_apply_fill() -> None:
    order = order_in(S.ACCEPTED)

    with pytest.raises(InvalidOrder, match="apply_fill"):
        order.apply(E.FILLED, ts_event=1, ts_init=1)


def test_fills_when_partial_then_partially_filled_with_leaves() -> None:
    order = order_in(S.ACCEPTED)

    event = order.apply_fill(fill(4))

    assert event is not None and event.kind is E.PARTIALLY_FILLED
    assert order.status is S.PARTIALLY_FILLED
    assert (order.filled_quantity, order.leaves_quantity) == (4, 6)
    assert order.is_open and not order.is_terminal


def test_fills_when_cumulative_reaches_quantity_then_filled() -> None:
    order = order_in(S.ACCEPTED)
    order.apply_fill(fill(4))

    event = order.apply_fill(fill(6))

    assert event is not None and event.kind is E.FILLED
    assert order.status is S.FILLED
    assert order.leaves_quantity == 0


def test_average_price_when_fills_at_several_prices_then_exact_rational() -> None:
    order = order_in(S.ACCEPTED)
    order.apply_fill(fill(3, price=100_001))
    order.apply_fill(fill(3, price=100_002))
    order.apply_fill(fill(1, price=100_004))

    assert order.avg_price == Fraction(3 * 100_001 + 3 * 100_002 + 100_004, 7)
    assert order.notional == 3 * 100_001 + 3 * 100_002 + 100_004
    # 700_013 / 7 = 100_001.857142857...: 4 extra decimals, half to even.
    assert order.avg_price_raw() == 1_000_018_571
    assert order.avg_price_raw(extra_precision=0) == 100_002


def test_fill_when_trade_id_repeated_then_ignored() -> None:
    order = order_in(S.ACCEPTED)
    first = fill(4, trade_id=77)
    order.apply_fill(first)
    before = snapshot(order)

    again = order.apply_fill(Fill(trade_id=77, price=first.price, quantity=4, ts_init=9_999))

    assert again is None
    assert snapshot(order) == before


def test_fill_when_trade_id_repeated_with_other_quantity_then_raises_invalid_fill() -> None:
    order = order_in(S.ACCEPTED)
    order.apply_fill(fill(4, trade_id=77))
    before = snapshot(order)

    with pytest.raises(InvalidFill, match="already booked"):
        order.apply_fill(fill(5, trade_id=77))
    assert snapshot(order) == before


def test_fill_when_it_exceeds_quantity_then_raises_overfill_and_unchanged() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    before = snapshot(order)

    with pytest.raises(OrderOverfill) as caught:
        order.apply_fill(fill(order.leaves_quantity + 1))

    assert caught.value.reason is OrderErrorReason.OVERFILL
    assert (caught.value.quantity, caught.value.filled_quantity) == (10, 3)
    assert snapshot(order) == before


def test_fill_when_order_already_filled_then_raises_overfill() -> None:
    order = order_in(S.FILLED)

    with pytest.raises(OrderOverfill):
        order.apply_fill(fill(1))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"trade_id": 0}, "trade_id"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"fee_currency": "TOOLONGCUR"}, "fee currency"),
        ({"liquidity": 1}, "LiquiditySide"),
    ],
)
def test_fill_when_field_invalid_then_raises_invalid_fill(
    fields: dict[str, object], message: str
) -> None:
    base: dict[str, object] = {"trade_id": 1, "price": 100, "quantity": 1}
    base.update(fields)
    with pytest.raises(InvalidFill, match=message):
        Fill(**base)  # type: ignore[arg-type]


def test_fees_when_fills_in_two_currencies_then_summed_per_currency() -> None:
    order = order_in(S.ACCEPTED)
    order.apply_fill(Fill(trade_id=1, price=100, quantity=2, fee=30, fee_currency="USDT"))
    order.apply_fill(Fill(trade_id=2, price=100, quantity=2, fee=7, fee_currency="BNB"))
    order.apply_fill(
        Fill(
            trade_id=3,
            price=100,
            quantity=2,
            fee=-10,
            fee_currency="USDT",
            liquidity=LiquiditySide.MAKER,
        )
    )

    assert order.fees == {"USDT": 20, "BNB": 7}


def test_modified_when_venue_changes_price_and_quantity_then_applied() -> None:
    order = order_in(S.PENDING_MODIFY)

    order.apply_modified(ts_event=5, ts_init=6, price=251_000, trigger_price=250_500, quantity=12)

    assert (order.price, order.trigger_price, order.quantity) == (251_000, 250_500, 12)
    assert order.status is S.ACCEPTED
    assert order.leaves_quantity == 12


def test_modified_when_quantity_not_above_filled_then_raises_and_unchanged() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(E.MODIFY_PENDING, ts_event=5, ts_init=5)
    before = snapshot(order)

    with pytest.raises(InvalidModify, match="must exceed the filled") as caught:
        order.apply_modified(ts_event=6, ts_init=6, quantity=order.filled_quantity)

    assert caught.value.reason is OrderErrorReason.INVALID_MODIFY
    assert snapshot(order) == before


def test_modified_when_price_set_on_market_order_then_raises_invalid_modify() -> None:
    order = make_order(order_type=OrderType.MARKET)
    order.apply(E.SUBMITTED, ts_event=1, ts_init=1)
    order.apply(E.ACCEPTED, ts_event=1, ts_init=1)

    with pytest.raises(InvalidModify, match="price must be 0"):
        order.apply_modified(ts_event=2, ts_init=2, price=5)


def test_history_when_events_applied_then_each_recorded_once_in_order() -> None:
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(E.ACCEPTED, ts_event=9, ts_init=9)  # a late ack: recorded, no change

    assert [e.kind for e in order.events] == [
        E.SUBMITTED,
        E.ACCEPTED,
        E.PARTIALLY_FILLED,
        E.ACCEPTED,
    ]
    assert order.status_changes() == [
        (S.INITIALIZED, S.SUBMITTED),
        (S.SUBMITTED, S.ACCEPTED),
        (S.ACCEPTED, S.PARTIALLY_FILLED),
    ]
    assert order.revision == 4
    assert order.events[2].fill is not None


def test_flags_when_is_inflight_then_submitted_pending_and_unknown() -> None:
    assert order_in(S.SUBMITTED).is_inflight
    assert order_in(S.UNKNOWN).is_inflight
    assert order_in(S.PENDING_CANCEL).is_inflight
    assert not order_in(S.ACCEPTED).is_inflight


def test_repr_when_printed_then_names_id_and_status() -> None:
    text = repr(order_in(S.ACCEPTED))

    assert "qk" in text and "ACCEPTED" in text
