"""What the simulated exchange reports: one :class:`ExecutionEvent` per order event it applied."""

from __future__ import annotations

from dataclasses import dataclass

from qk.orders import Fill, OrderEventKind, OrderStatus
from qk.schemas.enums import RejectReason

__all__ = ["ExecutionEvent"]


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One order event the simulator produced and applied to its :class:`qk.orders.Order`.

    Attributes:
        client_order_id: The order's client order id (u64 value).
        kind: The lifecycle event (ACCEPTED, REJECTED, PARTIALLY_FILLED, FILLED, CANCELED...).
        status: The order's status after the event.
        ts_event: Simulated venue time of the event, ns.
        reject_reason: For REJECTED / CANCEL_REJECTED / MODIFY_REJECTED, why; NONE otherwise.
        fill: The execution, for PARTIALLY_FILLED / FILLED.
    """

    client_order_id: int
    kind: OrderEventKind
    status: OrderStatus
    ts_event: int
    reject_reason: RejectReason = RejectReason.NONE
    fill: Fill | None = None

    def as_tuple(self) -> tuple[int, ...]:
        """The event as plain ints, for byte-exact comparison and hashing of runs."""
        fill = self.fill
        fill_part: tuple[int, ...] = (
            (fill.trade_id, fill.price, fill.quantity, fill.fee, int(fill.liquidity))
            if fill is not None
            else ()
        )
        return (
            self.client_order_id,
            int(self.kind),
            int(self.status),
            self.ts_event,
            int(self.reject_reason),
            *fill_part,
        )
