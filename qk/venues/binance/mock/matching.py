"""Per-symbol matching of mock orders against a replayed or pushed trade tape.

The mock has no order book of other participants; liquidity is the trade tape:

* The **last trade** (price P, quantity Q) is what a taker can hit at placement. Each new trade
  resets that liquidity to its own quantity; takers consume it, so two market orders placed between
  the same pair of trades share one trade's quantity. A MARKET order, or a LIMIT order that crosses P
  (BUY at >= P, SELL at <= P), fills at P up to the remaining liquidity. What a MARKET, IOC or
  triggered stop-market order cannot fill EXPIRES (Binance: "IOC or MARKET partly filled" ends
  EXPIRED with z > 0); FOK expires unfilled unless the whole quantity is available; a GTC remainder
  rests on the book. With no trade yet there is no liquidity.
* A **resting LIMIT** fills as a maker at its own price when a later trade prints strictly through it
  (BUY: trade price < limit; SELL: trade price > limit), capped by that trade's quantity, shared in
  price-time priority. A print at the limit price does not fill it (the queue position is unknown).
* **Stops** trigger on trade price (stop-loss: SELL when P <= stop, BUY when P >= stop; take-profit the
  other way). A triggered market variant takes against the triggering trade, a limit variant becomes
  a LIMIT at its price. A stop whose trigger is already met at placement is rejected (spot -2010
  "Order would trigger immediately.", futures -2021).
* LIMIT_MAKER (spot) that would take is rejected (-2010 "Order would immediately match and take.");
  futures GTX that would take is rejected (-5022).

Everything is driven by calls (``submit``, ``cancel``, ``on_trade``) with explicit timestamps, so the
same inputs give the same executions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from qk.venues.binance.mock import errors
from qk.venues.binance.mock.rules import Market

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})

TriggerKind = Literal["stop", "take_profit"]

#: conditional type -> (trigger kind, what it becomes when triggered), per market.
CONDITIONAL_TYPES: dict[Market, dict[str, tuple[TriggerKind, str]]] = {
    "spot": {
        "STOP_LOSS": ("stop", "MARKET"),
        "STOP_LOSS_LIMIT": ("stop", "LIMIT"),
        "TAKE_PROFIT": ("take_profit", "MARKET"),
        "TAKE_PROFIT_LIMIT": ("take_profit", "LIMIT"),
    },
    "futures": {
        "STOP": ("stop", "LIMIT"),
        "STOP_MARKET": ("stop", "MARKET"),
        "TAKE_PROFIT": ("take_profit", "LIMIT"),
        "TAKE_PROFIT_MARKET": ("take_profit", "MARKET"),
    },
}


@dataclass
class Order:
    """One order's state. ``order_type`` is what the client sent; ``working_type`` what it is now."""

    market: Market
    symbol: str
    order_id: int
    client_order_id: str
    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    stop_price: Decimal
    created_ms: int
    working_type: str = ""
    triggered: bool = True
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_ms: int = 0
    working_ms: int = -1
    reduce_only: bool = False
    position_side: str = "BOTH"
    close_position: bool = False
    algo_id: int | None = None

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.quantity - self.executed_qty

    @property
    def is_open(self) -> bool:
        """NEW or PARTIALLY_FILLED."""
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        """Average fill price (0 before the first fill)."""
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


@dataclass(frozen=True)
class Execution:
    """One change to an order, with the order's cumulative state right after it.

    ``exec_type`` is Binance's execution type: NEW, TRADE, CANCELED, EXPIRED (and TRIGGERED for the
    moment a conditional order starts working, which the venue layer maps per market).
    """

    order: Order
    exec_type: str
    status: str
    ts_ms: int
    last_qty: Decimal = ZERO
    last_price: Decimal = ZERO
    cum_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    trade_id: int = -1
    maker: bool = False


@dataclass
class _SymbolState:
    last_price: Decimal | None = None
    liquidity: Decimal = ZERO
    next_trade_id: int = 1
    resting: list[Order] = field(default_factory=list)
    stops: list[Order] = field(default_factory=list)


