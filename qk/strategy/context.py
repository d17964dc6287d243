"""What the engine gives a strategy: order commands, state queries, the clock, timers, a logger.

The engine (backtest, paper or live runtime) implements :class:`StrategyContext`; a strategy only
ever talks to it. That is also the sandbox boundary: the context hands out market time (never
the wall clock), instrument data, its own positions and account, and nothing else — no sockets,
files, environment or credentials. :class:`~qk.strategy.RecordingContext` implements it in
memory for unit tests.

Prices and quantities cross this boundary as exact ``Decimal`` in instrument units (``0.01``
BTC, ``50000.12`` USDT); the engine converts to raw fixed point with the instrument's precisions.
Floats are refused: a float quantity is a rounding bug waiting to happen.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from qk.instruments import Instrument
from qk.orders import ClientOrderId, Order
from qk.schemas.enums import OrderFlag, OrderType, Side, TimeInForce
from qk.strategy.errors import InvalidOrderRequest, OrderRequestReason

__all__ = [
    "AccountView",
    "Clock",
    "PositionView",
    "StrategyContext",
    "check_price",
    "check_quantity",
    "deployed_instrument",
    "new_order",
]


class Clock(Protocol):
    """Market time: the ts_event of the event being processed in a backtest, the engine's
    clock live. A strategy must use this, never ``time.time()``, or backtests stop replaying."""

    def now_ns(self) -> int:
        """Current time, ns since epoch UTC."""
        ...


@dataclass(frozen=True, slots=True)
class PositionView:
    """A strategy's position in one instrument, read-only.

    Attributes:
        instrument_id: The instrument.
        quantity: Signed open quantity in instrument units (> 0 long, < 0 short, 0 flat).
        average_price: Average open price, None when flat.
    """

    instrument_id: int
    quantity: Decimal
    average_price: Decimal | None = None

    @property
    def is_flat(self) -> bool:
        """True when no quantity is open."""
        return self.quantity == 0


@dataclass(frozen=True, slots=True)
class AccountView:
    """A strategy's account in one currency, read-only.

    Attributes:
        currency: Currency of every amount.
        cash: Deposits + realised PnL - fees.
        equity: Cash + unrealised PnL.
    """

    currency: str
    cash: Decimal
    equity: Decimal


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return Decimal(value)


def check_quantity(instrument: Instrument, quantity: object) -> Decimal:
    """Validate an order quantity: a positive Decimal or int, a multiple of the lot size.

    Engines call this too, so the test double refuses exactly what the engine refuses.

    Raises:
        InvalidOrderRequest: BAD_QUANTITY, naming the value and the lot.
    """
    value = _as_decimal(quantity)
    if value is None or not value.is_finite() or value <= 0:
        raise InvalidOrderRequest(
            OrderRequestReason.BAD_QUANTITY,
            f"quantity must be a positive Decimal or int (not a float), got {quantity!r}",
        )
    if value % instrument.lot_size != 0:
        raise InvalidOrderRequest(
            OrderRequestReason.BAD_QUANTITY,
            f"quantity {value} of {instrument.name} is not a multiple of its lot size "
            f"{instrument.lot_size}",
        )
    return value


def check_price(instrument: Instrument, price: object, what: str = "price") -> Decimal:
    """Validate a price: a positive Decimal or int, a multiple of the tick size.

    Raises:
        InvalidOrderRequest: BAD_PRICE, naming the value and the tick.
    """
    value = _as_decimal(price)
    if value is None or not value.is_finite() or value <= 0:
        raise InvalidOrderRequest(
            OrderRequestReason.BAD_PRICE,
            f"{what} must be a positive Decimal or int (not a float), got {price!r}",
        )
    if value % instrument.tick_size != 0:
        raise InvalidOrderRequest(
            OrderRequestReason.BAD_PRICE,
            f"{what} {value} of {instrument.name} is not a multiple of its tick size "
            f"{instrument.tick_size}",
        )
    return value


def deployed_instrument(
    key: int | str, by_id: Mapping[int, Instrument], strategy_id: int
) -> Instrument:
    """What every engine's :meth:`StrategyContext.instrument` answers: the deployed instrument
    with id ``key`` (an int) or symbol ``key`` (a str).

    Raises:
        InvalidOrderRequest: UNKNOWN_INSTRUMENT, listing the deployed ones.
    """
    if isinstance(key, str):
        found = next((i for i in by_id.values() if i.symbol == key), None)
    else:
        found = by_id.get(key)
    if found is None:
        deployed = ", ".join(i.name for i in by_id.values()) or "none"
        raise InvalidOrderRequest(
            OrderRequestReason.UNKNOWN_INSTRUMENT,
            f"instrument {key!r} is not deployed for strategy {strategy_id} (deployed: {deployed})",
        )
    return found


def new_order(
    instrument: Instrument,
    next_id: Callable[[], ClientOrderId],
    side: Side,
    order_type: OrderType,
    quantity: Decimal | int,
    price: Decimal | int | None,
    trigger_price: Decimal | int | None,
    time_in_force: TimeInForce,
    post_only: bool,
    ts_init: int,
) -> Order:
    """A strategy's order request as an INITIALIZED :class:`~qk.orders.Order` in raw units.

    Every engine's ``_submit`` builds its order here. The values are checked before
    ``next_id`` is called, so a refused command never consumes a sequence number.

    Raises:
        InvalidOrderRequest: BAD_QUANTITY or BAD_PRICE.
    """
    raw_quantity = instrument.quantity_to_raw(check_quantity(instrument, quantity))
    raw_price = 0 if price is None else instrument.price_to_raw(check_price(instrument, price))
    raw_trigger = (
        0
        if trigger_price is None
        else instrument.price_to_raw(check_price(instrument, trigger_price, "trigger"))
    )
    return Order(
        client_order_id=next_id(),
        instrument_id=instrument.instrument_id,
        side=Side(side),
        order_type=order_type,
        quantity=raw_quantity,
        price=raw_price,
        trigger_price=raw_trigger,
        time_in_force=time_in_force,
        flags=OrderFlag.POST_ONLY if post_only else OrderFlag(0),
        ts_init=ts_init,
    )


class StrategyContext(ABC):
    """The engine as a strategy sees it. Order commands return at once with the client order
    id; what happens next arrives later through ``on_order_update`` / ``on_fill`` /
    ``on_risk_event`` (a command is a request, not a result: risk may still deny it).
    """

    # -- identity and time --------------------------------------------------------------------

    @property
    @abstractmethod
    def strategy_id(self) -> int:
        """This strategy's id (1..16_777_215): the high bits of its client order ids."""

    @property
    @abstractmethod
    def clock(self) -> Clock:
        """Market time. The only clock a strategy may read."""

    @property
    @abstractmethod
    def log(self) -> Any:
        """A structlog bound logger with ``strategy_id`` bound (``log.info("entered", qty=q)``).

        Typed ``Any`` because structlog's bound loggers are dynamically built.
        """

    # -- order commands -----------------------------------------------------------------------

    def submit_market(
        self,
        instrument_id: int,
        side: Side,
        quantity: Decimal | int,
        *,
        time_in_force: TimeInForce = TimeInForce.IOC,
    ) -> ClientOrderId:
        """Submit a market order.

        Args:
            instrument_id: One of the deployment's instruments.
            side: BUY or SELL.
            quantity: Instrument units, a multiple of the lot size.
            time_in_force: IOC by default (a market order does not rest).

        Returns:
            The order's client order id (deterministic: strategy id + sequence).

        Raises:
            InvalidOrderRequest: Unknown instrument, bad quantity.
        """
        return self._submit(
            instrument_id, side, OrderType.MARKET, quantity, None, None, time_in_force, False
        )

    def submit_limit(
        self,
        instrument_id: int,
        side: Side,
        quantity: Decimal | int,
        price: Decimal | int,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
    ) -> ClientOrderId:
        """Submit a limit order at ``price`` (a multiple of the tick size).

        Raises:
            InvalidOrderRequest: Unknown instrument, bad quantity or price.
        """
        return self._submit(
            instrument_id, side, OrderType.LIMIT, quantity, price, None, time_in_force, post_only
        )

    def submit_stop(
        self,
        instrument_id: int,
        side: Side,
        quantity: Decimal | int,
        trigger_price: Decimal | int,
        *,
        limit_price: Decimal | int | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
    ) -> ClientOrderId:
        """Submit a stop order: STOP_MARKET, or STOP_LIMIT when ``limit_price`` is given.

        Raises:
            InvalidOrderRequest: Unknown instrument, bad quantity or prices.
        """
        order_type = OrderType.STOP_MARKET if limit_price is None else OrderType.STOP_LIMIT
        return self._submit(
            instrument_id, side, order_type, quantity, limit_price, trigger_price,
            time_in_force, False,
        )  # fmt: skip

    @abstractmethod
    def _submit(
        self,
        instrument_id: int,
        side: Side,
        order_type: OrderType,
        quantity: Decimal | int,
        price: Decimal | int | None,
        trigger_price: Decimal | int | None,
        time_in_force: TimeInForce,
        post_only: bool,
    ) -> ClientOrderId:
        """The one place an engine (or test double) turns a submit into an order.

        Implementations validate with :func:`check_quantity`/:func:`check_price` before taking a
        client order id, so a refused command never consumes a sequence number.
        """

    @abstractmethod
    def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | int | None = None,
        price: Decimal | int | None = None,
        trigger_price: Decimal | int | None = None,
    ) -> None:
        """Request a change of a working order; None leaves a field as it is.

        Raises:
            InvalidOrderRequest: Unknown order, nothing to change, bad values.
        """

    @abstractmethod
    def cancel(self, client_order_id: ClientOrderId) -> None:
        """Request the cancel of a working order.

        Raises:
            InvalidOrderRequest: An order this strategy never submitted.
        """

    # -- queries ------------------------------------------------------------------------------

    @abstractmethod
    def position(self, instrument_id: int) -> PositionView:
        """This strategy's position in an instrument (flat if never traded)."""

    @property
    @abstractmethod
    def account(self) -> AccountView:
        """This strategy's account in the deployment's currency."""

    @abstractmethod
    def instrument(self, key: int | str) -> Instrument:
        """One of the deployment's instruments, by id or by symbol.

        Raises:
            InvalidOrderRequest: UNKNOWN_INSTRUMENT (not deployed on it).
        """

    # -- timers -------------------------------------------------------------------------------

    @abstractmethod
    def schedule_timer(
        self, name: str, *, at_ns: int | None = None, every_ns: int | None = None
    ) -> None:
        """Call ``on_signal_timer(name, ts_ns)`` once at ``at_ns``, or every ``every_ns``
        (first at now + every_ns; with both, first at ``at_ns`` then every ``every_ns``).
        Scheduling a name again replaces it.

        Raises:
            ValueError: Neither given, a non-positive interval, or ``at_ns`` in the past.
        """

    @abstractmethod
    def cancel_timer(self, name: str) -> None:
        """Stop a timer; unknown names are ignored (it may have fired already)."""
