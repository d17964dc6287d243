"""The simulated exchange: one per venue; matches our orders against market data.

Commands (submit, cancel, modify) are stamped with the decision time and reach the matching
engine ``latency`` later, in the order they were sent (one ordered channel, like one TCP
connection: a later command never overtakes an earlier one). Market data (trades and quotes, in
event-time order) is matched against the orders that had *arrived* before it, so an order never
fills at the price its decision was made on. Every outcome is applied to the caller's
:class:`qk.orders.Order` through the transition table and reported as an
:class:`~qk.execution.events.ExecutionEvent`. No wall clock, no unseeded randomness: the same
inputs give the same events. See ``docs/execution.md``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum
from typing import Final

import numpy as np

from qk.execution.errors import InvalidCommand, InvalidMarketData, TimeWentBackwards
from qk.execution.events import ExecutionEvent
from qk.execution.fill_model import FillModel
from qk.execution.latency import FixedLatency, LatencyModel
from qk.fees import FeeError, FeeInput, FeeModel
from qk.instruments import Instrument
from qk.orders import Fill, Order, OrderEventKind, OrderStatus, transition_of
from qk.schemas import fixed
from qk.schemas.enums import (
    LiquiditySide,
    OrderType,
    RecordType,
    RejectReason,
    Side,
    TimeInForce,
)

__all__ = ["PositionProvider", "SimulatedExchange"]

E = OrderEventKind

PositionProvider = Callable[[int], int]
"""instrument_id → signed position, raw at the instrument's size_precision (long > 0)."""

_MARKET_LIKE: Final = frozenset(
    {OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET}
)
# Which way the trade price must cross the trigger to release the order: +1 at or above the
# trigger, -1 at or below. A buy stop guards against a rise, a buy take-profit buys a dip.
_TRIGGER_DIRECTION: Final[dict[tuple[OrderType, Side], int]] = {
    (OrderType.STOP_MARKET, Side.BUY): 1,
    (OrderType.STOP_LIMIT, Side.BUY): 1,
    (OrderType.STOP_MARKET, Side.SELL): -1,
    (OrderType.STOP_LIMIT, Side.SELL): -1,
    (OrderType.TAKE_PROFIT_MARKET, Side.BUY): -1,
    (OrderType.TAKE_PROFIT_LIMIT, Side.BUY): -1,
    (OrderType.TAKE_PROFIT_MARKET, Side.SELL): 1,
    (OrderType.TAKE_PROFIT_LIMIT, Side.SELL): 1,
}
_TRIGGERED_TYPES: Final = frozenset(order_type for order_type, _ in _TRIGGER_DIRECTION)


class _AfterFirstLook(IntEnum):
    """What happens to an order's unfilled rest after the first market event it meets."""

    REST = 1
    """GTC / DAY / GTD: keeps working."""
    CANCEL = 2
    """IOC: whatever did not fill at once is cancelled."""
    ALL_OR_NOTHING = 3
    """FOK: fills completely on that event or is cancelled without any fill."""


_TIME_IN_FORCE: Final[dict[TimeInForce, _AfterFirstLook]] = {
    TimeInForce.GTC: _AfterFirstLook.REST,
    TimeInForce.DAY: _AfterFirstLook.REST,
    TimeInForce.GTD: _AfterFirstLook.REST,
    TimeInForce.IOC: _AfterFirstLook.CANCEL,
    TimeInForce.FOK: _AfterFirstLook.ALL_OR_NOTHING,
}


@dataclass(slots=True)
class _Working:
    """The exchange's side of one order."""

    order: Order
    instrument: Instrument
    tick: int
    fee_model: FeeModel | None
    looked: bool = False
    """Whether the order (or, after a trigger, its released order) met a market event yet."""
    turnover: Decimal = field(default_factory=Decimal)


@dataclass(frozen=True, slots=True)
class _Command:
    kind: OrderEventKind  # SUBMITTED, CANCEL_PENDING or MODIFY_PENDING: what was asked
    client_order_id: int
    price: int | None = None
    trigger_price: int | None = None
    quantity: int | None = None


def _on_grid(value: int, step: int) -> bool:
    return value > 0 and value % step == 0


