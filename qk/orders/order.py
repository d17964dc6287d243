"""The order model in fixed point; its status moves only through the transition table.

Prices and quantities are raw int64 fixed point at the instrument's ``price_precision`` and
``size_precision`` (``qk.schemas.fixed``); fees are raw money at ``MONEY_PRECISION``.

The average fill price is kept exact: the order sums ``price * quantity`` of its fills as a
Python int (no overflow, no rounding) and :attr:`Order.avg_price` is the rational
``sum(price * quantity) / sum(quantity)`` in raw price units (a :class:`fractions.Fraction`).
Records carry it rounded half-to-even at ``price_precision + AVERAGE_PRICE_EXTRA_PRECISION``
(:meth:`Order.avg_price_raw`); an order restored from a record snapshot therefore has that
rounded average, while an order rebuilt by replaying its fills has the exact one.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from qk.orders.client_order_id import ClientOrderId
from qk.orders.enums import OrderEventKind, OrderStatus
from qk.orders.errors import (
    InvalidFill,
    InvalidModify,
    InvalidOrder,
    InvalidOrderTransition,
    OrderError,
    OrderOverfill,
)
from qk.orders.transitions import OPEN_STATUSES, TERMINAL_STATUSES, WorkingStatus, transition_of
from qk.schemas.enums import (
    LiquiditySide,
    OrderFlag,
    OrderType,
    Product,
    RejectReason,
    Side,
    TimeInForce,
)
from qk.schemas.fixed import AVERAGE_PRICE_EXTRA_PRECISION, INT64_MAX, INT64_MIN

__all__ = ["VENUE_ORDER_ID_MAX_BYTES", "Fill", "Order", "OrderEvent"]

VENUE_ORDER_ID_MAX_BYTES: Final = 40
"""Room for a venue order id in records (``char[40]``); Kite ids are 15-19 digits."""

_NO_FLAGS: Final = OrderFlag(0)
_FILL_EVENTS: Final = frozenset({OrderEventKind.PARTIALLY_FILLED, OrderEventKind.FILLED})
_PRICED_TYPES: Final = frozenset(
    {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
)
_TRIGGERED_TYPES: Final = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)
_INFLIGHT: Final = frozenset(
    {
        OrderStatus.SUBMITTED,
        OrderStatus.PENDING_MODIFY,
        OrderStatus.PENDING_CANCEL,
        OrderStatus.UNKNOWN,
    }
)


def _check_int(name: str, value: object, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidOrder(f"{name} must be an int in {low}..{high}, got {value!r}")
    return value


def _check_venue_order_id(value: str) -> str:
    if not isinstance(value, str) or not value.isascii() or len(value) > VENUE_ORDER_ID_MAX_BYTES:
        raise InvalidOrder(
            f"venue order id must be ASCII of at most {VENUE_ORDER_ID_MAX_BYTES} bytes, "
            f"got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution against an order.

    Attributes:
        trade_id: Venue trade/fill id, > 0; the de-duplication key.
        price: Fill price (raw, price precision).
        quantity: Fill quantity (raw, size precision), > 0.
        fee: Fee charged (raw money); negative for a rebate.
        fee_currency: Currency of the fee (ASCII, at most 8 bytes), empty if none.
        liquidity: Maker or taker.
        ts_event: Venue time of the fill, ns since epoch UTC.
        ts_init: Local time the fill was received, ns since epoch UTC.
    """

    trade_id: int
    price: int
    quantity: int
    fee: int = 0
    fee_currency: str = ""
    liquidity: LiquiditySide = LiquiditySide.NONE
    ts_event: int = 0
    ts_init: int = 0

    def __post_init__(self) -> None:
        try:
            _check_int("trade_id", self.trade_id, 1, (1 << 64) - 1)
            _check_int("price", self.price)
            _check_int("quantity", self.quantity, 1)
            _check_int("fee", self.fee)
            _check_int("ts_event", self.ts_event, 0)
            _check_int("ts_init", self.ts_init, 0)
        except InvalidOrder as exc:
            raise InvalidFill(f"fill: {exc}") from None
        if not isinstance(self.liquidity, LiquiditySide):
            raise InvalidFill(f"fill liquidity must be a LiquiditySide, got {self.liquidity!r}")
        currency = self.fee_currency
        if not isinstance(currency, str) or not currency.isascii() or len(currency) > 8:
            raise InvalidFill(f"fee currency must be ASCII of at most 8 bytes, got {currency!r}")

    def same_execution(self, other: Fill) -> bool:
        """Whether ``other`` reports the same execution (same id, price and quantity)."""
        return (self.trade_id, self.price, self.quantity) == (
            other.trade_id,
            other.price,
            other.quantity,
        )


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One applied lifecycle event, as kept in :attr:`Order.events`.

    Attributes:
        kind: What happened.
        status_before: Status before it.
        status_after: Status after it (may equal ``status_before``: documented self-loops).
        ts_event: Venue/market time of the event, ns since epoch UTC.
        ts_init: Local time the event was made, ns since epoch UTC.
        reconciliation: True when reconciliation with the venue produced it.
        reject_reason: Reason of a reject/deny, else NONE.
        venue_error_code: Raw venue error code, 0 if none.
        fill: The fill, for PARTIALLY_FILLED / FILLED events.
    """

    kind: OrderEventKind
    status_before: OrderStatus
    status_after: OrderStatus
    ts_event: int
    ts_init: int
    reconciliation: bool = False
    reject_reason: RejectReason = RejectReason.NONE
    venue_error_code: int = 0
    fill: Fill | None = None

    @property
    def changed_status(self) -> bool:
        """Whether the event changed the order's status."""
        return self.status_before is not self.status_after


