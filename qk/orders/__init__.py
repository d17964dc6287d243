"""The order lifecycle: one transition table, the order model, client order ids, venue status
mappings and record conversions (DESIGN.md §7; ``docs/orders.md``).

::

    ids = ClientOrderIdGenerator(strategy_id=7)
    order = Order(client_order_id=ids.next(), instrument_id=3, side=Side.BUY,
                  order_type=OrderType.LIMIT, quantity=100, price=2_500_00)
    order.apply(OrderEventKind.SUBMITTED, ts_event=t, ts_init=t)
    order.apply(OrderEventKind.ACCEPTED, ts_event=t, ts_init=t, venue_order_id="8231")
    order.apply_fill(Fill(trade_id=1, price=2_500_00, quantity=40))   # PARTIALLY_FILLED
"""

from qk.orders.client_order_id import ClientOrderId, ClientOrderIdGenerator
from qk.orders.enums import OrderErrorReason, OrderEventKind, OrderStatus
from qk.orders.errors import (
    InvalidClientOrderId,
    InvalidFill,
    InvalidModify,
    InvalidOrder,
    InvalidOrderTransition,
    OrderError,
    OrderOverfill,
    OrderRecordMismatch,
)
from qk.orders.order import Fill, Order, OrderEvent
from qk.orders.transitions import (
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    TRANSITION_ROWS,
    TRANSITIONS,
    WORKING,
    Transition,
    transition_of,
)

__all__ = [
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "TRANSITION_ROWS",
    "WORKING",
    "ClientOrderId",
    "ClientOrderIdGenerator",
    "Fill",
    "InvalidClientOrderId",
    "InvalidFill",
    "InvalidModify",
    "InvalidOrder",
    "InvalidOrderTransition",
    "Order",
    "OrderError",
    "OrderErrorReason",
    "OrderEvent",
    "OrderEventKind",
    "OrderOverfill",
    "OrderRecordMismatch",
    "OrderStatus",
    "Transition",
    "transition_of",
]