class SimulatedExchange:
    """Deterministic matching of our orders against trades and quotes of one venue.

    Args:
        instruments: The instruments it trades (by ``instrument_id``).
        latency: Decision → matching engine latency; default zero.
        fill_model: Limit fill rule and slippage; default THROUGH, no slippage.
        fee_models: Candidate fee models; an order is priced by the first that covers its
            instrument and product. Empty: fills carry no fee.
        position: Signed position per instrument for reduce-only orders; default flat.
        session_end: End of the current session, ns: DAY orders expire then. None: no session
            end known (DAY orders work until cancelled); see :meth:`set_session_end`.

    Raises:
        InvalidCommand: Two instruments with the same id.
    """

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        latency: LatencyModel | None = None,
        fill_model: FillModel | None = None,
        fee_models: Sequence[FeeModel] = (),
        position: PositionProvider | None = None,
        session_end: int | None = None,
    ) -> None:
        self._instruments: dict[int, Instrument] = {}
        for instrument in instruments:
            if instrument.instrument_id in self._instruments:
                raise InvalidCommand(f"instrument id {instrument.instrument_id} given twice")
            self._instruments[instrument.instrument_id] = instrument
        self._latency: LatencyModel = latency if latency is not None else FixedLatency(0)
        self._fill_model = fill_model if fill_model is not None else FillModel()
        self._fee_models = tuple(fee_models)
        self._position: PositionProvider = position if position is not None else (lambda _: 0)
        self._session_end = session_end
        self._clock = 0
        self._last_arrival = 0
        self._sequence = 0
        self._trade_ids = 0
        self._venue_ids = 0
        self._queue: list[tuple[int, int, _Command]] = []
        self._orders: dict[int, _Working] = {}
        # Working orders per instrument in queue priority (insertion order): matching walks
        # only these, and a modify moves an order to the back by re-inserting it.
        self._book: dict[int, dict[int, _Working]] = {iid: {} for iid in self._instruments}
        self._position_delta: dict[int, int] = {}
        self._out: list[ExecutionEvent] = []
        self.events: list[ExecutionEvent] = []
        """Every event produced so far, in order."""

    # ------------------------------------------------------------------------------ public
    @property
    def clock(self) -> int:
        """The latest time processed, ns."""
        return self._clock

    @property
    def idle(self) -> bool:
        """No command in flight and no order working: market data can change nothing here but
        the clock (the backtest skips matching while this holds)."""
        return not self._queue and not any(self._book.values())

    def knows(self, instrument_id: int) -> bool:
        """Whether the instrument is listed here."""
        return instrument_id in self._instruments

    def order(self, client_order_id: int) -> Order:
        """The order submitted with that client order id (u64 value).

        Raises:
            InvalidCommand: No such order was submitted here.
        """
        return self._working(client_order_id).order

    def set_session_end(self, ts: int | None) -> None:
        """Set (or clear) the end of the current session; DAY orders expire at it."""
        self._session_end = ts

    def submit_order(self, order: Order, ts: int) -> list[ExecutionEvent]:
        """Send a new order decided at ``ts``; it is SUBMITTED now and reaches the engine later.

        Args:
            order: An INITIALIZED order for one of this exchange's instruments.
            ts: Decision time, ns; not before the exchange clock.

        Returns:
            The events produced (SUBMITTED).

        Raises:
            InvalidCommand: Unknown instrument, a client order id already used, an order not
                INITIALIZED, or no fee model for it.
            TimeWentBackwards: ``ts`` before the clock.
        """
        self._check_time(ts, "submit")
        key = order.client_order_id.value
        if key in self._orders:
            raise InvalidCommand(f"client order id {order.client_order_id} already submitted")
        if order.status is not OrderStatus.INITIALIZED:
            raise InvalidCommand(f"order {order.client_order_id} is {order.status.name}")
        instrument = self._instruments.get(order.instrument_id)
        if instrument is None:
            raise InvalidCommand(
                f"order {order.client_order_id}: instrument {order.instrument_id} is not traded "
                f"here (known: {sorted(self._instruments)})"
            )
        working = _Working(
            order=order,
            instrument=instrument,
            tick=fixed.to_raw(instrument.tick_size, instrument.price_precision),
            fee_model=self._fee_model_for(instrument, order),
        )
        self._orders[key] = working
        self._apply(working, E.SUBMITTED, ts)
        self._send(_Command(E.SUBMITTED, key), ts)
        return self._flush()

    def cancel_order(self, client_order_id: int, ts: int) -> list[ExecutionEvent]:
        """Ask to cancel an order, decided at ``ts``.

        The order goes PENDING_CANCEL now when the table allows (not while SUBMITTED); the
        cancel reaches the engine after the latency and cancels whatever is still working.

        Raises:
            InvalidCommand: No such order.
            TimeWentBackwards: ``ts`` before the clock.
        """
        self._check_time(ts, "cancel")
        working = self._working(client_order_id)
        self._apply_if_allowed(working, E.CANCEL_PENDING, ts)
        self._send(_Command(E.CANCEL_PENDING, client_order_id), ts)
        return self._flush()

    def modify_order(
        self,
        client_order_id: int,
        ts: int,
        *,
        price: int | None = None,
        trigger_price: int | None = None,
        quantity: int | None = None,
    ) -> list[ExecutionEvent]:
        """Ask to change an order's price, trigger price and/or total quantity, decided at ``ts``.

        A modified order loses its queue priority and is matched as if it had just arrived.

        Raises:
            InvalidCommand: No such order, or nothing to change.
            TimeWentBackwards: ``ts`` before the clock.
        """
        self._check_time(ts, "modify")
        if price is None and trigger_price is None and quantity is None:
            raise InvalidCommand("modify changes nothing: give price, trigger_price or quantity")
        working = self._working(client_order_id)
        self._apply_if_allowed(working, E.MODIFY_PENDING, ts)
        self._send(_Command(E.MODIFY_PENDING, client_order_id, price, trigger_price, quantity), ts)
        return self._flush()

    def advance_to(self, ts: int) -> list[ExecutionEvent]:
        """Move the clock to ``ts`` without market data: deliver commands, expire orders.

        Raises:
            TimeWentBackwards: ``ts`` before the clock.
        """
        self._check_time(ts, "advance")
        self._advance(ts)
        return self._flush()

    def process_trade(
        self, instrument_id: int, ts_event: int, price: int, quantity: int
    ) -> list[ExecutionEvent]:
        """Match against one trade printed by the venue.

        Releases stop / take-profit orders whose trigger the price crossed (they fill from the
        next event on), fills market orders at the price with slippage and limit orders the
        price reached, sharing the trade's quantity among our orders in priority order.

        Args:
            instrument_id: The instrument traded.
            ts_event: Trade time, ns; not before the clock.
            price: Trade price, raw, > 0.
            quantity: Trade quantity, raw, > 0.

        Returns:
            The events produced.

        Raises:
            InvalidMarketData: Unknown instrument, non-positive price or quantity.
            TimeWentBackwards: ``ts_event`` before the clock.
        """
        self._check_market(instrument_id, ts_event, (price, quantity))
        self._advance(ts_event)
        available = quantity
        for working in self._live(instrument_id):
            order = working.order
            direction = _TRIGGER_DIRECTION.get((order.order_type, order.side))
            if direction is not None and not order.triggered:
                if (price - order.trigger_price) * direction >= 0:
                    self._apply(working, E.TRIGGERED, ts_event)
                    # The released order meets the market from the next event: the trigger
                    # trade itself is gone by the time the venue acts on it.
                    working.looked = False
                continue
            available -= self._match(working, ts_event, price, available)
        return self._flush()

    def process_quote(
        self,
        instrument_id: int,
        ts_event: int,
        bid_price: int,
        bid_size: int,
        ask_price: int,
        ask_size: int,
    ) -> list[ExecutionEvent]:
        """Match against a top-of-book update: buys against the ask, sells against the bid.

        A side with size 0 is empty and fills nothing. Quotes never release stops (those
        trigger on trades only).

        Raises:
            InvalidMarketData: Unknown instrument, negative sizes, a non-positive price on a side
                with size.
            TimeWentBackwards: ``ts_event`` before the clock.
        """
        self._check_market(instrument_id, ts_event, ())
        for name, side_price, size in (("bid", bid_price, bid_size), ("ask", ask_price, ask_size)):
            if size < 0 or (size > 0 and side_price <= 0):
                raise InvalidMarketData(
                    f"quote at {ts_event}: {name} {side_price} x {size} is not a valid level"
                )
        self._advance(ts_event)
        available = {Side.BUY: ask_size, Side.SELL: bid_size}
        level = {Side.BUY: ask_price, Side.SELL: bid_price}
        for working in self._live(instrument_id):
            order = working.order
            if order.order_type in _TRIGGERED_TYPES and not order.triggered:
                continue
            side = order.side
            available[side] -= self._match(working, ts_event, level[side], available[side])
        return self._flush()

    def process_record(self, record: np.void) -> list[ExecutionEvent]:
        """Match against one TradeEvent or QuoteEvent record (``qk.schemas``), by its ``type``.

        Raises:
            InvalidMarketData: A record of another type, or bad values (see
                :meth:`process_trade` / :meth:`process_quote`).
            TimeWentBackwards: Its ``ts_event`` before the clock.
        """
        kind = int(record["type"])
        if kind == RecordType.TRADE_EVENT:
            return self.process_trade(
                int(record["instrument_id"]),
                int(record["ts_event"]),
                int(record["price"]),
                int(record["quantity"]),
            )
        if kind == RecordType.QUOTE_EVENT:
            return self.process_quote(
                int(record["instrument_id"]),
                int(record["ts_event"]),
                int(record["bid_price"]),
                int(record["bid_size"]),
                int(record["ask_price"]),
                int(record["ask_size"]),
            )
        raise InvalidMarketData(
            f"record type {kind} is neither TRADE_EVENT ({int(RecordType.TRADE_EVENT)}) nor "
            f"QUOTE_EVENT ({int(RecordType.QUOTE_EVENT)})"
        )

    # ------------------------------------------------------------------------------ time
    def _check_time(self, ts: int, what: str) -> None:
        if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
            raise TimeWentBackwards(f"{what}: time must be an int >= 0 ns, got {ts!r}")
        if ts < self._clock:
            raise TimeWentBackwards(
                f"{what} at {ts} is before the exchange clock {self._clock}: the market after "
                f"{ts} was already matched"
            )

    def _check_market(self, instrument_id: int, ts: int, positives: tuple[int, ...]) -> None:
        self._check_time(ts, "market event")
        if instrument_id not in self._instruments:
            raise InvalidMarketData(f"market event for unknown instrument {instrument_id}")
        for value in positives:
            if value <= 0:
                raise InvalidMarketData(f"trade at {ts}: price and quantity must be > 0")

    def _send(self, command: _Command, ts: int) -> None:
        # One ordered channel: a command never arrives before one sent earlier.
        arrival = max(ts + self._latency.next_latency(), self._last_arrival)
        self._last_arrival = arrival
        self._sequence += 1
        heapq.heappush(self._queue, (arrival, self._sequence, command))

    def _expiry_of(self, working: _Working) -> int | None:
        tif = working.order.time_in_force
        if tif is TimeInForce.DAY:
            return self._session_end
        if tif is TimeInForce.GTD:
            return working.order.expire_time
        return None

    def _advance(self, ts: int) -> None:
        """Deliver commands and expiries due at or before ``ts``, in time order."""
        while True:
            expiry: tuple[int, _Working] | None = None
            for book in self._book.values():
                for working in book.values():
                    at = self._expiry_of(working)
                    if at is not None and (expiry is None or at < expiry[0]):
                        expiry = (at, working)
            command_at = self._queue[0][0] if self._queue else None
            # An expiry at the same instant as a command goes first: the session is over.
            if (
                expiry is not None
                and expiry[0] <= ts
                and (command_at is None or expiry[0] <= command_at)
            ):
                self._clock = max(self._clock, expiry[0])
                self._apply(expiry[1], E.EXPIRED, self._clock)
                continue
            if command_at is not None and command_at <= ts:
                _, _, command = heapq.heappop(self._queue)
                self._clock = max(self._clock, command_at)
                self._deliver(command, self._clock)
                continue
            break
        self._clock = ts

    # ------------------------------------------------------------------------------ commands
    def _deliver(self, command: _Command, ts: int) -> None:
        working = self._orders[command.client_order_id]
        if command.kind is E.SUBMITTED:
            self._arrive(working, ts)
        elif command.kind is E.CANCEL_PENDING:
            if working.order.is_open:
                self._apply(working, E.CANCELED, ts)
            else:
                self._apply_if_allowed(working, E.CANCEL_REJECTED, ts, RejectReason.UNKNOWN_ORDER)
        else:
            self._modify(working, command, ts)

    def _arrive(self, working: _Working, ts: int) -> None:
        order = working.order
        reason = self._invalid(working, order.price, order.trigger_price, order.quantity)
        if reason is RejectReason.NONE:
            expiry = self._expiry_of(working)
            if expiry is not None and expiry <= ts:
                reason = RejectReason.MARKET_CLOSED
            elif order.reduce_only and self._reducible(working) == 0:
                reason = RejectReason.REDUCE_ONLY_WOULD_INCREASE
        if reason is not RejectReason.NONE:
            self._apply(working, E.REJECTED, ts, reason)
            return
        self._venue_ids += 1
        self._book[order.instrument_id][order.client_order_id.value] = working
        order.apply(E.ACCEPTED, ts_event=ts, ts_init=ts, venue_order_id=f"SIM-{self._venue_ids}")
        self._emit(working, E.ACCEPTED, ts)

    def _modify(self, working: _Working, command: _Command, ts: int) -> None:
        order = working.order
        if not order.is_open:
            self._apply_if_allowed(working, E.MODIFY_REJECTED, ts, RejectReason.UNKNOWN_ORDER)
            return
        price = order.price if command.price is None else command.price
        trigger = order.trigger_price if command.trigger_price is None else command.trigger_price
        quantity = order.quantity if command.quantity is None else command.quantity
        reason = self._invalid(working, price, trigger, quantity)
        if reason is RejectReason.NONE and quantity <= order.filled_quantity:
            reason = RejectReason.INVALID_QUANTITY
        if reason is not RejectReason.NONE:
            self._apply(working, E.MODIFY_REJECTED, ts, reason)
            return
        order.apply_modified(
            ts_event=ts, ts_init=ts, price=command.price, trigger_price=command.trigger_price,
            quantity=command.quantity,
        )  # fmt: skip
        self._emit(working, E.MODIFIED, ts)
        book = self._book[order.instrument_id]
        book[order.client_order_id.value] = book.pop(order.client_order_id.value)
        working.looked = False

    def _invalid(self, working: _Working, price: int, trigger: int, quantity: int) -> RejectReason:
        """The venue's checks of price and quantity; NONE when they pass."""
        order, instrument = working.order, working.instrument
        if order.order_type not in _MARKET_LIKE and not _on_grid(price, working.tick):
            return RejectReason.INVALID_PRICE
        if order.order_type in _TRIGGERED_TYPES and not _on_grid(trigger, working.tick):
            return RejectReason.INVALID_PRICE
        lot = fixed.to_raw(instrument.lot_size, instrument.size_precision)
        low = fixed.to_raw(instrument.min_quantity, instrument.size_precision)
        high = fixed.to_raw(instrument.max_quantity, instrument.size_precision)
        if not _on_grid(quantity, lot) or quantity < low or (high and quantity > high):
            return RejectReason.INVALID_QUANTITY
        return RejectReason.NONE

    # ------------------------------------------------------------------------------ matching
    def _live(self, instrument_id: int) -> list[_Working]:
        # A copy: matching one order may close it and drop it from the book.
        return list(self._book[instrument_id].values())

    def _match(self, working: _Working, ts: int, market: int, available: int) -> int:
        """Match one order against one market price with ``available`` quantity; returns the
        quantity filled."""
        order = working.order
        first_look = not working.looked
        working.looked = True
        side = order.side
        fill_price = 0
        liquidity = LiquiditySide.TAKER
        if available > 0 and market > 0:
            if order.order_type in _MARKET_LIKE:
                fill_price = self._fill_model.taker_price(side, market, working.tick)
            elif first_look and (
                market <= order.price if side is Side.BUY else market >= order.price
            ):
                # Marketable on its first look: it takes, at the slipped market price capped at its limit.
                if order.post_only:
                    self._apply(working, E.REJECTED, ts, RejectReason.POST_ONLY_WOULD_TAKE)
                    return 0
                slipped = self._fill_model.taker_price(side, market, working.tick)
                fill_price = (
                    min(slipped, order.price) if side is Side.BUY else max(slipped, order.price)
                )
            elif not first_look and self._fill_model.resting_fills(side, order.price, market):
                fill_price, liquidity = order.price, LiquiditySide.MAKER
        quantity = min(order.leaves_quantity, max(available, 0)) if fill_price else 0
        if quantity and order.reduce_only:
            reducible = self._reducible(working)
            if reducible == 0:
                self._apply(working, E.CANCELED, ts)
                return 0
            quantity = min(quantity, reducible)
        rule = _TIME_IN_FORCE[order.time_in_force] if first_look else _AfterFirstLook.REST
        if rule is _AfterFirstLook.ALL_OR_NOTHING and quantity < order.leaves_quantity:
            quantity = 0
        if quantity:
            self._fill(working, ts, fill_price, quantity, liquidity)
        if rule is not _AfterFirstLook.REST and order.is_open:
            self._apply(working, E.CANCELED, ts)
        return quantity

    def _reducible(self, working: _Working) -> int:
        """How much a reduce-only order may still fill: the opposite position, net of the
        fills this exchange made since the caller last looked."""
        instrument_id = working.order.instrument_id
        position = self._position(instrument_id) + self._position_delta.get(instrument_id, 0)
        if working.order.side is Side.BUY:
            return max(-position, 0)
        return max(position, 0)

    def _fill(
        self, working: _Working, ts: int, price: int, quantity: int, liquidity: LiquiditySide
    ) -> None:
        order, instrument = working.order, working.instrument
        fee, currency = 0, instrument.currency
        fee_input = FeeInput(
            instrument=instrument,
            side=order.side,
            price=price,
            quantity=quantity,
            liquidity=liquidity,
            product=order.product,
            order_filled_notional=_money_raw(working.turnover),
        )
        if working.fee_model is not None:
            breakdown = working.fee_model.fee(fee_input)
            fee, currency = breakdown.total, breakdown.currency
        working.turnover += fee_input.turnover()
        self._trade_ids += 1
        signed = quantity if order.side is Side.BUY else -quantity
        self._position_delta[order.instrument_id] = (
            self._position_delta.get(order.instrument_id, 0) + signed
        )
        fill = Fill(
            trade_id=self._trade_ids,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_currency=currency,
            liquidity=liquidity,
            ts_event=ts,
            ts_init=ts,
        )
        event = order.apply_fill(fill)
        assert event is not None  # trade ids are fresh: never a duplicate
        self._emit(working, event.kind, ts, fill=fill)

    # ------------------------------------------------------------------------------ plumbing
    def _fee_model_for(self, instrument: Instrument, order: Order) -> FeeModel | None:
        if not self._fee_models:
            return None
        tick = fixed.to_raw(instrument.tick_size, instrument.price_precision)
        lot = fixed.to_raw(instrument.lot_size, instrument.size_precision)
        probe = FeeInput(
            instrument=instrument, side=order.side, price=tick, quantity=lot, product=order.product
        )
        for model in self._fee_models:
            try:
                model.check(probe)
            except FeeError:
                continue
            return model
        raise InvalidCommand(
            f"order {order.client_order_id}: no fee model covers {instrument.name} "
            f"({order.product.name}); candidates: {[m.name for m in self._fee_models]}"
        )

    def _working(self, client_order_id: int) -> _Working:
        working = self._orders.get(client_order_id)
        if working is None:
            raise InvalidCommand(f"no order with client order id {client_order_id} was submitted")
        return working

    def _apply(
        self,
        working: _Working,
        kind: OrderEventKind,
        ts: int,
        reason: RejectReason = RejectReason.NONE,
    ) -> None:
        working.order.apply(kind, ts_event=ts, ts_init=ts, reject_reason=reason)
        self._emit(working, kind, ts, reason)

    def _apply_if_allowed(
        self,
        working: _Working,
        kind: OrderEventKind,
        ts: int,
        reason: RejectReason = RejectReason.NONE,
    ) -> None:
        # A request whose answer the table has no row for (a cancel sent while SUBMITTED, the
        # answer to a cancel that reached an order already rejected) changes nothing.
        if transition_of(working.order.status, kind) is not None:
            self._apply(working, kind, ts, reason)

    def _emit(
        self,
        working: _Working,
        kind: OrderEventKind,
        ts: int,
        reason: RejectReason = RejectReason.NONE,
        fill: Fill | None = None,
    ) -> None:
        order = working.order
        self._out.append(
            ExecutionEvent(order.client_order_id.value, kind, order.status, ts, reason, fill)
        )
        if not order.is_open:
            self._book[order.instrument_id].pop(order.client_order_id.value, None)

    def _flush(self) -> list[ExecutionEvent]:
        out, self._out = self._out, []
        self.events.extend(out)
        # The caller updates its positions from these fills before the next call.
        self._position_delta.clear()
        return out


def _money_raw(value: Decimal) -> int:
    quantized = value.quantize(Decimal(1).scaleb(-fixed.MONEY_PRECISION), rounding=ROUND_HALF_UP)
    return fixed.to_raw(quantized, fixed.MONEY_PRECISION)
