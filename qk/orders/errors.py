"""Typed order errors: an impossible event is reported, never applied.

Every error carries an :class:`~qk.orders.enums.OrderErrorReason` with a stable code. When one is
raised the order is left exactly as it was before the call (events apply all or nothing).
"""

from __future__ import annotations

from qk.orders.enums import OrderErrorReason, OrderEventKind, OrderStatus

__all__ = [
    "InvalidClientOrderId",
    "InvalidFill",
    "InvalidModify",
    "InvalidOrder",
    "InvalidOrderTransition",
    "OrderError",
    "OrderOverfill",
    "OrderRecordMismatch",
]


class OrderError(ValueError):
    """Base of every order error.

    Attributes:
        reason: Typed reason with a stable code.
        client_order_id: The order concerned, 0 if none yet.
    """

    reason: OrderErrorReason = OrderErrorReason.INVALID_ORDER

    def __init__(self, message: str, *, client_order_id: int = 0) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id


class InvalidOrder(OrderError):
    """Order fields that cannot make a valid order."""

    reason = OrderErrorReason.INVALID_ORDER


class InvalidClientOrderId(OrderError):
    """A client order id out of range, or a string that is not one of ours."""

    reason = OrderErrorReason.INVALID_CLIENT_ORDER_ID


class InvalidOrderTransition(OrderError):
    """The transition table has no row for ``(status, event)``.

    Attributes:
        status: The order's status when the event arrived.
        event: The event refused.
    """

    reason = OrderErrorReason.INVALID_TRANSITION

    def __init__(
        self, status: OrderStatus, event: OrderEventKind, *, client_order_id: int = 0
    ) -> None:
        super().__init__(
            f"order {client_order_id:#x}: no transition from {status.name} on {event.name}",
            client_order_id=client_order_id,
        )
        self.status = status
        self.event = event


class OrderOverfill(OrderError):
    """A fill would take the filled quantity beyond the order quantity.

    Attributes:
        quantity: Order quantity (raw).
        filled_quantity: Filled before the fill (raw).
        fill_quantity: The refused fill's quantity (raw).
    """

    reason = OrderErrorReason.OVERFILL

    def __init__(
        self, quantity: int, filled_quantity: int, fill_quantity: int, *, client_order_id: int = 0
    ) -> None:
        super().__init__(
            f"order {client_order_id:#x}: fill of {fill_quantity} on top of {filled_quantity} "
            f"filled exceeds the order quantity {quantity}",
            client_order_id=client_order_id,
        )
        self.quantity = quantity
        self.filled_quantity = filled_quantity
        self.fill_quantity = fill_quantity


class InvalidFill(OrderError):
    """A fill with a non-positive quantity, a zero trade id or bad fields."""

    reason = OrderErrorReason.INVALID_FILL


class InvalidModify(OrderError):
    """A modify that would leave nothing working or breaks the order's fields."""

    reason = OrderErrorReason.INVALID_MODIFY


class OrderRecordMismatch(OrderError):
    """A record names another order, or carries a value this order cannot take."""

    reason = OrderErrorReason.RECORD_MISMATCH
