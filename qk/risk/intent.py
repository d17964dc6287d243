"""What the risk engine reads and writes: order intents, decisions, cancel commands."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qk.orders import Order
from qk.risk.errors import InvalidRiskInput
from qk.risk.reasons import DenialReason
from qk.schemas.enums import OrderFlag, OrderType, Side


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order a strategy wants to send, before it reaches the OMS.

    Attributes:
        strategy_id: Owner (> 0).
        instrument_id: Instrument master id.
        side: Buy or sell.
        order_type: Market, limit, stop...
        quantity: Raw quantity at the instrument's size_precision, > 0.
        price: Raw limit price (0 for market types).
        trigger_price: Raw trigger (0 unless a stop / take-profit type).
        reduce_only: The order may only reduce a position.
        client_order_id: Packed client order id (0 if not assigned yet), copied into events.
    """

    strategy_id: int
    instrument_id: int
    side: Side
    order_type: OrderType
    quantity: int
    price: int = 0
    trigger_price: int = 0
    reduce_only: bool = False
    client_order_id: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side) or not isinstance(self.order_type, OrderType):
            raise InvalidRiskInput(
                f"intent side/order_type must be Side/OrderType, got {self.side!r}, "
                f"{self.order_type!r}"
            )
        for name, low in (("strategy_id", 1), ("instrument_id", 1), ("quantity", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidRiskInput(f"intent {name} must be an int >= {low}, got {value!r}")
        for name in ("price", "trigger_price"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidRiskInput(f"intent {name} must be an int >= 0, got {value!r}")

    @property
    def signed_quantity(self) -> int:
        """Quantity with the side's sign (+ buy, - sell)."""
        return self.quantity if self.side is Side.BUY else -self.quantity

    @classmethod
    def from_order(cls, order: Order) -> OrderIntent:
        """The intent of an INITIALIZED order (the OMS asks risk before submitting it)."""
        return cls(
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            price=order.price,
            trigger_price=order.trigger_price,
            reduce_only=bool(order.flags & OrderFlag.REDUCE_ONLY),
            client_order_id=order.client_order_id.value,
        )


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The answer to a pre-trade check.

    Attributes:
        approved: True if the order may go to the OMS.
        reason: Why it was denied (None when approved).
        limit_value: The limit that was breached (unit of the check; see ``docs/risk.md``).
        observed_value: The value that breached it.
        detail: Short human text.
        event: The RiskEvent record (a 1-element structured array), None when approved.
    """

    approved: bool
    reason: DenialReason | None = None
    limit_value: int = 0
    observed_value: int = 0
    detail: str = ""
    event: np.ndarray | None = None


APPROVED = RiskDecision(approved=True)
"""The one approval object: approvals allocate nothing."""


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """A cancel command the OMS sends (imperative, as NautilusTrader's CancelOrder)."""

    strategy_id: int
    client_order_id: int


@dataclass(frozen=True, slots=True)
class KillSwitchResult:
    """What engaging the kill switch asks the OMS to do.

    Attributes:
        cancels: One cancel per open or in-flight order in scope.
        flatten: Reduce-only market intents closing each non-flat position in scope (empty unless
            flattening was asked, and for positions already being flattened).
        newly_engaged: False when the switch was already engaged for this scope.
    """

    cancels: tuple[CancelOrder, ...]
    flatten: tuple[OrderIntent, ...]
    newly_engaged: bool
