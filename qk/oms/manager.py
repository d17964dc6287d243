"""The order manager: strategy commands → risk → simulated exchange → portfolio, risk, strategy.

One :class:`OrderManager` runs every strategy of one account against one
:class:`~qk.execution.SimulatedExchange` on market time. It owns the order table and the
client order id generators; the exchange applies each outcome to the same
:class:`~qk.orders.Order` through the transition table, and the manager books it:

* a submit is checked by :class:`~qk.risk.RiskEngine` first; a denied order goes DENIED (through
  the table) and never reaches the exchange;
* each execution event moves the portfolio and risk (fills, closed orders, rejects) and reaches
  the owning strategy as ``on_fill`` / ``on_order_update``;
* each trade marks the portfolio and risk, then post-trade limits see the new account state;
* timers fire in event-time order before the record that reaches their time.

Strategy hooks never run inside another hook: what a command produces is queued and delivered
when the current hook returns, in the order it happened. Nothing reads the wall clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from qk.execution import ExecutionEvent, InvalidMarketData, PositionProvider, SimulatedExchange
from qk.oms.clock import SimulatedClock
from qk.oms.errors import OmsError, OmsErrorReason
from qk.oms.timers import TimerQueue
from qk.orders import (
    TERMINAL_STATUSES,
    ClientOrderId,
    ClientOrderIdGenerator,
    Order,
    OrderEventKind,
)
from qk.orders.records import fill_record, update_record
from qk.portfolio import (
    ACCOUNT,
    AccountState,
    InstrumentSource,
    Portfolio,
    PositionSide,
    drawdown_fraction,
)
from qk.portfolio import Fill as PortfolioFill
from qk.risk import GLOBAL, KillSwitchResult, OrderIntent, RiskEngine
from qk.schemas import dtype_of
from qk.schemas.enums import OrderFlag, OrderType, RecordType, TimeInForce

if TYPE_CHECKING:
    from qk.oms.context import EngineContext
    from qk.strategy import Strategy

__all__ = ["JournalEntry", "JournalKind", "OrderManager", "net_position_of"]

E = OrderEventKind


class JournalKind(IntEnum):
    """What a journal entry records (first element of each entry; stable codes)."""

    TIMER_FIRED = 1
    """(kind, strategy_id, name, at_ns)"""
    ORDER_EVENT = 3
    """(kind, *ExecutionEvent.as_tuple()) — DENIED is journalled the same way."""
    RISK_EVENT = 4
    """(kind, ts_event, strategy_id, instrument_id, client_order_id, reason, action)"""


class _Hook(IntEnum):
    """Which strategy hook a queued delivery calls."""

    TICK = 1
    TIMER = 2
    ORDER_UPDATE = 3
    FILL = 4
    RISK_EVENT = 5
    BAR = 6


_HOOK_METHODS: Final[dict[_Hook, str]] = {
    _Hook.TICK: "on_tick",
    _Hook.TIMER: "on_signal_timer",
    _Hook.ORDER_UPDATE: "on_order_update",
    _Hook.FILL: "on_fill",
    _Hook.RISK_EVENT: "on_risk_event",
    _Hook.BAR: "on_bar",
}
"""Which :class:`~qk.strategy.Strategy` method each queued delivery calls."""


JournalEntry = tuple[int | str, ...]


_TRADE_DTYPE: Final = dtype_of("TradeEvent")
_TICK_CHUNK: Final = 65_536


class _Tape:
    """A TradeEvent array being worked through by :meth:`OrderManager.process_trades`, with
    the columns the fast path reads."""

    __slots__ = ("iid", "price", "records", "single", "ts")

    def __init__(self, records: npt.NDArray[np.void]) -> None:
        self.records = records
        self.ts: npt.NDArray[np.int64] = np.ascontiguousarray(records["ts_event"])
        self.iid: npt.NDArray[np.uint32] = np.ascontiguousarray(records["instrument_id"])
        self.price: npt.NDArray[np.int64] = np.ascontiguousarray(records["price"])
        # One instrument is the common case; min == max says so without sorting the tape.
        one = len(records) > 0 and int(self.iid.min()) == int(self.iid.max())
        self.single: int | None = int(self.iid[0]) if one else None

    def instruments(self, a: int, b: int) -> list[int]:
        """Instruments traded in ``[a, b)``, ascending."""
        if self.single is not None:
            return [self.single]
        return [int(i) for i in np.unique(self.iid[a:b])]

    def _indices(self, instrument_id: int, a: int, b: int) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.iid[a:b] == instrument_id) + a

    def last_index(self, instrument_id: int, a: int, b: int) -> int:
        """Index of the instrument's last trade in ``[a, b)`` (it trades there)."""
        if self.single is not None:
            return b - 1
        return int(self._indices(instrument_id, a, b)[-1])

    def price_range(self, instrument_id: int, a: int, b: int) -> tuple[int, int]:
        """Lowest and highest price of the instrument in ``[a, b)`` (it trades there)."""
        if self.single is not None:
            prices = self.price[a:b]
        else:
            prices = self.price[self._indices(instrument_id, a, b)]
        return int(prices.min()), int(prices.max())


