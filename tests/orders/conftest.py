"""Order test kit: build orders and drive them into any status through real events."""

from __future__ import annotations

import itertools

from qk.orders import ClientOrderId, Fill, Order, OrderEvent, OrderEventKind, OrderStatus
from qk.schemas.enums import OrderType, Side, TimeInForce

E = OrderEventKind
S = OrderStatus

QUANTITY = 10
"""Quantity of kit orders (raw)."""
PARTIAL = 3
"""Quantity of the kit's partial fills."""

_trade_ids = itertools.count(1_000)

PATH_TO: dict[OrderStatus, tuple[OrderEventKind, ...]] = {
    S.INITIALIZED: (),
    S.DENIED: (E.DENIED,),
    S.SUBMITTED: (E.SUBMITTED,),
    S.ACCEPTED: (E.SUBMITTED, E.ACCEPTED),
    S.REJECTED: (E.SUBMITTED, E.REJECTED),
    S.TRIGGERED: (E.SUBMITTED, E.ACCEPTED, E.TRIGGERED),
    S.PENDING_MODIFY: (E.SUBMITTED, E.ACCEPTED, E.MODIFY_PENDING),
    S.PENDING_CANCEL: (E.SUBMITTED, E.ACCEPTED, E.CANCEL_PENDING),
    S.PARTIALLY_FILLED: (E.SUBMITTED, E.ACCEPTED, E.PARTIALLY_FILLED),
    S.FILLED: (E.SUBMITTED, E.ACCEPTED, E.FILLED),
    S.CANCELED: (E.SUBMITTED, E.ACCEPTED, E.CANCELED),
    S.EXPIRED: (E.SUBMITTED, E.ACCEPTED, E.EXPIRED),
    S.UNKNOWN: (E.SUBMITTED, E.STATUS_UNKNOWN),
}
"""A shortest realistic event path from creation to each status."""


def make_order(
    *,
    order_type: OrderType = OrderType.STOP_LIMIT,
    quantity: int = QUANTITY,
    sequence: int = 1,
) -> Order:
    """A buy order for 10 (raw) of instrument 3, strategy 7; a stop-limit by default."""
    priced = order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
    stop = order_type not in (OrderType.MARKET, OrderType.LIMIT)
    return Order(
        client_order_id=ClientOrderId(7, sequence),
        instrument_id=3,
        side=Side.BUY,
        order_type=order_type,
        quantity=quantity,
        price=250_000 if priced else 0,
        trigger_price=249_000 if stop else 0,
        time_in_force=TimeInForce.GTC,
        ts_init=1_000,
    )


def fill(quantity: int, *, price: int = 250_000, trade_id: int | None = None) -> Fill:
    """A fill with a fresh trade id unless one is given."""
    return Fill(
        trade_id=next(_trade_ids) if trade_id is None else trade_id,
        price=price,
        quantity=quantity,
        fee=5,
        fee_currency="USDT",
        ts_event=2_000,
        ts_init=2_001,
    )


def apply_event(order: Order, kind: OrderEventKind, ts: int = 2_000) -> OrderEvent | None:
    """Apply any event kind: fills get a quantity that makes them what ``kind`` says."""
    if kind is E.FILLED:
        return order.apply_fill(fill(order.leaves_quantity))
    if kind is E.PARTIALLY_FILLED:
        return order.apply_fill(fill(min(PARTIAL, order.leaves_quantity - 1)))
    if kind is E.MODIFIED:
        return order.apply_modified(ts_event=ts, ts_init=ts + 1)
    return order.apply(kind, ts_event=ts, ts_init=ts + 1)


def order_in(status: OrderStatus, **kwargs: object) -> Order:
    """A kit order driven to ``status`` along :data:`PATH_TO`."""
    order = make_order(**kwargs)  # type: ignore[arg-type]
    for kind in PATH_TO[status]:
        apply_event(order, kind)
    assert order.status is status
    return order


def snapshot(order: Order) -> tuple[object, ...]:
    """Everything an event may change, to prove a refused event changed nothing."""
    return (
        order.status,
        order.filled_quantity,
        order.notional,
        order.revision,
        order.events,
        order.fills,
        order.fees,
        order.price,
        order.trigger_price,
        order.quantity,
        order.venue_order_id,
        order.triggered,
        order.reject_reason,
        order.ts_last,
    )
