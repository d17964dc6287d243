"""Orders to and from records (OrderIntent, OrderAck, OrderUpdate, FillEvent).

Records are how orders cross rings and the WAL (``docs/schemas.md``). Each ``*_record`` function
returns a new 1-element structured array of the record's dtype; ``write_*`` variants fill a record
the caller owns (a ring slot) without allocating. Readers accept a 1-element array or a record
scalar (``array[i]``).

Timestamps: a record's ``ts_event`` is the event's ``ts_event``, its ``ts_recv`` is our
``ts_init`` (local time the event was made).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from qk.orders.client_order_id import ClientOrderId
from qk.orders.enums import OrderEventKind, OrderStatus
from qk.orders.errors import InvalidOrder, OrderRecordMismatch
from qk.orders.order import Fill, Order, OrderEvent
from qk.schemas import dtype_of, new_records, record_type_of
from qk.schemas.enums import (
    AckResult,
    LiquiditySide,
    OrderAction,
    OrderFlag,
    OrderType,
    Product,
    RejectReason,
    Side,
    TimeInForce,
)

__all__ = [
    "RECORD_EVENT_KIND",
    "ack_event",
    "ack_record",
    "apply_ack_record",
    "apply_fill_record",
    "fill_from_record",
    "fill_record",
    "intent_record",
    "order_from_intent",
    "order_from_update",
    "update_record",
    "write_fill",
    "write_intent",
    "write_update",
]

RECORD_EVENT_KIND: Final[dict[OrderEventKind, int]] = {kind: kind.value for kind in OrderEventKind}
"""Event kind -> the OrderUpdate ``event`` u8: the same enum, so the identity."""

_ACK_EVENTS: Final[dict[tuple[OrderAction, AckResult], OrderEventKind]] = {
    (OrderAction.NEW, AckResult.ACCEPTED): OrderEventKind.ACCEPTED,
    (OrderAction.NEW, AckResult.REJECTED): OrderEventKind.REJECTED,
    # An accepted cancel ack means the venue cancelled the order (Binance DELETE answers
    # CANCELED). A gateway whose venue only queues the cancel (Kite answers with the order id
    # and reports CANCELLED later) must not send an accepted CANCEL ack until then.
    (OrderAction.CANCEL, AckResult.ACCEPTED): OrderEventKind.CANCELED,
    (OrderAction.CANCEL, AckResult.REJECTED): OrderEventKind.CANCEL_REJECTED,
    (OrderAction.MODIFY, AckResult.ACCEPTED): OrderEventKind.MODIFIED,
    (OrderAction.MODIFY, AckResult.REJECTED): OrderEventKind.MODIFY_REJECTED,
}

Record = npt.NDArray[np.void] | np.void


def _one(record: Record, name: str) -> np.void:
    if isinstance(record, np.ndarray):
        if record.shape not in ((1,), ()):
            raise OrderRecordMismatch(f"expected one {name} record, got shape {record.shape}")
        record = record.reshape(1)[0]
    if not isinstance(record, np.void) or record.dtype.names is None:
        raise OrderRecordMismatch(f"expected a {name} record, got {type(record).__name__}")
    expected = dtype_of(name)
    type_id = record_type_of(name).value
    if record.dtype != expected or int(record["type"]) != type_id:
        raise OrderRecordMismatch(
            f"expected a {name} record (type {type_id}), got type {int(record['type'])}"
        )
    return record


def _enum(kind: Any, value: object, field: str, name: str) -> Any:
    try:
        return kind(int(value))  # type: ignore[call-overload]
    except ValueError:
        raise OrderRecordMismatch(
            f"{name} field {field}: {value!r} is not a {kind.__name__}"
        ) from None


def _text(value: object) -> str:
    assert isinstance(value, bytes)
    return value.rstrip(b"\0").decode("ascii")


def _header(rec: np.void, ts_event: int, ts_recv: int, seq: int, corr_id: int) -> None:
    rec["ts_event"] = ts_event
    rec["ts_recv"] = ts_recv
    rec["seq"] = seq
    rec["corr_id"] = corr_id


def _write_static(rec: np.void, order: Order) -> None:
    rec["strategy_id"] = order.strategy_id
    rec["instrument_id"] = order.instrument_id
    rec["client_order_id"] = order.client_order_id.value
    rec["side"] = order.side
    rec["order_type"] = order.order_type
    rec["time_in_force"] = order.time_in_force
    rec["product"] = order.product
    rec["order_flags"] = int(order.flags)
    rec["price"] = order.price
    rec["trigger_price"] = order.trigger_price
    rec["quantity"] = order.quantity
    rec["expire_time"] = order.expire_time


def _order_from_static(rec: np.void, name: str, ts_init: int) -> Order:
    client_order_id = ClientOrderId.from_int(int(rec["client_order_id"]))
    if client_order_id.strategy_id != int(rec["strategy_id"]):
        raise OrderRecordMismatch(
            f"{name}: strategy_id {int(rec['strategy_id'])} does not match client order id "
            f"{client_order_id.to_text()} (strategy {client_order_id.strategy_id})"
        )
    try:
        return Order(
            client_order_id=client_order_id,
            instrument_id=int(rec["instrument_id"]),
            side=_enum(Side, rec["side"], "side", name),
            order_type=_enum(OrderType, rec["order_type"], "order_type", name),
            quantity=int(rec["quantity"]),
            price=int(rec["price"]),
            trigger_price=int(rec["trigger_price"]),
            time_in_force=_enum(TimeInForce, rec["time_in_force"], "time_in_force", name),
            flags=OrderFlag(int(rec["order_flags"])),
            product=_enum(Product, rec["product"], "product", name),
            expire_time=int(rec["expire_time"]),
            ts_init=ts_init,
        )
    except InvalidOrder as exc:
        raise OrderRecordMismatch(f"{name}: {exc}") from None


# --------------------------------------------------------------------------------- intents
def write_intent(
    rec: np.void,
    order: Order,
    *,
    action: OrderAction = OrderAction.NEW,
    ts_event: int | None = None,
    ts_recv: int | None = None,
    seq: int = 0,
    corr_id: int = 0,
) -> None:
    """Fill an OrderIntent record from an order.

    Args:
        rec: An OrderIntent record (header type/size already set, e.g. by ``new_records``).
        order: The order.
        action: NEW, CANCEL or MODIFY (a MODIFY intent carries the order's current fields;
            set the new ones on the record afterwards).
        ts_event: Market time of the decision; default ``order.ts_init``.
        ts_recv: Local time; default ``order.ts_init``.
        seq: Producer sequence.
        corr_id: Correlation id of the tick that caused it.
    """
    _header(
        rec,
        order.ts_init if ts_event is None else ts_event,
        order.ts_init if ts_recv is None else ts_recv,
        seq,
        corr_id,
    )
    _write_static(rec, order)
    rec["action"] = action
    rec["display_quantity"] = 0


def intent_record(order: Order, *, source: int = 0, **kwargs: Any) -> npt.NDArray[np.void]:
    """A new 1-element OrderIntent array for an order (arguments as :func:`write_intent`)."""
    array = new_records("OrderIntent", 1, source=source)
    write_intent(array[0], order, **kwargs)
    return array


def order_from_intent(record: Record) -> Order:
    """Create the order (status INITIALIZED) a NEW intent asks for.

    Raises:
        OrderRecordMismatch: Not a NEW OrderIntent, or fields that make no valid order.
    """
    rec = _one(record, "OrderIntent")
    action = _enum(OrderAction, rec["action"], "action", "OrderIntent")
    if action is not OrderAction.NEW:
        raise OrderRecordMismatch(f"OrderIntent action is {action.name}; only NEW creates orders")
    if int(rec["display_quantity"]):
        raise OrderRecordMismatch("OrderIntent display_quantity (iceberg) is not supported yet")
    return _order_from_static(rec, "OrderIntent", int(rec["ts_recv"]))


# --------------------------------------------------------------------------------- updates
def write_update(rec: np.void, order: Order, *, seq: int = 0, corr_id: int = 0) -> None:
    """Fill an OrderUpdate record with the order's state after its last event.

    Args:
        rec: An OrderUpdate record.
        order: The order; its last event (or INITIALIZED if none) names the transition.
        seq: Producer sequence.
        corr_id: Correlation id.
    """
    last: OrderEvent | None = order.events[-1] if order.events else None
    if last is None:
        kind, ts_event, ts_init = OrderEventKind.INITIALIZED, order.ts_init, order.ts_init
    else:
        kind, ts_event, ts_init = last.kind, last.ts_event, last.ts_init
    _header(rec, ts_event, ts_init, seq, corr_id)
    _write_static(rec, order)
    rec["venue_order_id"] = order.venue_order_id.encode("ascii")
    rec["event"] = RECORD_EVENT_KIND[kind]
    rec["status"] = order.status
    rec["reject_reason"] = order.reject_reason
    rec["venue_error_code"] = order.venue_error_code
    rec["revision"] = order.revision
    rec["filled_quantity"] = order.filled_quantity
    rec["leaves_quantity"] = order.leaves_quantity
    rec["avg_price"] = order.avg_price_raw()


def update_record(
    order: Order, *, source: int = 0, seq: int = 0, corr_id: int = 0
) -> npt.NDArray[np.void]:
    """A new 1-element OrderUpdate array (see :func:`write_update`)."""
    array = new_records("OrderUpdate", 1, source=source)
    write_update(array[0], order, seq=seq, corr_id=corr_id)
    return array


def order_from_update(record: Record) -> Order:
    """Rebuild an order from an OrderUpdate snapshot (recovery).

    The result has the snapshot's status, quantities, rounded average and revision, and no
    event history (see :meth:`Order.restore`). OrderUpdate has no creation time, so
    ``ts_init`` is 0 (unknown) and ``ts_last`` is the record's ``ts_event``.

    Raises:
        OrderRecordMismatch: Not an OrderUpdate, or inconsistent fields.
    """
    rec = _one(record, "OrderUpdate")
    # OrderUpdate does not carry the creation time: ts_init is 0 (unknown) on a restored order.
    order = _order_from_static(rec, "OrderUpdate", 0)
    filled, leaves = int(rec["filled_quantity"]), int(rec["leaves_quantity"])
    if filled + leaves != order.quantity:
        raise OrderRecordMismatch(
            f"OrderUpdate filled {filled} + leaves {leaves} != quantity {order.quantity}"
        )
    try:
        return order.restore(
            status=_enum(OrderStatus, rec["status"], "status", "OrderUpdate"),
            filled_quantity=filled,
            avg_price_raw=int(rec["avg_price"]),
            revision=int(rec["revision"]),
            venue_order_id=_text(rec["venue_order_id"]),
            reject_reason=_enum(RejectReason, rec["reject_reason"], "reject_reason", "OrderUpdate"),
            venue_error_code=int(rec["venue_error_code"]),
            ts_last=int(rec["ts_event"]),
        )
    except InvalidOrder as exc:
        raise OrderRecordMismatch(f"OrderUpdate: {exc}") from None


# --------------------------------------------------------------------------------- fills
def _filled_after(order: Order, fill: Fill) -> int:
    filled = 0
    for booked in order.fills:
        filled += booked.quantity
        if booked.trade_id == fill.trade_id:
            return filled
    raise OrderRecordMismatch(f"trade {fill.trade_id} is not a fill of this order")


def write_fill(rec: np.void, order: Order, fill: Fill, *, seq: int = 0, corr_id: int = 0) -> None:
    """Fill a FillEvent record for one of the order's booked fills.

    Raises:
        OrderRecordMismatch: ``fill`` was not booked on ``order``.
    """
    filled = _filled_after(order, fill)
    _header(rec, fill.ts_event, fill.ts_init, seq, corr_id)
    rec["strategy_id"] = order.strategy_id
    rec["instrument_id"] = order.instrument_id
    rec["client_order_id"] = order.client_order_id.value
    rec["venue_order_id"] = order.venue_order_id.encode("ascii")
    rec["trade_id"] = fill.trade_id
    rec["side"] = order.side
    rec["liquidity"] = fill.liquidity
    rec["price"] = fill.price
    rec["quantity"] = fill.quantity
    rec["filled_quantity"] = filled
    rec["leaves_quantity"] = order.quantity - filled
    rec["fee"] = fill.fee
    rec["fee_currency"] = fill.fee_currency.encode("ascii")


def fill_record(
    order: Order, fill: Fill, *, source: int = 0, seq: int = 0, corr_id: int = 0
) -> npt.NDArray[np.void]:
    """A new 1-element FillEvent array (see :func:`write_fill`)."""
    array = new_records("FillEvent", 1, source=source)
    write_fill(array[0], order, fill, seq=seq, corr_id=corr_id)
    return array


def fill_from_record(record: Record) -> Fill:
    """The Fill a FillEvent carries.

    Raises:
        OrderRecordMismatch: Not a FillEvent, or a bad liquidity value.
        InvalidFill: Fields that make no valid fill.
    """
    rec = _one(record, "FillEvent")
    return Fill(
        trade_id=int(rec["trade_id"]),
        price=int(rec["price"]),
        quantity=int(rec["quantity"]),
        fee=int(rec["fee"]),
        fee_currency=_text(rec["fee_currency"]),
        liquidity=_enum(LiquiditySide, rec["liquidity"], "liquidity", "FillEvent"),
        ts_event=int(rec["ts_event"]),
        ts_init=int(rec["ts_recv"]),
    )


def _check_same_order(order: Order, rec: np.void, name: str) -> None:
    if int(rec["client_order_id"]) != order.client_order_id.value:
        raise OrderRecordMismatch(
            f"{name} is for client order id {int(rec['client_order_id']):#x}, "
            f"not {order.client_order_id.value:#x}",
            client_order_id=order.client_order_id.value,
        )


def apply_fill_record(
    order: Order, record: Record, *, reconciliation: bool = False
) -> OrderEvent | None:
    """Book the fill of a FillEvent on its order (None for a duplicate trade id).

    Raises:
        OrderRecordMismatch: The record is for another order.
        OrderError: Whatever :meth:`Order.apply_fill` raises.
    """
    rec = _one(record, "FillEvent")
    _check_same_order(order, rec, "FillEvent")
    venue_order_id = _text(rec["venue_order_id"])
    event = order.apply_fill(fill_from_record(rec), reconciliation=reconciliation)
    if event is not None and venue_order_id and not order.venue_order_id:
        order.venue_order_id = venue_order_id
    return event


# --------------------------------------------------------------------------------- acks
def ack_record(
    order: Order,
    *,
    action: OrderAction,
    result: AckResult,
    ts_event: int,
    ts_recv: int,
    reject_reason: RejectReason = RejectReason.NONE,
    venue_error_code: int = 0,
    source: int = 0,
    seq: int = 0,
    corr_id: int = 0,
) -> npt.NDArray[np.void]:
    """A new 1-element OrderAck array (what a gateway or the simulator writes)."""
    array = new_records("OrderAck", 1, source=source)
    rec = array[0]
    _header(rec, ts_event, ts_recv, seq, corr_id)
    rec["strategy_id"] = order.strategy_id
    rec["instrument_id"] = order.instrument_id
    rec["client_order_id"] = order.client_order_id.value
    rec["venue_order_id"] = order.venue_order_id.encode("ascii")
    rec["action"] = action
    rec["result"] = result
    rec["reject_reason"] = reject_reason
    rec["venue_error_code"] = venue_error_code
    return array


def ack_event(record: Record) -> OrderEventKind:
    """The lifecycle event an OrderAck means.

    Raises:
        OrderRecordMismatch: Not an OrderAck, or an action/result without a meaning here
            (CANCEL_ALL is answered per order).
    """
    rec = _one(record, "OrderAck")
    action = _enum(OrderAction, rec["action"], "action", "OrderAck")
    result = _enum(AckResult, rec["result"], "result", "OrderAck")
    event = _ACK_EVENTS.get((action, result))
    if event is None:
        raise OrderRecordMismatch(f"OrderAck {action.name}/{result.name} maps to no order event")
    return event


def apply_ack_record(order: Order, record: Record, *, reconciliation: bool = False) -> OrderEvent:
    """Apply an OrderAck to its order.

    Raises:
        OrderRecordMismatch: The ack is for another order or means nothing here.
        OrderError: Whatever :meth:`Order.apply` raises (an impossible transition...).
    """
    rec = _one(record, "OrderAck")
    _check_same_order(order, rec, "OrderAck")
    kind = ack_event(rec)
    venue_order_id = _text(rec["venue_order_id"]) or None
    reason = _enum(RejectReason, rec["reject_reason"], "reject_reason", "OrderAck")
    ts_event, ts_init = int(rec["ts_event"]), int(rec["ts_recv"])
    if kind is OrderEventKind.MODIFIED:
        # The ack says the modify was applied; new field values come with the venue's update.
        return order.apply_modified(
            ts_event=ts_event,
            ts_init=ts_init,
            venue_order_id=venue_order_id,
            reconciliation=reconciliation,
        )
    return order.apply(
        kind,
        ts_event=ts_event,
        ts_init=ts_init,
        venue_order_id=venue_order_id,
        reject_reason=reason,
        venue_error_code=int(rec["venue_error_code"]),
        reconciliation=reconciliation,
    )
