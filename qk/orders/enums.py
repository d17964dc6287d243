"""Order states, lifecycle event kinds and order error reasons.

:class:`OrderStatus` and :class:`OrderEventKind` are the record enums of :mod:`qk.schemas.enums`
(one definition), re-exported here beside the order-specific error reasons.
"""

from __future__ import annotations

from enum import IntEnum

# The states and events are the record enums themselves (one definition: qk/schemas/enums.py),
# so an OrderUpdate record carries exactly the lifecycle the table runs.
from qk.schemas.enums import OrderEventKind, OrderStatus

__all__ = ["OrderErrorReason", "OrderEventKind", "OrderStatus"]


class OrderErrorReason(IntEnum):
    """Why an order event or command was refused; stable codes for logs and alerts."""

    INVALID_TRANSITION = 1
    """The transition table has no row for (status, event)."""
    OVERFILL = 2
    """The fill would take the filled quantity beyond the order quantity."""
    INVALID_FILL = 3
    """A fill with a non-positive quantity, a zero trade id or an unknown liquidity side."""
    INVALID_ORDER = 4
    """Order fields that cannot make a valid order (quantity, prices, time in force...)."""
    INVALID_MODIFY = 5
    """A modify that would leave no quantity working or breaks the order's fields."""
    INVALID_CLIENT_ORDER_ID = 6
    """A client order id out of range or a string that is not one of ours."""
    RECORD_MISMATCH = 7
    """A record names another order or carries a value this order cannot take."""