def net_position_of(portfolio: Portfolio) -> PositionProvider:
    """A position provider for the exchange's reduce-only checks: the net of every strategy.

    Pass it as ``SimulatedExchange(..., position=net_position_of(portfolio))`` so reduce-only
    orders (kill-switch flattening) see the positions the manager books.
    """

    def net(instrument_id: int) -> int:
        return sum(
            position.quantity
            for position in portfolio.positions()
            if position.instrument.instrument_id == instrument_id
        )

    return net


class OrderManager:
    """Wires strategies, risk, the simulated exchange and the portfolio on market time.

    ::

        manager = OrderManager(exchange, risk, portfolio, master, currency="USDT")
        strategy = manager.add_strategy(7, [btc.instrument_id], MyStrategy)
        manager.start()
        for record in trades:
            manager.process_record(record)
        manager.stop()

    Args:
        exchange: The simulated venue; its clock must not be ahead of ``start_ns``.
        risk: The pre- and post-trade risk engine.
        portfolio: Positions and cash of every strategy.
        instruments: Instrument lookup (the instrument master) for the strategies' contexts.
        currency: The account currency the strategies' accounts are read in.
        start_ns: Initial market time.

    Attributes:
        decision_prices: The last trade price (raw) of its instrument when each order was
            created, by client order id value: the price the decision was made on, for
            slippage attribution (0 before any trade of the instrument).
        journal: Everything the manager decided or booked, in order, as plain values (timers
            fired, order events, risk events; the market data itself is the caller's input):
            two runs over the same inputs give equal journals.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        risk: RiskEngine,
        portfolio: Portfolio,
        instruments: InstrumentSource,
        *,
        currency: str,
        start_ns: int = 0,
    ) -> None:
        self._exchange = exchange
        self._risk = risk
        self._portfolio = portfolio
        self.instruments = instruments
        self.currency = currency
        self._clock = SimulatedClock(start_ns)
        self._timers = TimerQueue()
        self._orders: dict[int, Order] = {}
        self._ids: dict[int, ClientOrderIdGenerator] = {}
        self._strategies: dict[int, Strategy] = {}
        self._contexts: dict[int, EngineContext] = {}
        self._subscribers: dict[int, list[int]] = {}  # instrument -> strategy ids, sorted
        self._outbox: deque[tuple[int, _Hook, tuple[Any, ...]]] = deque()
        self._dispatching = False
        self.journal: list[JournalEntry] = []
        self.decision_prices: dict[int, int] = {}
        self._last_price: dict[int, int] = {}
        # process_trades: the tape being worked through; every trade before _cursor is
        # processed, and the marks of those from _synced on are still to be applied (_sync).
        self._tape: _Tape | None = None
        self._synced = 0
        self._cursor = 0
        self._tick_hooks: dict[int, list[Callable[[np.void], None]]] = {}
        self._limited: list[int] = []  # holders (strategies, ACCOUNT) with post-trade limits
        self._accounts_due: int | None = None  # _sync left risk's account totals behind
        self._held: set[int] = set()  # instruments some strategy has a position in
        self._commanded = False  # a command since _ticks last looked (it may end a quiet run)
        self._refresh_limited()

    # -- setup --------------------------------------------------------------------------------

    @property
    def clock(self) -> SimulatedClock:
        """Market time (the clock every context hands out)."""
        return self._clock

    @property
    def portfolio(self) -> Portfolio:
        """The portfolio the manager books fills into, marked to the last trade processed."""
        self._sync()
        return self._portfolio

    @property
    def orders(self) -> Mapping[int, Order]:
        """Every order created, by client order id value (denied ones included)."""
        return self._orders

    def add_strategy(
        self,
        strategy_id: int,
        instrument_ids: Iterable[int],
        factory: Callable[[EngineContext], Strategy],
    ) -> Strategy:
        """Create a strategy's context and the strategy itself, and subscribe it to trades.

        Args:
            strategy_id: 1..16_777_215, unique in this manager.
            instrument_ids: The instruments it is deployed on (it receives their trades).
            factory: Builds the strategy from its context (a Strategy subclass itself, or a
                lambda passing params).

        Returns:
            The strategy.

        Raises:
            OmsError: DUPLICATE_STRATEGY.
            InvalidClientOrderId: ``strategy_id`` out of range.
            UnknownInstrumentError: An instrument the portfolio's master does not know.
        """
        from qk.oms.context import EngineContext  # the context module imports this one

        if strategy_id in self._strategies:
            raise OmsError(
                OmsErrorReason.DUPLICATE_STRATEGY, f"strategy {strategy_id} is already added"
            )
        self._ids[strategy_id] = ClientOrderIdGenerator(strategy_id)
        ids = sorted(set(instrument_ids))
        context = EngineContext(self, strategy_id, ids)
        strategy = factory(context)
        self._contexts[strategy_id] = context
        self._strategies[strategy_id] = strategy
        for instrument_id in ids:
            subscribers = self._subscribers.setdefault(instrument_id, [])
            subscribers.append(strategy_id)
            subscribers.sort()
        self._refresh_tick_hooks()
        self._refresh_limited()
        return strategy

    def start(self) -> None:
        """Call every strategy's ``on_start`` (in strategy id order)."""
        for strategy_id in sorted(self._strategies):
            self._strategies[strategy_id].on_start()
            self._dispatch()

    def stop(self) -> None:
        """Call every strategy's ``on_stop`` (in strategy id order)."""
        self._sync()
        for strategy_id in sorted(self._strategies):
            self._strategies[strategy_id].on_stop()
            self._dispatch()

    # -- market data and time -----------------------------------------------------------------

    def process_record(self, record: np.void) -> None:
        """Process one TradeEvent (or QuoteEvent) record in event-time order.

        Timers due at or before its ``ts_event`` fire first; then the exchange matches it;
        the fills are booked; a trade marks the portfolio and risk, post-trade limits are
        checked, and the subscribed strategies get ``on_tick``.

        Raises:
            OmsError: TIME_WENT_BACKWARDS.
            InvalidMarketData: A record of another type or with bad values.
        """
        ts = int(record["ts_event"])
        self.advance_to(ts)
        self._handle(self._exchange.process_record(record))
        if int(record["type"]) == RecordType.TRADE_EVENT:
            instrument_id = int(record["instrument_id"])
            price = int(record["price"])
            self._last_price[instrument_id] = price
            self._portfolio.mark(instrument_id, price)
            self._risk.update_price(instrument_id, price, ts)
            self._update_accounts(ts)
            for strategy_id in self._subscribers.get(instrument_id, ()):
                self._outbox.append((strategy_id, _Hook.TICK, (record,)))
        self._collect_risk_events()
        self._dispatch()

    def process_trades(
        self, trades: npt.NDArray[np.void], start: int = 0, stop: int | None = None
    ) -> None:
        """Process ``trades[start:stop]`` with exactly the outcome of :meth:`process_record` on
        each, doing the per-trade work only where it can change something.

        While no order works or is in flight and no timer falls due, a trade can only move
        marks: those are applied when something next looks at them (a hook, a command, a
        query), at the run's extreme prices first so peak equity comes out exact. The run is
        taken trade by trade instead when a post-trade limit (drawdown, daily loss) could trip
        inside it, when positions in two instruments move in it, and for ``on_tick``
        subscribers, who get every trade (flat instruments through a direct call, the rest
        through the full path). ``docs/backtest.md`` has the proof obligations and the test
        that holds this method to :meth:`process_record`.

        Args:
            trades: TradeEvent records in event-time order; pass the same array again to go
                on where the last call stopped.
            start: First index to process.
            stop: One past the last index (default: the end).

        Raises:
            OmsError: TIME_WENT_BACKWARDS.
            InvalidMarketData: Not TradeEvent records, an unknown instrument, a price or
                quantity <= 0.
        """
        stop = len(trades) if stop is None else stop
        if not 0 <= start <= stop <= len(trades):
            raise ValueError(f"trades[{start}:{stop}] is not a range of {len(trades)} trades")
        if start == stop:
            return
        tape = self._tape
        if tape is None or tape.records is not trades:
            self._sync()
            tape = self._tape = _Tape(trades)
            self._check_tape(tape)
            self._synced = self._cursor = start
        elif start != self._cursor:
            self._sync()
            self._synced = self._cursor = start
        if int(tape.ts[start]) < self._clock.now_ns():
            raise OmsError(
                OmsErrorReason.TIME_WENT_BACKWARDS,
                f"trade {start} at {int(tape.ts[start])} is before market time "
                f"{self._clock.now_ns()}",
            )
        exchange = self._exchange
        timers = self._timers
        ts = tape.ts
        k = start
        while k < stop:
            if not exchange.idle:
                self._one(tape, k)
                k += 1
                continue
            end = stop
            due = timers.next_at()
            if due is not None:
                end = k + int(np.searchsorted(ts[k:stop], due, "left"))
            if end == k:
                self._one(tape, k)  # the timer fires before this trade
                k += 1
            elif self._tick_hooks:
                k = self._ticks(tape, k, end)
            elif self._quiet(tape, k, end):
                self._clock.set(int(ts[end - 1]))
                self._cursor = end
                k = end
            else:
                for j in range(k, end):
                    self._one(tape, j)
                k = end

    def process_bar(self, bar: np.void) -> None:
        """Deliver a BarEvent to the strategies subscribed to its instrument (``on_bar``), as
        every other hook: queued, and what its commands produce is delivered after it returns.
        The bar is not market data for matching or marks: its trades were processed already."""
        self._sync()
        for strategy_id in self._subscribers.get(int(bar["instrument_id"]), ()):
            self._outbox.append((strategy_id, _Hook.BAR, (bar,)))
        self._dispatch()

    def start_session(self, ts_ns: int) -> None:
        """Start a trading day at ``ts_ns`` (market time): the daily PnL of every strategy and of
        the account counts from the equity of now (marks up to the last trade processed)."""
        self._sync()
        self._portfolio.start_session(ts_ns)

    def advance_to(self, ts_ns: int) -> None:
        """Move market time to ``ts_ns`` with no market data: due timers fire in order, commands
        reach the exchange, orders expire.

        Raises:
            OmsError: TIME_WENT_BACKWARDS.
        """
        self._sync()
        if ts_ns < self._clock.now_ns():
            raise OmsError(
                OmsErrorReason.TIME_WENT_BACKWARDS,
                f"advance to {ts_ns} before market time {self._clock.now_ns()}",
            )
        while (due := self._timers.next_due(ts_ns)) is not None:
            self._clock.set(due.at_ns)
            self._handle(self._exchange.advance_to(due.at_ns))
            self.journal.append((JournalKind.TIMER_FIRED, due.strategy_id, due.name, due.at_ns))
            self._outbox.append((due.strategy_id, _Hook.TIMER, (due.name, due.at_ns)))
            self._collect_risk_events()
            # Deliver now: the timer hook may schedule another timer due before ts_ns.
            self._dispatch()
        self._clock.set(ts_ns)
        self._handle(self._exchange.advance_to(ts_ns))
        self._collect_risk_events()
        self._dispatch()

    # -- commands (from contexts and operators) -----------------------------------------------

    def next_client_order_id(self, strategy_id: int) -> ClientOrderId:
        """Take the strategy's next client order id (deterministic: id + sequence)."""
        return self._generator(strategy_id).next()

    def submit(self, order: Order) -> None:
        """Check an INITIALIZED order with risk, then send it or deny it.

        A denied order goes DENIED through the transition table, never reaches the exchange,
        and its owner receives the RiskEvent and the DENIED update.
        """
        self._commanded = True
        self._sync_accounts()
        ts = self._clock.now_ns()
        self._book_order(order)
        decision = self._risk.check(OrderIntent.from_order(order), ts)
        if decision.approved:
            self._handle(self._exchange.submit_order(order, ts))
        else:
            # Risk events first: the strategy learns why before it sees the denial.
            self._collect_risk_events()
            order.apply(E.DENIED, ts_event=ts, ts_init=ts)
            self._record_event(
                order, ExecutionEvent(order.client_order_id.value, E.DENIED, order.status, ts)
            )
        self._collect_risk_events()
        self._dispatch()

    def cancel(self, client_order_id: int) -> None:
        """Send a cancel of an order to the exchange at market time.

        Raises:
            OmsError: UNKNOWN_ORDER.
        """
        self._commanded = True
        self._sync()
        self._order(client_order_id)
        self._handle(self._exchange.cancel_order(client_order_id, self._clock.now_ns()))
        self._collect_risk_events()
        self._dispatch()

    def modify(
        self,
        client_order_id: int,
        *,
        price: int | None = None,
        trigger_price: int | None = None,
        quantity: int | None = None,
    ) -> None:
        """Send a modify (raw values) to the exchange at market time.

        Raises:
            OmsError: UNKNOWN_ORDER.
            InvalidCommand: Nothing to change.
        """
        self._commanded = True
        self._sync()
        self._order(client_order_id)
        self._handle(
            self._exchange.modify_order(
                client_order_id,
                self._clock.now_ns(),
                price=price,
                trigger_price=trigger_price,
                quantity=quantity,
            )
        )
        self._collect_risk_events()
        self._dispatch()

    def engage_kill_switch(
        self, *, strategy_id: int = GLOBAL, flatten: bool = False
    ) -> KillSwitchResult:
        """Engage the kill switch through risk and carry out what it asks.

        Sends the cancels risk returns and, with ``flatten``, a reduce-only IOC market order for
        each flattening intent (not checked again: risk produced it and holds it as pending).

        Args:
            strategy_id: One strategy, or GLOBAL (0) for everything.
            flatten: Also close every position in scope.

        Returns:
            What risk asked for.
        """
        self._commanded = True
        self._sync_accounts()
        ts = self._clock.now_ns()
        result = self._risk.engage_kill_switch(
            list(self._orders.values()), ts, strategy_id=strategy_id, flatten=flatten
        )
        for cancel in result.cancels:
            self._handle(self._exchange.cancel_order(cancel.client_order_id, ts))
        for intent in result.flatten:
            order = Order(
                client_order_id=self.next_client_order_id(intent.strategy_id),
                instrument_id=intent.instrument_id,
                side=intent.side,
                order_type=OrderType.MARKET,
                quantity=intent.quantity,
                time_in_force=TimeInForce.IOC,
                flags=OrderFlag.REDUCE_ONLY,
                ts_init=ts,
            )
            self._book_order(order)
            self._handle(self._exchange.submit_order(order, ts))
        self._collect_risk_events()
        self._dispatch()
        return result

    # -- queries ------------------------------------------------------------------------------

    def account_state(self, strategy_id: int) -> AccountState | None:
        """The strategy's (0: the account's) totals in the account currency; None before any
        cash or position in it."""
        self._sync()
        if self.currency not in self._portfolio.currencies():
            return None
        return self._portfolio.account(self.currency, strategy_id)

    def owned_order(self, strategy_id: int, client_order_id: int) -> Order | None:
        """The order with that id if ``strategy_id`` owns it, else None."""
        order = self._orders.get(client_order_id)
        if order is None or order.strategy_id != strategy_id:
            return None
        return order

    def schedule_timer(
        self, strategy_id: int, name: str, at_ns: int | None, every_ns: int | None
    ) -> None:
        """Schedule a strategy's timer (see ``StrategyContext.schedule_timer``)."""
        self._commanded = True
        self._timers.schedule(strategy_id, name, self._clock.now_ns(), at_ns, every_ns)

    def cancel_timer(self, strategy_id: int, name: str) -> None:
        """Cancel a strategy's timer; unknown names are ignored."""
        self._commanded = True
        self._timers.cancel(strategy_id, name)

    # -- internals ----------------------------------------------------------------------------

    def _refresh_tick_hooks(self) -> None:
        from qk.strategy import Strategy

        self._tick_hooks = {}
        for instrument_id, strategy_ids in self._subscribers.items():
            hooks: list[Callable[[np.void], None]] = [
                self._strategies[sid].on_tick
                for sid in strategy_ids
                if type(self._strategies[sid]).on_tick is not Strategy.on_tick
            ]
            if hooks:
                self._tick_hooks[instrument_id] = hooks

    def _refresh_limited(self) -> None:
        config = self._risk.config
        self._limited = [
            holder
            for holder in (*sorted(self._strategies), ACCOUNT)
            if config.limits_of(holder).max_drawdown is not None
            or config.limits_of(holder).max_daily_loss is not None
        ]

    def _check_tape(self, tape: _Tape) -> None:
        """The checks process_record makes trade by trade, made once on the whole array (the
        fast path skips the exchange, which would otherwise make them)."""
        records = tape.records
        if records.dtype != _TRADE_DTYPE:
            raise InvalidMarketData(f"process_trades takes TradeEvent records, not {records.dtype}")
        ts = tape.ts
        back = np.flatnonzero(ts[1:] < ts[:-1])
        if len(back):
            i = int(back[0]) + 1
            raise OmsError(
                OmsErrorReason.TIME_WENT_BACKWARDS,
                f"trade {i} at {int(ts[i])} is before trade {i - 1} ({int(ts[i - 1])})",
            )
        bad = np.flatnonzero((tape.price <= 0) | (records["quantity"] <= 0))
        if len(bad):
            i = int(bad[0])
            raise InvalidMarketData(f"trade {i} at {int(ts[i])}: price and quantity must be > 0")
        for instrument_id in tape.instruments(0, len(records)):
            if not self._exchange.knows(instrument_id):
                raise InvalidMarketData(f"trade of unknown instrument {instrument_id}")

    def _one(self, tape: _Tape, j: int) -> None:
        """Trade ``j`` through the full per-record path."""
        self.process_record(tape.records[j])  # applies the pending marks first
        self._synced = self._cursor = j + 1

    def _ticks(self, tape: _Tape, k: int, end: int) -> int:
        """Deliver ``on_tick`` for quiet trades from ``k``; returns where it stopped (at ``end``,
        or after a trade whose hooks left the exchange busy or moved the timers).

        This loop runs once per trade of a per-tick strategy, so it is written for speed: the
        hooks run with ``_dispatching`` set (what they cause is queued, as in ``_dispatch``) and
        the clock is stored directly (``_check_tape`` proved the times never go back)."""
        next_timer = self._timers.next_at()
        self._commanded = False
        hooks = self._tick_hooks
        records = tape.records
        clock = self._clock
        held = self._held
        outbox = self._outbox
        start = k
        self._dispatching = True
        try:
            while start < end:
                stop = min(end, start + _TICK_CHUNK)
                # Python ints are cheap to read per trade but not to hold: a chunk at a time.
                # (Indexing lists beats zip/enumerate here: their tuples, one per trade, keep
                # the cyclic GC busy.)
                ts_chunk = tape.ts[start:stop].tolist()
                single = tape.single
                if single is not None and single not in held and len(hooks.get(single, ())) == 1:
                    # One instrument, nobody holds it, one subscriber: the common case, bare.
                    hook = hooks[single][0]
                    j = start
                    for record in records[start:stop]:
                        clock._now = ts_chunk[j - start]
                        j += 1
                        self._cursor = j
                        hook(record)
                        if outbox:
                            self._dispatching = False
                            self._dispatch()
                            self._dispatching = True
                        if self._commanded:
                            self._commanded = False
                            if not self._exchange.idle or self._timers.next_at() != next_timer:
                                return j
                            if single in held:
                                break  # a fill opened a position: the general loop from here
                    start = j
                    continue
                iid_chunk = tape.iid[start:stop].tolist()
                j = start - 1
                for record in records[start:stop]:
                    j += 1
                    ts = ts_chunk[j - start]
                    instrument_id = iid_chunk[j - start]
                    if instrument_id in held:
                        # Its marks move equity: the exact path (marks, limits, then hooks).
                        self._dispatching = False
                        self._one(tape, j)
                        self._dispatching = True
                    else:
                        self._cursor = j + 1
                        targets = hooks.get(instrument_id)
                        if targets is None:
                            continue
                        clock._now = ts
                        for hook in targets:
                            hook(record)
                        if outbox:
                            self._dispatching = False
                            self._dispatch()
                            self._dispatching = True
                    if self._commanded:
                        # Only a command (an order, a cancel, a timer) ends the quiet stretch.
                        self._commanded = False
                        if not self._exchange.idle or self._timers.next_at() != next_timer:
                            return j + 1
                start = stop
        finally:
            self._dispatching = False
        return end

    def _quiet(self, tape: _Tape, k: int, end: int) -> bool:
        """Whether trades ``[k, end)`` (no order working, no timer due, no tick hooks) can have
        their marks applied later, in one go, with the same outcome."""
        instruments = tape.instruments(k, end)
        held = [i for i in instruments if i in self._held]
        if len(held) > 1:
            return False  # equity is not monotone in one price: extremes say nothing exact
        if not self._limited or self.currency not in self._portfolio.currencies():
            return True
        # A limit may trip inside the run only if it trips at the run's worst price against
        # the peak its best price would set: check that bound on exact equities.
        self._sync()
        if held:
            lo, hi = tape.price_range(held[0], k, end)
        for holder in self._limited:
            if held:
                a = self._portfolio.equity_at(self.currency, holder, held[0], lo)
                b = self._portfolio.equity_at(self.currency, holder, held[0], hi)
                worst, best = min(a, b), max(a, b)
            else:
                worst = best = self._portfolio.equity(self.currency, holder)
            peak, day_start = self._portfolio.peak_and_day_start(self.currency, holder)
            limits = self._risk.config.limits_of(holder)
            if (
                limits.max_drawdown is not None
                and drawdown_fraction(max(peak, best), worst) > limits.max_drawdown
            ):
                return False
            if limits.max_daily_loss is not None and day_start - worst > limits.max_daily_loss:
                return False
        return True

    def _peak_marks(self, tape: _Tape, instrument_id: int, a: int, b: int) -> tuple[int, ...]:
        """The prices of ``[a, b)`` at which holders' equity peaks: the highest for longs, the
        lowest for shorts (equity is monotone in the price of the one instrument held)."""
        sides = {
            p.side
            for p in self._portfolio.positions()
            if p.instrument.instrument_id == instrument_id
        }
        sides.discard(PositionSide.FLAT)
        if not sides:
            return ()
        lo, hi = tape.price_range(instrument_id, a, b)
        if sides == {PositionSide.LONG}:
            return (hi,)
        if sides == {PositionSide.SHORT}:
            return (lo,)
        return (lo, hi)

    def _sync_accounts(self) -> None:
        """Marks and risk's account totals up to date: before risk checks anything."""
        self._sync()
        if self._accounts_due is not None:
            self._update_accounts(self._accounts_due)
            self._collect_risk_events()

    def _sync(self) -> None:
        """Apply the marks of the trades process_trades let pass: extremes of a held
        instrument first (peak equity), then every instrument's last price."""
        tape = self._tape
        if tape is None or self._synced >= self._cursor:
            return
        a, b = self._synced, self._cursor
        self._synced = b
        portfolio = self._portfolio
        for instrument_id in tape.instruments(a, b):
            last = tape.last_index(instrument_id, a, b)
            price = int(tape.price[last])
            for extreme in self._peak_marks(tape, instrument_id, a, b):
                if extreme != price:
                    portfolio.mark(instrument_id, extreme)
            portfolio.mark(instrument_id, price)
            self._last_price[instrument_id] = price
            self._risk.update_price(instrument_id, price, int(tape.ts[last]))
        # Risk sees the new totals when it next checks something: the run was proved unable
        # to trip a post-trade limit (_quiet), so only the equity it keeps is out of date.
        self._accounts_due = int(tape.ts[b - 1])

    def _generator(self, strategy_id: int) -> ClientOrderIdGenerator:
        generator = self._ids.get(strategy_id)
        if generator is None:
            raise OmsError(OmsErrorReason.UNKNOWN_STRATEGY, f"no strategy {strategy_id} added")
        return generator

    def _book_order(self, order: Order) -> None:
        value = order.client_order_id.value
        self._orders[value] = order
        self.decision_prices[value] = self._last_price.get(order.instrument_id, 0)

    def _order(self, client_order_id: int) -> Order:
        order = self._orders.get(client_order_id)
        if order is None:
            raise OmsError(
                OmsErrorReason.UNKNOWN_ORDER, f"order {client_order_id} was never created here"
            )
        return order

    def _handle(self, events: list[ExecutionEvent]) -> None:
        """Book execution events (already applied to their orders) and queue the hooks."""
        for event in events:
            order = self._order(event.client_order_id)
            strategy_id = order.strategy_id
            fill = event.fill
            if fill is not None:
                self._portfolio.apply_fill(
                    PortfolioFill(
                        strategy_id=strategy_id,
                        instrument_id=order.instrument_id,
                        side=order.side,
                        price=fill.price,
                        quantity=fill.quantity,
                        fee=fill.fee,
                        fee_currency=fill.fee_currency,
                        ts_event=fill.ts_event,
                        client_order_id=event.client_order_id,
                        trade_id=fill.trade_id,
                    )
                )
                self._risk.apply_fill(strategy_id, order.instrument_id, order.side, fill.quantity)
                if self._portfolio.holds(order.instrument_id):
                    self._held.add(order.instrument_id)
                else:
                    self._held.discard(order.instrument_id)
                self._outbox.append((strategy_id, _Hook.FILL, (fill_record(order, fill)[0],)))
            elif event.kind is E.REJECTED:
                self._risk.record_reject(strategy_id, event.ts_event)
            if fill is None and event.status in TERMINAL_STATUSES:
                # Canceled, rejected or expired: the unfilled rest no longer counts as pending.
                self._risk.order_closed(
                    strategy_id, order.instrument_id, order.side, order.leaves_quantity
                )
            self._record_event(order, event)

    def _record_event(self, order: Order, event: ExecutionEvent) -> None:
        self.journal.append((JournalKind.ORDER_EVENT, *event.as_tuple()))
        if order.strategy_id not in self._strategies:
            return
        # The exchange applies a whole batch before returning, so the order already shows its
        # latest state; the record names this event, its status and time.
        update = update_record(order)[0]
        update["event"] = int(event.kind)
        update["status"] = int(event.status)
        update["ts_event"] = event.ts_event
        self._outbox.append((order.strategy_id, _Hook.ORDER_UPDATE, (update,)))

    def _update_accounts(self, ts: int) -> None:
        """Post-trade limits: risk sees each strategy's and the account's new totals."""
        self._accounts_due = None
        if self.currency not in self._portfolio.currencies():
            return
        for strategy_id in (*sorted(self._strategies), ACCOUNT):
            self._risk.update_account(self._portfolio.account(self.currency, strategy_id), ts)

    def _collect_risk_events(self) -> None:
        for event in self._risk.drain_events():
            owner = int(event["strategy_id"])
            self.journal.append(
                (
                    JournalKind.RISK_EVENT,
                    int(event["ts_event"]),
                    owner,
                    int(event["instrument_id"]),
                    int(event["client_order_id"]),
                    int(event["reason"]),
                    int(event["action"]),
                )
            )
            targets = sorted(self._strategies) if owner == GLOBAL else [owner]
            for strategy_id in targets:
                if strategy_id in self._strategies:
                    self._outbox.append((strategy_id, _Hook.RISK_EVENT, (event,)))

    def _dispatch(self) -> None:
        """Deliver queued hooks in order; a hook's own commands queue behind it."""
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._outbox:
                strategy_id, hook, payload = self._outbox.popleft()
                getattr(self._strategies[strategy_id], _HOOK_METHODS[hook])(*payload)
        finally:
            self._dispatching = False
