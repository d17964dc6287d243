"""Execution test kit: an NSE equity (tick 0.05 = raw 5, lot 1), order builders, an exchange."""

from __future__ import annotations

from decimal import Decimal

from qk.execution import ExecutionEvent, FillModel, LatencyModel, SimulatedExchange
from qk.fees import FeeModel
from qk.instruments import Instrument
from qk.orders import ClientOrderId, Order, OrderEventKind
from qk.schemas.enums import (
    AssetClass,
    InstrumentKind,
    OrderFlag,
    OrderType,
    Product,
    Side,
    TimeInForce,
    Venue,
)

INFY = Instrument(
    instrument_id=1,
    venue=Venue.NSE,
    symbol="INFY",
    asset_class=AssetClass.EQUITY,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.05"),
    lot_size=Decimal(1),
    price_precision=2,
    size_precision=0,
    currency="INR",
    max_quantity=Decimal(100_000),
)
IID = INFY.instrument_id
MS = 1_000_000
"""One millisecond in ns."""

_sequence = 0


def order(
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.MARKET,
    quantity: int = 10,
    *,
    price: int = 0,
    trigger_price: int = 0,
    tif: TimeInForce = TimeInForce.GTC,
    flags: OrderFlag | None = None,
    product: Product = Product.NONE,
    client_order_id: ClientOrderId | None = None,
) -> Order:
    """A fresh INITIALIZED order on INFY (with a new client order id unless one is given)."""
    global _sequence
    _sequence += 1
    return Order(
        client_order_id=client_order_id or ClientOrderId(1, _sequence),
        instrument_id=IID,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        trigger_price=trigger_price,
        time_in_force=tif,
        flags=flags if flags is not None else OrderFlag(0),
        product=product,
    )


def exchange(
    *,
    latency: LatencyModel | None = None,
    fill_model: FillModel | None = None,
    fee_models: tuple[FeeModel, ...] = (),
    position: int = 0,
    session_end: int | None = None,
) -> SimulatedExchange:
    """An exchange trading INFY; ``position`` is the caller's INFY position."""
    return SimulatedExchange(
        [INFY],
        latency=latency,
        fill_model=fill_model,
        fee_models=fee_models,
        position=lambda _: position,
        session_end=session_end,
    )


def kinds(events: list[ExecutionEvent]) -> list[OrderEventKind]:
    """The event kinds, in order."""
    return [event.kind for event in events]


def fills(events: list[ExecutionEvent]) -> list[tuple[int, int]]:
    """(price, quantity) of every fill, in order."""
    return [(e.fill.price, e.fill.quantity) for e in events if e.fill is not None]