class MatchingEngine:
    """Matches one market's (spot or futures) orders; reports every change to ``on_execution``."""

    def __init__(self, market: Market, on_execution: Callable[[Execution], None]) -> None:
        self.market = market
        self._on_execution = on_execution
        self._symbols: dict[str, _SymbolState] = {}

    def _state(self, symbol: str) -> _SymbolState:
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _SymbolState()
        return state

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the last trade seen for ``symbol``, if any."""
        return self._state(symbol).last_price

    def liquidity(self, symbol: str) -> Decimal:
        """Quantity a taker can still fill at the last trade price."""
        return self._state(symbol).liquidity

    def would_take(self, order: Order) -> bool:
        """Whether a LIMIT order at its price would trade against the last price now."""
        last = self._state(order.symbol).last_price
        if last is None:
            return False
        return order.price >= last if order.side == "BUY" else order.price <= last

    def would_trigger(self, order: Order, price: Decimal | None = None) -> bool:
        """Whether a conditional order's trigger is met at ``price`` (default: the last price)."""
        at = self._state(order.symbol).last_price if price is None else price
        if at is None:
            return False
        kind, _ = CONDITIONAL_TYPES[self.market][order.order_type]
        if kind == "stop":
            return at <= order.stop_price if order.side == "SELL" else at >= order.stop_price
        return at >= order.stop_price if order.side == "SELL" else at <= order.stop_price

    # -- order entry -----------------------------------------------------------------------------

    def submit(self, order: Order, now_ms: int) -> None:
        """Accept ``order`` and match what can match now.

        Raises BinanceApiError for rejections the venue answers synchronously (LIMIT_MAKER/GTX
        that would take, a stop already triggered); nothing is emitted then.
        """
        conditional = CONDITIONAL_TYPES[self.market].get(order.order_type)
        if conditional is not None:
            if self.would_trigger(order):
                if self.market == "spot":
                    raise errors.new_order_rejected("Order would trigger immediately.")
                raise errors.futures_would_trigger()
            order.triggered = False
            order.working_type = conditional[1]
        else:
            order.working_type = "LIMIT" if order.order_type == "LIMIT_MAKER" else order.order_type
            order.working_ms = now_ms
        if order.order_type == "LIMIT_MAKER" and self.would_take(order):
            raise errors.new_order_rejected("Order would immediately match and take.")
        if (
            order.time_in_force == "GTX"
            and order.working_type == "LIMIT"
            and self.would_take(order)
        ):
            raise errors.futures_post_only_would_take()
        order.update_ms = now_ms
        self._emit(order, "NEW", now_ms)
        state = self._state(order.symbol)
        if not order.triggered:
            state.stops.append(order)
            return
        self._work(order, state, now_ms, None, None)

    def cancel(self, order: Order, now_ms: int) -> None:
        """Cancel an open order; -2011 "Unknown order sent." if it is not open."""
        if not order.is_open:
            raise errors.cancel_rejected("Unknown order sent.")
        state = self._state(order.symbol)
        if order in state.resting:
            state.resting.remove(order)
        if order in state.stops:
            state.stops.remove(order)
        order.status = "CANCELED"
        order.update_ms = now_ms
        self._emit(order, "CANCELED", now_ms)

    # -- the tape ---------------------------------------------------------------------------------

    def on_trade(self, symbol: str, price: Decimal, qty: Decimal, ts_ms: int) -> None:
        """Feed one market trade: trigger stops, fill resting orders it prints through."""
        state = self._state(symbol)
        state.last_price = price
        available = qty
        for order in [o for o in state.stops if self.would_trigger(o, price)]:
            state.stops.remove(order)
            order.triggered = True
            order.working_ms = ts_ms
            order.update_ms = ts_ms
            self._emit(order, "TRIGGERED", ts_ms)
            available = self._work(order, state, ts_ms, price, available)
        through = [
            o for o in state.resting if (price < o.price if o.side == "BUY" else price > o.price)
        ]
        through.sort(key=lambda o: (-o.price if o.side == "BUY" else o.price, o.order_id))
        for order in through:
            if available <= ZERO:
                break
            fill = min(order.remaining, available)
            available -= fill
            self._fill(order, state, fill, order.price, ts_ms, maker=True)
            if not order.is_open:
                state.resting.remove(order)
        state.liquidity = available

    # -- internals --------------------------------------------------------------------------------

    def _work(
        self,
        order: Order,
        state: _SymbolState,
        now_ms: int,
        price: Decimal | None,
        available: Decimal | None,
    ) -> Decimal:
        """Match a working order against the given (or the last) trade; return liquidity left."""
        at = state.last_price if price is None else price
        liquidity = state.liquidity if available is None else available
        is_market = order.working_type == "MARKET"
        crosses = at is not None and (
            is_market or (order.price >= at if order.side == "BUY" else order.price <= at)
        )
        if crosses and at is not None:
            if order.time_in_force == "FOK" and liquidity < order.remaining:
                self._expire(order, now_ms)
                return self._store_liquidity(state, liquidity, available)
            fill = min(order.remaining, liquidity)
            if fill > ZERO:
                liquidity -= fill
                self._fill(order, state, fill, at, now_ms, maker=False)
        if order.is_open:
            if is_market or order.time_in_force in ("IOC", "FOK"):
                self._expire(order, now_ms)
            else:
                state.resting.append(order)
        return self._store_liquidity(state, liquidity, available)

    @staticmethod
    def _store_liquidity(
        state: _SymbolState, liquidity: Decimal, available: Decimal | None
    ) -> Decimal:
        if available is None:
            state.liquidity = liquidity
        return liquidity

    def _fill(
        self,
        order: Order,
        state: _SymbolState,
        qty: Decimal,
        price: Decimal,
        ts_ms: int,
        maker: bool,
    ) -> None:
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if order.remaining == ZERO else "PARTIALLY_FILLED"
        order.update_ms = ts_ms
        trade_id = state.next_trade_id
        state.next_trade_id += 1
        self._on_execution(
            Execution(
                order=order,
                exec_type="TRADE",
                status=order.status,
                ts_ms=ts_ms,
                last_qty=qty,
                last_price=price,
                cum_qty=order.executed_qty,
                cum_quote=order.cum_quote,
                trade_id=trade_id,
                maker=maker,
            )
        )

    def _expire(self, order: Order, ts_ms: int) -> None:
        order.status = "EXPIRED"
        order.update_ms = ts_ms
        self._emit(order, "EXPIRED", ts_ms)

    def _emit(self, order: Order, exec_type: str, ts_ms: int) -> None:
        self._on_execution(
            Execution(
                order=order,
                exec_type=exec_type,
                status=order.status,
                ts_ms=ts_ms,
                cum_qty=order.executed_qty,
                cum_quote=order.cum_quote,
            )
        )

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Resting and untriggered orders, oldest first."""
        out: list[Order] = []
        for name, state in self._symbols.items():
            if symbol is None or name == symbol:
                out.extend(state.resting)
                out.extend(state.stops)
        return sorted(out, key=lambda o: o.order_id)