class Order:
    """An order and its lifecycle.

    Create it from an approved intent (status INITIALIZED), then feed it events:
    :meth:`apply` for status events, :meth:`apply_fill` for executions and :meth:`apply_modified`
    for a modify the venue applied. Each checks the transition table first; an impossible event
    raises and leaves the order untouched.

    Args:
        client_order_id: Deterministic id (strategy id + sequence).
        instrument_id: Instrument master id, > 0.
        side: Buy or sell.
        order_type: Market, limit, stop (market/limit) or take-profit (market/limit).
        quantity: Raw quantity, > 0.
        price: Raw limit price; non-zero for limit types, 0 for market types.
        trigger_price: Raw trigger; non-zero for stop/take-profit types, else 0.
        time_in_force: GTC, IOC, FOK, DAY or GTD.
        flags: REDUCE_ONLY / POST_ONLY bits.
        product: Indian broker product; NONE elsewhere.
        expire_time: GTD expiry (ns since epoch UTC), > 0 for GTD and 0 otherwise.
        ts_init: Creation time, ns since epoch UTC.

    Raises:
        InvalidOrder: A field that cannot make a valid order (the message says which).
    """

    __slots__ = (
        "_events",
        "_fees",
        "_filled",
        "_fills",
        "_notional",
        "_revision",
        "_status",
        "_triggered",
        "client_order_id",
        "expire_time",
        "flags",
        "instrument_id",
        "order_type",
        "price",
        "product",
        "quantity",
        "reject_reason",
        "side",
        "time_in_force",
        "trigger_price",
        "ts_init",
        "ts_last",
        "venue_error_code",
        "venue_order_id",
    )

    def __init__(
        self,
        *,
        client_order_id: ClientOrderId,
        instrument_id: int,
        side: Side,
        order_type: OrderType,
        quantity: int,
        price: int = 0,
        trigger_price: int = 0,
        time_in_force: TimeInForce = TimeInForce.GTC,
        flags: OrderFlag = _NO_FLAGS,
        product: Product = Product.NONE,
        expire_time: int = 0,
        ts_init: int = 0,
    ) -> None:
        if not isinstance(client_order_id, ClientOrderId):
            raise InvalidOrder(f"client_order_id must be a ClientOrderId, got {client_order_id!r}")
        self.client_order_id = client_order_id
        self.instrument_id = _check_int("instrument_id", instrument_id, 1, 0xFFFFFFFF)
        for name, value, kind in (
            ("side", side, Side),
            ("order_type", order_type, OrderType),
            ("time_in_force", time_in_force, TimeInForce),
            ("flags", flags, OrderFlag),
            ("product", product, Product),
        ):
            if not isinstance(value, kind):
                raise InvalidOrder(f"{name} must be a {kind.__name__}, got {value!r}")
        self.side = side
        self.order_type = order_type
        self.time_in_force = time_in_force
        self.flags = flags
        self.product = product
        self.quantity = _check_int("quantity", quantity, 1)
        self.price = _check_int("price", price)
        self.trigger_price = _check_int("trigger_price", trigger_price)
        self.expire_time = _check_int("expire_time", expire_time, 0)
        self.ts_init = _check_int("ts_init", ts_init, 0)
        self._check_prices(self.price, self.trigger_price, InvalidOrder)
        if (time_in_force is TimeInForce.GTD) != (expire_time > 0):
            raise InvalidOrder(
                f"expire_time must be > 0 exactly for GTD orders, got {expire_time} with "
                f"{time_in_force.name}"
            )
        self.ts_last = self.ts_init
        self.venue_order_id = ""
        self.reject_reason = RejectReason.NONE
        self.venue_error_code = 0
        self._status = OrderStatus.INITIALIZED
        self._filled = 0
        self._notional: Fraction = Fraction(0)
        self._fees: dict[str, int] = {}
        self._fills: dict[int, Fill] = {}
        self._triggered = False
        self._revision = 0
        self._events: list[OrderEvent] = []

    def _check_prices(self, price: int, trigger_price: int, error: type[OrderError]) -> None:
        kind = self.order_type
        if (kind in _PRICED_TYPES) != (price != 0):
            raise error(
                f"{kind.name} order: price must be "
                + ("non-zero" if kind in _PRICED_TYPES else "0")
                + f", got {price}"
            )
        if (kind in _TRIGGERED_TYPES) != (trigger_price != 0):
            raise error(
                f"{kind.name} order: trigger_price must be "
                + ("non-zero" if kind in _TRIGGERED_TYPES else "0")
                + f", got {trigger_price}"
            )

    # ----------------------------------------------------------------------------- state
    @property
    def status(self) -> OrderStatus:
        """Current status."""
        return self._status

    @property
    def strategy_id(self) -> int:
        """The owning strategy (part of the client order id)."""
        return self.client_order_id.strategy_id

    @property
    def reduce_only(self) -> bool:
        """Whether the order may only reduce a position."""
        return bool(self.flags & OrderFlag.REDUCE_ONLY)

    @property
    def post_only(self) -> bool:
        """Whether the order must rest on the book."""
        return bool(self.flags & OrderFlag.POST_ONLY)

    @property
    def filled_quantity(self) -> int:
        """Cumulative filled quantity (raw)."""
        return self._filled

    @property
    def leaves_quantity(self) -> int:
        """Unfilled quantity, ``quantity - filled_quantity`` (raw), whatever the status.

        Whether it still works at the venue is :attr:`is_open`.
        """
        return self.quantity - self._filled

    @property
    def notional(self) -> Fraction:
        """Sum of ``price * quantity`` over the fills (raw price x raw quantity units)."""
        return self._notional

    @property
    def avg_price(self) -> Fraction | None:
        """Exact average fill price in raw price units; None if nothing filled."""
        if self._filled == 0:
            return None
        return self._notional / self._filled

    def avg_price_raw(self, extra_precision: int = AVERAGE_PRICE_EXTRA_PRECISION) -> int:
        """Average fill price at ``price_precision + extra_precision``, rounded half to even.

        Returns:
            The raw average (0 if nothing filled), as records carry it.
        """
        if self._filled == 0:
            return 0
        scale: int = 10**extra_precision
        return round(self._notional * scale / self._filled)

    @property
    def fees(self) -> dict[str, int]:
        """Cumulative fees per currency (raw money); a copy."""
        return dict(self._fees)

    @property
    def fills(self) -> tuple[Fill, ...]:
        """Fills booked, in arrival order."""
        return tuple(self._fills.values())

    @property
    def events(self) -> tuple[OrderEvent, ...]:
        """Every event applied since creation (or since restore from a snapshot)."""
        return tuple(self._events)

    @property
    def revision(self) -> int:
        """Number of events applied so far (the OrderUpdate ``revision``)."""
        return self._revision

    @property
    def is_terminal(self) -> bool:
        """DENIED, REJECTED, FILLED, CANCELED or EXPIRED."""
        return self._status in TERMINAL_STATUSES

    @property
    def is_open(self) -> bool:
        """Known to be working at the venue."""
        return self._status in OPEN_STATUSES

    @property
    def is_inflight(self) -> bool:
        """A request is out with no answer yet (SUBMITTED, PENDING_*, UNKNOWN)."""
        return self._status in _INFLIGHT

    @property
    def triggered(self) -> bool:
        """Whether its trigger has fired."""
        return self._triggered

    def status_changes(self) -> list[tuple[OrderStatus, OrderStatus]]:
        """The (before, after) pairs of the events that changed the status, in order."""
        return [(e.status_before, e.status_after) for e in self._events if e.changed_status]

    def __repr__(self) -> str:
        return (
            f"Order({self.client_order_id.to_text()} strategy={self.strategy_id} "
            f"instrument={self.instrument_id} {self.side.name} {self.order_type.name} "
            f"qty={self.quantity} price={self.price} {self._status.name} filled={self._filled})"
        )

    # ----------------------------------------------------------------------------- events
    def _target(self, event: OrderEventKind) -> OrderStatus:
        target = transition_of(self._status, event)
        if target is None:
            raise InvalidOrderTransition(
                self._status, event, client_order_id=self.client_order_id.value
            )
        if isinstance(target, WorkingStatus):
            if self._filled > 0:
                return OrderStatus.PARTIALLY_FILLED
            return OrderStatus.TRIGGERED if self._triggered else OrderStatus.ACCEPTED
        return target

    def _record(
        self,
        kind: OrderEventKind,
        target: OrderStatus,
        ts_event: int,
        ts_init: int,
        reconciliation: bool,
        reject_reason: RejectReason = RejectReason.NONE,
        venue_error_code: int = 0,
        fill: Fill | None = None,
    ) -> OrderEvent:
        event = OrderEvent(
            kind,
            self._status,
            target,
            ts_event,
            ts_init,
            reconciliation,
            reject_reason,
            venue_error_code,
            fill,
        )
        self._status = target
        self._revision += 1
        self.ts_last = ts_event
        self._events.append(event)
        return event

    def apply(
        self,
        kind: OrderEventKind,
        *,
        ts_event: int,
        ts_init: int,
        venue_order_id: str | None = None,
        reject_reason: RejectReason = RejectReason.NONE,
        venue_error_code: int = 0,
        reconciliation: bool = False,
    ) -> OrderEvent:
        """Apply a status event (anything but fills; MODIFIED here changes no field).

        Args:
            kind: The event.
            ts_event: Venue/market time of the event, ns.
            ts_init: Local time the event was made, ns.
            venue_order_id: The venue's id, when the event carries one (typically ACCEPTED).
            reject_reason: Typed reason, for DENIED / REJECTED / *_REJECTED events.
            venue_error_code: Raw venue code, for rejects.
            reconciliation: Whether reconciliation with the venue produced the event.

        Returns:
            The recorded event.

        Raises:
            InvalidOrderTransition: The table has no row for (status, kind).
            InvalidOrder: A fill or INITIALIZED kind (use :meth:`apply_fill`), or a bad
                venue order id / timestamp / reason.
        """
        if kind in _FILL_EVENTS or kind is OrderEventKind.INITIALIZED:
            raise InvalidOrder(f"{kind.name} is not a status event; fills go to apply_fill")
        if not isinstance(kind, OrderEventKind) or not isinstance(reject_reason, RejectReason):
            raise InvalidOrder(f"bad event kind {kind!r} or reject reason {reject_reason!r}")
        _check_int("ts_event", ts_event, 0)
        _check_int("ts_init", ts_init, 0)
        _check_int("venue_error_code", venue_error_code, -(2**31), 2**31 - 1)
        if venue_order_id is not None:
            _check_venue_order_id(venue_order_id)
        target = self._target(kind)
        if venue_order_id:
            self.venue_order_id = venue_order_id
        if kind is OrderEventKind.TRIGGERED:
            self._triggered = True
        if kind in (OrderEventKind.REJECTED, OrderEventKind.DENIED):
            self.reject_reason = reject_reason
            self.venue_error_code = venue_error_code
        return self._record(
            kind, target, ts_event, ts_init, reconciliation, reject_reason, venue_error_code
        )

    def apply_modified(
        self,
        *,
        ts_event: int,
        ts_init: int,
        price: int | None = None,
        trigger_price: int | None = None,
        quantity: int | None = None,
        venue_order_id: str | None = None,
        reconciliation: bool = False,
    ) -> OrderEvent:
        """Apply a modify the venue made: new price, trigger price and/or quantity.

        Args:
            ts_event: Venue time, ns.
            ts_init: Local time, ns.
            price: New limit price (raw), None to keep.
            trigger_price: New trigger price (raw), None to keep.
            quantity: New total quantity (raw), None to keep; must stay above the filled
                quantity.
            venue_order_id: New venue id when the venue replaced the order.
            reconciliation: Whether reconciliation produced it.

        Raises:
            InvalidOrderTransition: The table has no MODIFIED row for the status.
            InvalidModify: The new values break the order (quantity not above filled, a price
                on a market order...).
        """
        target = self._target(OrderEventKind.MODIFIED)
        new_price = self.price if price is None else price
        new_trigger = self.trigger_price if trigger_price is None else trigger_price
        new_quantity = self.quantity if quantity is None else quantity
        try:
            _check_int("price", new_price)
            _check_int("trigger_price", new_trigger)
            _check_int("quantity", new_quantity, 1)
            _check_int("ts_event", ts_event, 0)
            _check_int("ts_init", ts_init, 0)
            if venue_order_id is not None:
                _check_venue_order_id(venue_order_id)
        except InvalidOrder as exc:
            raise InvalidModify(str(exc), client_order_id=self.client_order_id.value) from None
        self._check_prices(new_price, new_trigger, InvalidModify)
        if new_quantity <= self._filled:
            raise InvalidModify(
                f"modified quantity {new_quantity} must exceed the filled {self._filled}",
                client_order_id=self.client_order_id.value,
            )
        self.price, self.trigger_price, self.quantity = new_price, new_trigger, new_quantity
        if venue_order_id:
            self.venue_order_id = venue_order_id
        return self._record(OrderEventKind.MODIFIED, target, ts_event, ts_init, reconciliation)

    def apply_fill(self, fill: Fill, *, reconciliation: bool = False) -> OrderEvent | None:
        """Book a fill; PARTIALLY_FILLED or FILLED by the cumulative quantity.

        A fill whose trade id was already booked is ignored (venues and our own REST/stream
        paths deliver fills more than once).

        Args:
            fill: The execution.
            reconciliation: Whether reconciliation produced it.

        Returns:
            The recorded event, or None for a duplicate.

        Raises:
            InvalidFill: Not a Fill, or a fill with a known trade id but another price or
                quantity (two executions cannot share an id).
            OrderOverfill: The fill would exceed the order quantity.
            InvalidOrderTransition: The table refuses a fill in the current status.
        """
        if not isinstance(fill, Fill):
            raise InvalidFill(f"expected a Fill, got {fill!r}")
        known = self._fills.get(fill.trade_id)
        if known is not None:
            if known.same_execution(fill):
                return None
            raise InvalidFill(
                f"trade id {fill.trade_id} already booked as {known.quantity} @ {known.price}, "
                f"now reported as {fill.quantity} @ {fill.price}",
                client_order_id=self.client_order_id.value,
            )
        filled = self._filled + fill.quantity
        if filled > self.quantity:
            raise OrderOverfill(
                self.quantity,
                self._filled,
                fill.quantity,
                client_order_id=self.client_order_id.value,
            )
        kind = OrderEventKind.FILLED if filled == self.quantity else OrderEventKind.PARTIALLY_FILLED
        target = self._target(kind)
        self._filled = filled
        self._notional += fill.price * fill.quantity
        self._fills[fill.trade_id] = fill
        if fill.fee or fill.fee_currency:
            self._fees[fill.fee_currency] = self._fees.get(fill.fee_currency, 0) + fill.fee
        return self._record(kind, target, fill.ts_event, fill.ts_init, reconciliation, fill=fill)

    # ----------------------------------------------------------------------------- restore
    def restore(
        self,
        *,
        status: OrderStatus,
        filled_quantity: int,
        avg_price_raw: int,
        revision: int,
        venue_order_id: str = "",
        reject_reason: RejectReason = RejectReason.NONE,
        venue_error_code: int = 0,
        ts_last: int = 0,
        extra_precision: int = AVERAGE_PRICE_EXTRA_PRECISION,
    ) -> Order:
        """Set this freshly created order to a snapshot's state (recovery from an OrderUpdate).

        The events and fills are not in a snapshot: the history starts empty and duplicate
        detection only knows fills applied afterwards. The average is the snapshot's rounded
        one. Replay the fills instead where the exact history matters.

        Args:
            status: Snapshot status.
            filled_quantity: Snapshot filled quantity, 0..quantity.
            avg_price_raw: Snapshot average at ``price_precision + extra_precision``.
            revision: Snapshot revision.
            venue_order_id: Venue id.
            reject_reason: Reject reason.
            venue_error_code: Venue error code.
            ts_last: Time of the snapshot's event.
            extra_precision: Extra decimals of ``avg_price_raw``.

        Returns:
            The order itself, updated.

        Raises:
            InvalidOrder: The order is not fresh (events applied), or the snapshot is
                inconsistent.
        """
        if self._revision or self._status is not OrderStatus.INITIALIZED:
            raise InvalidOrder("restore needs a freshly created order")
        _check_int("filled_quantity", filled_quantity, 0, self.quantity)
        _check_int("revision", revision, 0, 0xFFFFFFFF)
        if (filled_quantity == self.quantity) != (status is OrderStatus.FILLED) or (
            status is OrderStatus.PARTIALLY_FILLED and filled_quantity == 0
        ):
            raise InvalidOrder(
                f"snapshot status {status.name} with {filled_quantity} of {self.quantity} filled"
            )
        self._status = OrderStatus(status)
        self._filled = filled_quantity
        self._notional = Fraction(avg_price_raw * filled_quantity, 10**extra_precision)
        self._revision = revision
        self._triggered = status is OrderStatus.TRIGGERED
        self.venue_order_id = _check_venue_order_id(venue_order_id)
        self.reject_reason = reject_reason
        self.venue_error_code = venue_error_code
        self.ts_last = _check_int("ts_last", ts_last, 0)
        return self
