"""The risk engine: pre-trade checks, trading states, post-trade limits, kill switch, breakers.

It sits between strategies and the OMS (DESIGN.md §7). It reads no clock: every call carries
``ts`` (ns since epoch UTC, the mode's clock), so a backtest and a live run decide alike.
Quantities and prices are raw fixed point at the instrument's precisions; money limits are
compared exactly at the scale of ``price x quantity x multiplier``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

import numpy as np

from qk.instruments import Instrument
from qk.instruments.errors import UnknownInstrumentError
from qk.orders import OPEN_STATUSES, Order, OrderStatus
from qk.portfolio.portfolio import AccountState
from qk.risk.config import RiskConfig, RiskLimits
from qk.risk.errors import InvalidRiskInput
from qk.risk.intent import APPROVED, CancelOrder, KillSwitchResult, OrderIntent, RiskDecision
from qk.risk.reasons import RECORD_REASON, DenialReason
from qk.risk.states import TradingState, TradingStateEvent, next_state
from qk.schemas import new_records
from qk.schemas.enums import OrderType, RiskAction, RiskReason, Severity, Side
from qk.schemas.fixed import MONEY_PRECISION, MULTIPLIER_PRECISION

GLOBAL = 0
"""Strategy id of the global level (states, kill switch, limits over everything)."""

FRACTION_PRECISION = MONEY_PRECISION
"""Decimals of fractions (price band, leverage, drawdown) in RiskEvent values."""

_ONE_FRACTION = 10**FRACTION_PRECISION
_MARKET_TYPES = frozenset({OrderType.MARKET, OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET})
# Orders that may still work or be working at the venue, minus those whose cancel is already
# in flight (re-sending it would only earn a "cancel rejected").
_CANCELABLE = (OPEN_STATUSES | {OrderStatus.SUBMITTED, OrderStatus.UNKNOWN}) - {
    OrderStatus.PENDING_CANCEL
}


class InstrumentSource(Protocol):
    """Instrument lookup (the instrument master)."""

    def get(self, instrument_id: int) -> Instrument:
        """The instrument, or UnknownInstrumentError."""
        ...


@dataclass(frozen=True, slots=True)
class _Spec:
    """Raw figures of one instrument, computed once."""

    instrument: Instrument
    tick: int
    lot: int
    min_quantity: int
    max_quantity: int
    notional_scale: int  # decimals of price x quantity x multiplier_raw
    min_notional: int  # at notional_scale
    multiplier: int


def _floor_raw(value: Decimal, precision: int) -> int:
    """A limit at a precision, rounded down (a limit never grows by rounding)."""
    return int(Decimal(value).scaleb(precision).to_integral_value(rounding=ROUND_FLOOR))


class RiskEngine:
    """Pre-trade and post-trade risk for every strategy of one account.

    ::

        engine = RiskEngine(config, master)
        engine.update_price(instrument_id, last_price_raw, ts)
        decision = engine.check(OrderIntent(...), ts)   # APPROVED or a denial + RiskEvent
        engine.apply_fill(strategy_id, instrument_id, Side.BUY, quantity_raw)
        engine.update_account(portfolio.account("USDT", strategy_id), ts)   # drawdown, day loss
        engine.engage_kill_switch(open_orders, ts, flatten=True)            # cancels + flatten
        engine.drain_events()                                               # RiskEvent records

    Args:
        config: The limits.
        instruments: Instrument lookup.
    """

    def __init__(self, config: RiskConfig, instruments: InstrumentSource) -> None:
        if not isinstance(config, RiskConfig):
            raise InvalidRiskInput(f"config must be a RiskConfig, got {config!r}")
        self.config = config
        self._instruments = instruments
        self._specs: dict[int, _Spec] = {}
        self._last_price: dict[int, tuple[int, int]] = {}  # instrument -> (price, ts)
        # Signed positions per (strategy, instrument) and their sum per instrument.
        self._positions: dict[tuple[int, int], int] = {}
        self._net: dict[int, int] = {}
        # Approved, unfilled quantity per (strategy, instrument, side): worst-case checks.
        self._pending: dict[tuple[int, int, Side], int] = {}
        self._latched: dict[int, TradingState] = {}
        self._killed: set[int] = set()
        self._flattened: set[tuple[int, int]] = set()
        self._equity: dict[int, int] = {}  # strategy -> equity, money raw
        self._orders_sent: dict[int, deque[int]] = {}
        self._denials: dict[int, deque[int]] = {}
        self._breaker_until: dict[int, int] = {}
        self._events: list[np.ndarray] = []

    # -- inputs -------------------------------------------------------------------------------

    def update_price(self, instrument_id: int, price: int, ts: int) -> None:
        """Record the last price of an instrument (trade or mid), raw at its price precision."""
        if isinstance(price, bool) or not isinstance(price, int) or price <= 0:
            raise InvalidRiskInput(
                f"price of instrument {instrument_id} must be > 0, got {price!r}"
            )
        self._last_price[instrument_id] = (price, ts)

    def apply_fill(self, strategy_id: int, instrument_id: int, side: Side, quantity: int) -> None:
        """Book a fill: the position moves, the order's pending quantity shrinks."""
        if not isinstance(side, Side) or quantity <= 0:
            raise InvalidRiskInput(
                f"fill needs a Side and a quantity > 0, got {side!r}, {quantity}"
            )
        key = (strategy_id, instrument_id)
        signed = quantity if side is Side.BUY else -quantity
        self._positions[key] = self._positions.get(key, 0) + signed
        self._net[instrument_id] = self._net.get(instrument_id, 0) + signed
        self._release(strategy_id, instrument_id, side, quantity)
        if self._positions[key] == 0:
            self._flattened.discard(key)

    def order_closed(
        self, strategy_id: int, instrument_id: int, side: Side, leaves_quantity: int
    ) -> None:
        """An approved order ended (canceled, rejected, expired) with ``leaves_quantity`` unfilled.

        A venue reject also counts toward the reject-burst breaker: call :meth:`record_reject`.
        """
        self._release(strategy_id, instrument_id, side, leaves_quantity)

    def record_reject(self, strategy_id: int, ts: int) -> None:
        """Count a venue reject toward the reject-burst breaker."""
        self._count_denial(strategy_id, ts)

    def update_account(self, state: AccountState, ts: int) -> None:
        """Post-trade checks on a strategy's (or the account's, strategy 0) totals.

        A drawdown fraction above ``max_drawdown`` or a day loss above ``max_daily_loss`` moves
        the strategy (strategy 0: everything) to the configured REDUCING or HALTED state. The
        equity is kept for the leverage check.
        """
        strategy_id = state.strategy_id
        self._equity[strategy_id] = _floor_raw(state.equity, MONEY_PRECISION)
        limits = self.config.limits_of(strategy_id)
        if limits.max_drawdown is not None and state.drawdown_fraction > limits.max_drawdown:
            self._breach(
                strategy_id,
                limits.drawdown_state,
                ts,
                RiskReason.MAX_DRAWDOWN,
                _floor_raw(limits.max_drawdown, FRACTION_PRECISION),
                _floor_raw(state.drawdown_fraction, FRACTION_PRECISION),
            )
        if limits.max_daily_loss is not None and -state.day_pnl > limits.max_daily_loss:
            self._breach(
                strategy_id,
                limits.daily_loss_state,
                ts,
                RiskReason.DAILY_LOSS,
                _floor_raw(limits.max_daily_loss, MONEY_PRECISION),
                _floor_raw(-state.day_pnl, MONEY_PRECISION),
            )

    # -- operator commands --------------------------------------------------------------------

    def halt(self, strategy_id: int, ts: int) -> TradingState:
        """Operator: halt a strategy (0: everything). Returns the latched state."""
        return self._transition(strategy_id, TradingStateEvent.OPERATOR_HALTED, ts)

    def reduce(self, strategy_id: int, ts: int) -> TradingState:
        """Operator: reducing-only for a strategy (0: everything); loosens a HALTED latch."""
        return self._transition(strategy_id, TradingStateEvent.OPERATOR_REDUCED, ts)

    def resume(self, strategy_id: int, ts: int) -> TradingState:
        """Operator: back to ACTIVE. The kill switch and a cooling breaker still apply."""
        return self._transition(strategy_id, TradingStateEvent.OPERATOR_RESUMED, ts)

    def engage_kill_switch(
        self,
        open_orders: Iterable[Order],
        ts: int,
        *,
        strategy_id: int = GLOBAL,
        flatten: bool = False,
    ) -> KillSwitchResult:
        """Block new orders, cancel open orders, optionally flatten (0: every strategy).

        Idempotent: engaging again emits no new event, returns the cancels of orders still
        cancelable (so a lost cancel is re-sent) and flattens only positions not already
        being flattened.

        Args:
            open_orders: The OMS's orders (any status; only cancelable ones in scope count).
            ts: Clock time.
            strategy_id: Scope: one strategy, or GLOBAL for everything.
            flatten: Also produce reduce-only market intents closing every position in scope.

        Returns:
            The cancels and flattening intents for the OMS to send.
        """
        newly = strategy_id not in self._killed
        if newly:
            self._killed.add(strategy_id)
            action = RiskAction.HALT_ALL if strategy_id == GLOBAL else RiskAction.HALT_STRATEGY
            self._emit(
                ts,
                strategy_id,
                0,
                0,
                RiskReason.KILL_SWITCH,
                action,
                Severity.CRITICAL,
                0,
                0,
                "kill switch engaged",
            )
        cancels = tuple(
            CancelOrder(order.strategy_id, order.client_order_id.value)
            for order in open_orders
            if order.status in _CANCELABLE and strategy_id in (GLOBAL, order.strategy_id)
        )
        if cancels and newly:
            self._emit(
                ts,
                strategy_id,
                0,
                0,
                RiskReason.KILL_SWITCH,
                RiskAction.CANCEL_OPEN_ORDERS,
                Severity.CRITICAL,
                0,
                len(cancels),
                "cancel open orders",
            )
        intents: list[OrderIntent] = []
        if flatten:
            for (owner, instrument_id), position in sorted(self._positions.items()):
                key = (owner, instrument_id)
                if position == 0 or key in self._flattened or strategy_id not in (GLOBAL, owner):
                    continue
                side = Side.SELL if position > 0 else Side.BUY
                intents.append(
                    OrderIntent(
                        owner,
                        instrument_id,
                        side,
                        OrderType.MARKET,
                        abs(position),
                        reduce_only=True,
                    )
                )
                self._flattened.add(key)
                # Sent by the OMS without a check, so held as pending like an approved order.
                self._add_pending(owner, instrument_id, side, abs(position))
                self._emit(
                    ts,
                    owner,
                    instrument_id,
                    0,
                    RiskReason.KILL_SWITCH,
                    RiskAction.FLATTEN,
                    Severity.CRITICAL,
                    0,
                    position,
                    "flatten",
                )
        return KillSwitchResult(cancels, tuple(intents), newly)

    def release_kill_switch(self, strategy_id: int, ts: int) -> bool:
        """Operator: release the kill switch of a scope. Returns False if it was not engaged.

        The latched trading state is left as it is; a breach still holds after release.
        """
        if strategy_id not in self._killed:
            return False
        self._killed.discard(strategy_id)
        self._emit(
            ts,
            strategy_id,
            0,
            0,
            RiskReason.KILL_SWITCH,
            RiskAction.RESUME,
            Severity.WARNING,
            0,
            0,
            "kill switch released",
        )
        return True

    # -- queries ------------------------------------------------------------------------------

    def kill_switch_engaged(self, strategy_id: int = GLOBAL) -> bool:
        """Whether the kill switch blocks this strategy (its own or the global one)."""
        return GLOBAL in self._killed or strategy_id in self._killed

    def latched_state(self, strategy_id: int) -> TradingState:
        """The state the transition table holds for a strategy (0: global)."""
        return self._latched.get(strategy_id, TradingState.ACTIVE)

    def state(self, strategy_id: int, ts: int) -> TradingState:
        """The effective state of a strategy at ``ts``: the strictest of its latch, the global
        latch, the kill switches and the reject-burst breakers."""
        if self.kill_switch_engaged(strategy_id) or self._breaker_tripped(strategy_id, ts):
            return TradingState.HALTED
        return max(self.latched_state(strategy_id), self.latched_state(GLOBAL))

    def position(self, strategy_id: int, instrument_id: int) -> int:
        """Signed position (raw) as risk has booked it."""
        return self._positions.get((strategy_id, instrument_id), 0)

    def drain_events(self) -> np.ndarray:
        """The RiskEvent records emitted since the last drain, in order, as one array."""
        events = self._events
        self._events = []
        if not events:
            return new_records("RiskEvent", 0)
        return np.concatenate(events)

    # -- the pre-trade check ------------------------------------------------------------------

    def check(self, intent: OrderIntent, ts: int) -> RiskDecision:
        """Check an order intent before it reaches the OMS.

        Returns:
            :data:`APPROVED` (the order's quantity is then held as pending until
            :meth:`apply_fill` / :meth:`order_closed`), or a denial with its typed reason, limit
            and observed values and its RiskEvent record (also queued for
            :meth:`drain_events`; the denial counts toward the reject-burst breaker).
        """
        if not isinstance(intent, OrderIntent):
            raise InvalidRiskInput(f"check needs an OrderIntent, got {intent!r}")
        denial = self._first_denial(intent, ts)
        if denial is None:
            self._add_pending(
                intent.strategy_id, intent.instrument_id, intent.side, intent.quantity
            )
            for scope in (intent.strategy_id, GLOBAL):
                self._orders_sent.setdefault(scope, deque()).append(ts)
            return APPROVED
        reason, limit, observed, detail = denial
        event = self._emit(
            ts,
            intent.strategy_id,
            intent.instrument_id,
            intent.client_order_id,
            RECORD_REASON[reason],
            RiskAction.DENY_ORDER,
            Severity.WARNING,
            limit,
            observed,
            f"{reason.name}: {detail}" if detail else reason.name,
        )
        self._count_denial(intent.strategy_id, ts)
        return RiskDecision(False, reason, limit, observed, detail, event)

    def _first_denial(
        self, intent: OrderIntent, ts: int
    ) -> tuple[DenialReason, int, int, str] | None:
        strategy_id = intent.strategy_id
        try:
            spec = self._spec(intent.instrument_id)
        except UnknownInstrumentError:
            return DenialReason.UNKNOWN_INSTRUMENT, 0, intent.instrument_id, ""
        # Trading state first: a halted strategy learns nothing else.
        if self.kill_switch_engaged(strategy_id):
            return DenialReason.KILL_SWITCH, 0, 0, ""
        if self._breaker_tripped(strategy_id, ts):
            until = max(self._breaker_until.get(s, 0) for s in (strategy_id, GLOBAL))
            return DenialReason.CIRCUIT_BREAKER, until, ts, "reject burst cool-down"
        latched = max(self.latched_state(strategy_id), self.latched_state(GLOBAL))
        if latched is TradingState.HALTED:
            return DenialReason.TRADING_HALTED, 0, 0, ""
        reducing = self._is_reducing(intent)
        if latched is TradingState.REDUCING and not reducing:
            return DenialReason.TRADING_REDUCING, 0, intent.signed_quantity, ""
        if intent.reduce_only and not reducing:
            return DenialReason.REDUCE_ONLY_INCREASES, 0, intent.signed_quantity, ""

        limits = self.config.limits_of(strategy_id)
        scopes = ((strategy_id, limits), (GLOBAL, self.config.global_limits))
        instrument = spec.instrument
        for _, lim in scopes:
            if lim.permitted_instruments is not None and (
                intent.instrument_id not in lim.permitted_instruments
            ):
                return DenialReason.INSTRUMENT_NOT_PERMITTED, 0, intent.instrument_id, ""
            if lim.permitted_venues is not None and instrument.venue not in lim.permitted_venues:
                return DenialReason.VENUE_NOT_PERMITTED, 0, int(instrument.venue), ""

        last = self._last_price.get(intent.instrument_id)
        stale_after = self.config.breakers.stale_after_ns
        if stale_after is not None:
            if last is None:
                return DenialReason.NO_REFERENCE_PRICE, 0, 0, ""
            if ts - last[1] > stale_after:
                return DenialReason.STALE_MARKET_DATA, stale_after, ts - last[1], "age ns"

        # Venue filters.
        for name, value in (("price", intent.price), ("trigger", intent.trigger_price)):
            if value and spec.tick and value % spec.tick:
                return DenialReason.TICK_SIZE, spec.tick, value, name
        if spec.lot and intent.quantity % spec.lot:
            return DenialReason.LOT_SIZE, spec.lot, intent.quantity, ""
        if intent.quantity < spec.min_quantity:
            return DenialReason.MIN_QUANTITY, spec.min_quantity, intent.quantity, ""
        if spec.max_quantity and intent.quantity > spec.max_quantity:
            return DenialReason.MAX_QUANTITY, spec.max_quantity, intent.quantity, ""

        # The price the order is valued at: its limit price, else the last, else its trigger.
        value_price = intent.price or (last[0] if last is not None else intent.trigger_price)
        needs_value = spec.min_notional > 0 or any(
            lim.max_order_notional is not None
            or lim.max_gross_exposure is not None
            or lim.max_leverage is not None
            for _, lim in scopes
        )
        if needs_value and value_price == 0:
            return DenialReason.NO_REFERENCE_PRICE, 0, 0, "cannot value the order"
        notional = value_price * intent.quantity * spec.multiplier
        if spec.min_notional and notional < spec.min_notional and not intent.reduce_only:
            return (
                DenialReason.MIN_NOTIONAL,
                self._money(spec, spec.min_notional),
                self._money(spec, notional),
                "",
            )

        for scope, lim in scopes:
            denial = self._check_limits(intent, spec, scope, lim, last, notional, reducing, ts)
            if denial is not None:
                return denial
        return None

    def _check_limits(
        self,
        intent: OrderIntent,
        spec: _Spec,
        scope: int,
        lim: RiskLimits,
        last: tuple[int, int] | None,
        notional: int,
        reducing: bool,
        ts: int,
    ) -> tuple[DenialReason, int, int, str] | None:
        where = "global" if scope == GLOBAL else "strategy"
        size_p = spec.instrument.size_precision
        if lim.max_order_quantity is not None:
            limit = _floor_raw(lim.max_order_quantity, size_p)
            if intent.quantity > limit:
                return DenialReason.MAX_ORDER_QUANTITY, limit, intent.quantity, where
        if lim.max_order_notional is not None:
            limit = _floor_raw(lim.max_order_notional, spec.notional_scale)
            if notional > limit:
                return (
                    DenialReason.MAX_ORDER_NOTIONAL,
                    self._money(spec, limit),
                    self._money(spec, notional),
                    where,
                )
        if lim.price_band is not None and intent.price and intent.order_type not in _MARKET_TYPES:
            if last is None:
                return DenialReason.NO_REFERENCE_PRICE, 0, 0, "price band"
            band = _floor_raw(lim.price_band, FRACTION_PRECISION)
            distance = abs(intent.price - last[0]) * _ONE_FRACTION
            if distance > band * last[0]:
                return DenialReason.PRICE_BAND, band, distance // last[0], where
        # Position, exposure and leverage only bind orders that can increase risk.
        if reducing:
            return None
        if lim.max_position is not None:
            limit = _floor_raw(lim.max_position, size_p)
            worst = self._worst_position(scope, intent)
            if abs(worst) > limit:
                return DenialReason.MAX_POSITION, limit, abs(worst), where
        if lim.max_gross_exposure is not None or lim.max_leverage is not None:
            gross = self._gross_exposure(scope) + self._money(spec, notional)
            if lim.max_gross_exposure is not None:
                limit = _floor_raw(lim.max_gross_exposure, MONEY_PRECISION)
                if gross > limit:
                    return DenialReason.MAX_EXPOSURE, limit, gross, where
            if lim.max_leverage is not None:
                equity = self._equity.get(scope, 0)
                if equity <= 0:
                    return DenialReason.NO_EQUITY, 0, equity, where
                limit = _floor_raw(lim.max_leverage, FRACTION_PRECISION)
                if gross * _ONE_FRACTION > limit * equity:
                    return DenialReason.MAX_LEVERAGE, limit, gross * _ONE_FRACTION // equity, where
        if lim.max_orders_per_window is not None and lim.rate_window_ns is not None:
            sent = self._orders_sent.get(scope)
            if sent is not None:
                _expire(sent, ts - lim.rate_window_ns)
                if len(sent) >= lim.max_orders_per_window:
                    return DenialReason.ORDER_RATE, lim.max_orders_per_window, len(sent) + 1, where
        return None

    # -- internals ----------------------------------------------------------------------------

    def _spec(self, instrument_id: int) -> _Spec:
        spec = self._specs.get(instrument_id)
        if spec is None:
            inst = self._instruments.get(instrument_id)
            pp, sp = inst.price_precision, inst.size_precision
            scale = pp + sp + MULTIPLIER_PRECISION
            spec = _Spec(
                instrument=inst,
                tick=_floor_raw(inst.tick_size, pp),
                lot=_floor_raw(inst.lot_size, sp),
                min_quantity=_floor_raw(inst.min_quantity, sp),
                max_quantity=_floor_raw(inst.max_quantity, sp),
                notional_scale=scale,
                min_notional=_floor_raw(inst.min_notional, scale),
                multiplier=_floor_raw(inst.multiplier, MULTIPLIER_PRECISION),
            )
            self._specs[instrument_id] = spec
        return spec

    @staticmethod
    def _money(spec: _Spec, value: int) -> int:
        """A value at the notional scale as money raw, rounded down (scale >= MONEY_PRECISION)."""
        divisor: int = 10 ** (spec.notional_scale - MONEY_PRECISION)
        return value // divisor

    def _is_reducing(self, intent: OrderIntent) -> bool:
        """Whether the order, with every pending order on its side filled, only shrinks the
        strategy's |position| and never crosses zero."""
        position = self.position(intent.strategy_id, intent.instrument_id)
        pending = self._pending.get((intent.strategy_id, intent.instrument_id, intent.side), 0)
        if intent.side is Side.SELL:
            return position > 0 and pending + intent.quantity <= position
        return position < 0 and pending + intent.quantity <= -position

    def _worst_position(self, scope: int, intent: OrderIntent) -> int:
        """The position if every pending order on the intent's side and the intent fill."""
        if scope == GLOBAL:
            position = self._net.get(intent.instrument_id, 0)
            pending = sum(
                qty
                for (_, inst, side), qty in self._pending.items()
                if inst == intent.instrument_id and side is intent.side
            )
        else:
            position = self.position(scope, intent.instrument_id)
            pending = self._pending.get((scope, intent.instrument_id, intent.side), 0)
        added = pending + intent.quantity
        return position + added if intent.side is Side.BUY else position - added

    def _gross_exposure(self, scope: int) -> int:
        """Sum of |position x last price x multiplier| of a strategy (0: all), money raw."""
        total = 0
        for (owner, instrument_id), position in self._positions.items():
            if position == 0 or scope not in (GLOBAL, owner):
                continue
            last = self._last_price.get(instrument_id)
            if last is None:
                continue
            spec = self._spec(instrument_id)
            total += self._money(spec, abs(position) * last[0] * spec.multiplier)
        return total

    def _add_pending(self, strategy_id: int, instrument_id: int, side: Side, qty: int) -> None:
        key = (strategy_id, instrument_id, side)
        self._pending[key] = self._pending.get(key, 0) + qty

    def _release(self, strategy_id: int, instrument_id: int, side: Side, qty: int) -> None:
        key = (strategy_id, instrument_id, side)
        left = self._pending.get(key, 0) - qty
        # A fill of an order risk never approved (manual, reconciled) cannot go below zero.
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)

    def _breaker_tripped(self, strategy_id: int, ts: int) -> bool:
        return any(self._breaker_until.get(s, 0) > ts for s in (strategy_id, GLOBAL))

    def _count_denial(self, strategy_id: int, ts: int) -> None:
        breakers = self.config.breakers
        window, cooldown = breakers.reject_burst_window_ns, breakers.reject_burst_cooldown_ns
        if window is None or cooldown is None:
            return
        for scope, count in (
            (strategy_id, breakers.reject_burst_count),
            (GLOBAL, breakers.global_reject_burst_count),
        ):
            if count is None or self._breaker_until.get(scope, 0) > ts:
                continue  # no breaker here, or already cooling down: a burst does not extend it
            denials = self._denials.setdefault(scope, deque())
            denials.append(ts)
            _expire(denials, ts - window)
            if len(denials) >= count:
                self._breaker_until[scope] = ts + cooldown
                denials.clear()
                action = RiskAction.HALT_ALL if scope == GLOBAL else RiskAction.HALT_STRATEGY
                self._emit(
                    ts,
                    scope,
                    0,
                    0,
                    RiskReason.CIRCUIT_BREAKER,
                    action,
                    Severity.CRITICAL,
                    count,
                    count,
                    "reject burst",
                )

    def _breach(
        self,
        strategy_id: int,
        target: TradingState,
        ts: int,
        reason: RiskReason,
        limit: int,
        observed: int,
    ) -> None:
        event = (
            TradingStateEvent.HALT_LIMIT_BREACHED
            if target is TradingState.HALTED
            else TradingStateEvent.REDUCE_LIMIT_BREACHED
        )
        self._transition(strategy_id, event, ts, reason, limit, observed)

    def _transition(
        self,
        strategy_id: int,
        event: TradingStateEvent,
        ts: int,
        reason: RiskReason = RiskReason.STRATEGY_HALTED,
        limit: int = 0,
        observed: int = 0,
    ) -> TradingState:
        before = self.latched_state(strategy_id)
        after = next_state(before, event)
        if after is before:
            return after
        self._latched[strategy_id] = after
        if after is TradingState.ACTIVE:
            action = RiskAction.RESUME
        elif after is TradingState.REDUCING:
            action = RiskAction.REDUCE_ONLY
        else:
            action = RiskAction.HALT_ALL if strategy_id == GLOBAL else RiskAction.HALT_STRATEGY
        self._emit(
            ts,
            strategy_id,
            0,
            0,
            reason,
            action,
            Severity.CRITICAL,
            limit,
            observed,
            f"{before.name}->{after.name}",
        )
        return after

    def _emit(
        self,
        ts: int,
        strategy_id: int,
        instrument_id: int,
        client_order_id: int,
        reason: RiskReason,
        action: RiskAction,
        severity: Severity,
        limit: int,
        observed: int,
        detail: str,
    ) -> np.ndarray:
        record = new_records("RiskEvent", 1)
        row = record[0]
        row["ts_event"] = ts
        row["ts_recv"] = ts
        row["strategy_id"] = strategy_id
        row["instrument_id"] = instrument_id
        row["client_order_id"] = client_order_id
        row["reason"] = int(reason)
        row["action"] = int(action)
        row["severity"] = int(severity)
        row["limit_value"] = limit
        row["observed_value"] = observed
        row["detail"] = detail.encode("ascii", "replace")[:40]
        self._events.append(record)
        return record


def _expire(window: deque[int], oldest: int) -> None:
    """Drop timestamps at or before ``oldest`` (the window is (oldest, now])."""
    while window and window[0] <= oldest:
        window.popleft()
