"""An in-memory :class:`StrategyContext` for unit tests: records every call, fills nothing.

::

    ctx = RecordingContext(strategy_id=1, instruments=[SIM_BTCUSDT])
    strategy = Momentum(ctx, parse_params(Momentum, {"fast": 3, "slow": 5}))
    strategy.on_start()
    ctx.clock.set(bar["ts_event"]); strategy.on_bar(bar)
    ctx.orders            # [SubmittedOrder(...)], ids from ClientOrderIdGenerator
    ctx.set_position(SIM_BTCUSDT.instrument_id, Decimal("0.01"))   # the test plays the engine

Order commands are validated exactly as an engine validates them (lot, tick, known
instrument), so a strategy that passes here does not fail on those in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from qk.instruments import Instrument
from qk.orders import ClientOrderId, ClientOrderIdGenerator
from qk.schemas.enums import OrderType, Side, TimeInForce
from qk.strategy.context import (
    AccountView,
    PositionView,
    StrategyContext,
    check_price,
    check_quantity,
    deployed_instrument,
)
from qk.strategy.errors import InvalidOrderRequest, OrderRequestReason

__all__ = [
    "CancelRequested",
    "ManualClock",
    "ModifyRequested",
    "OrderSubmitted",
    "RecordingContext",
    "TimerScheduled",
]


class ManualClock:
    """A clock the test sets; starts at ``start_ns``."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        """Start at ``start_ns``."""
        self._now = start_ns

    def now_ns(self) -> int:
        """The time last set."""
        return self._now

    def set(self, ts_ns: int) -> None:
        """Move to ``ts_ns``.

        Raises:
            ValueError: Moving backwards (market time never does).
        """
        if ts_ns < self._now:
            raise ValueError(f"clock cannot go back from {self._now} to {ts_ns}")
        self._now = int(ts_ns)

    def advance(self, delta_ns: int) -> None:
        """Move forward by ``delta_ns`` (>= 0)."""
        self.set(self._now + delta_ns)


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    """A recorded submit command.

    Attributes:
        client_order_id: The id returned to the strategy.
        ts_ns: Clock time of the command.
        instrument_id: Instrument.
        side: BUY or SELL.
        order_type: MARKET, LIMIT, STOP_MARKET or STOP_LIMIT.
        quantity: Instrument units.
        price: Limit price (None for market and stop-market).
        trigger_price: Stop trigger (None unless a stop).
        time_in_force: Time in force.
        post_only: Post-only flag of a limit.
    """

    client_order_id: ClientOrderId
    ts_ns: int
    instrument_id: int
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class ModifyRequested:
    """A recorded modify command (None: unchanged)."""

    client_order_id: ClientOrderId
    ts_ns: int
    quantity: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """A recorded cancel command."""

    client_order_id: ClientOrderId
    ts_ns: int


@dataclass(frozen=True, slots=True)
class TimerScheduled:
    """A recorded timer: ``at_ns`` and/or ``every_ns``; ``cancelled`` once cancelled."""

    name: str
    ts_ns: int
    at_ns: int | None
    every_ns: int | None


Command = OrderSubmitted | ModifyRequested | CancelRequested


class RecordingContext(StrategyContext):
    """Records commands; positions, account and clock are set by the test.

    Attributes:
        commands: Every order command in call order.
        orders: The submit commands only.
        timers: Active timers by name.
        timer_log: Every schedule call in order.
    """

    def __init__(
        self,
        strategy_id: int,
        instruments: Iterable[Instrument],
        *,
        start_ns: int = 0,
        currency: str = "USDT",
        cash: Decimal = Decimal(0),
    ) -> None:
        """Create a context for ``strategy_id`` deployed on ``instruments``.

        Raises:
            InvalidClientOrderId: ``strategy_id`` out of 1..16_777_215.
        """
        self._ids = ClientOrderIdGenerator(strategy_id)
        self._strategy_id = strategy_id
        self._instruments = {i.instrument_id: i for i in instruments}
        self._clock = ManualClock(start_ns)
        self._positions: dict[int, PositionView] = {}
        self._account = AccountView(currency, cash, cash)
        self._log = structlog.get_logger("qk.strategy").bind(strategy_id=strategy_id)
        self.commands: list[Command] = []
        self.orders: list[OrderSubmitted] = []
        self.timers: dict[str, TimerScheduled] = {}
        self.timer_log: list[TimerScheduled] = []

    # -- what the test controls ---------------------------------------------------------------

    def set_position(
        self, instrument_id: int, quantity: Decimal, average_price: Decimal | None = None
    ) -> None:
        """Set the position the strategy will see (the test plays the portfolio)."""
        self._positions[instrument_id] = PositionView(instrument_id, quantity, average_price)

    def set_account(self, account: AccountView) -> None:
        """Set the account the strategy will see."""
        self._account = account

    # -- StrategyContext ----------------------------------------------------------------------

    @property
    def strategy_id(self) -> int:
        """This strategy's id."""
        return self._strategy_id

    @property
    def clock(self) -> ManualClock:
        """The test's clock."""
        return self._clock

    @property
    def log(self) -> Any:
        """A structlog logger bound with ``strategy_id`` (use structlog.testing.capture_logs)."""
        return self._log

    def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | int | None = None,
        price: Decimal | int | None = None,
        trigger_price: Decimal | int | None = None,
    ) -> None:
        """Record a modify of an order this strategy submitted."""
        order = self._order(client_order_id)
        if quantity is None and price is None and trigger_price is None:
            raise InvalidOrderRequest(
                OrderRequestReason.EMPTY_MODIFY, f"modify of {client_order_id} changes nothing"
            )
        instrument = self.instrument(order.instrument_id)
        self.commands.append(
            ModifyRequested(
                client_order_id,
                self._clock.now_ns(),
                None if quantity is None else check_quantity(instrument, quantity),
                None if price is None else check_price(instrument, price),
                None if trigger_price is None else check_price(instrument, trigger_price),
            )
        )

    def cancel(self, client_order_id: ClientOrderId) -> None:
        """Record a cancel of an order this strategy submitted."""
        self._order(client_order_id)
        self.commands.append(CancelRequested(client_order_id, self._clock.now_ns()))

    def position(self, instrument_id: int) -> PositionView:
        """The position set by the test, flat by default."""
        return self._positions.get(instrument_id, PositionView(instrument_id, Decimal(0)))

    @property
    def account(self) -> AccountView:
        """The account set by the test."""
        return self._account

    def instrument(self, key: int | str) -> Instrument:
        """A deployed instrument by id or symbol."""
        return deployed_instrument(key, self._instruments, self._strategy_id)

    def schedule_timer(
        self, name: str, *, at_ns: int | None = None, every_ns: int | None = None
    ) -> None:
        """Record a timer (it never fires: the test calls ``on_signal_timer`` itself)."""
        now = self._clock.now_ns()
        if at_ns is None and every_ns is None:
            raise ValueError(f"timer {name!r}: give at_ns, every_ns or both")
        if every_ns is not None and every_ns <= 0:
            raise ValueError(f"timer {name!r}: every_ns must be > 0, got {every_ns}")
        if at_ns is not None and at_ns < now:
            raise ValueError(f"timer {name!r}: at_ns {at_ns} is before now {now}")
        timer = TimerScheduled(name, now, at_ns, every_ns)
        self.timers[name] = timer
        self.timer_log.append(timer)

    def cancel_timer(self, name: str) -> None:
        """Forget a timer."""
        self.timers.pop(name, None)

    # -- internals ----------------------------------------------------------------------------

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
        instrument = self.instrument(instrument_id)
        # Validate before taking an id: a refused command must not consume a sequence number.
        checked_quantity = check_quantity(instrument, quantity)
        checked_price = None if price is None else check_price(instrument, price)
        checked_trigger = (
            None if trigger_price is None else check_price(instrument, trigger_price, "trigger")
        )
        checked = OrderSubmitted(
            client_order_id=self._ids.next(),
            ts_ns=self._clock.now_ns(),
            instrument_id=instrument_id,
            side=Side(side),
            order_type=order_type,
            quantity=checked_quantity,
            price=checked_price,
            trigger_price=checked_trigger,
            time_in_force=time_in_force,
            post_only=post_only,
        )
        self.commands.append(checked)
        self.orders.append(checked)
        return checked.client_order_id

    def _order(self, client_order_id: ClientOrderId) -> OrderSubmitted:
        for order in self.orders:
            if order.client_order_id == client_order_id:
                return order
        raise InvalidOrderRequest(
            OrderRequestReason.UNKNOWN_ORDER,
            f"order {client_order_id} was not submitted by strategy {self._strategy_id}",
        )
