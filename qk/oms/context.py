"""The engine's :class:`~qk.strategy.StrategyContext`: one strategy's view of an
:class:`~qk.oms.OrderManager`.

Commands are validated here exactly as :class:`~qk.strategy.RecordingContext` validates them
(the same ``check_quantity`` / ``check_price``), converted to raw fixed point with the
instrument's precisions, built into an :class:`~qk.orders.Order` with the next deterministic
client order id, and handed to the manager (risk, then the exchange).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from qk.instruments import Instrument
from qk.oms.clock import SimulatedClock
from qk.orders import ClientOrderId, Order
from qk.schemas.enums import OrderType, Side, TimeInForce
from qk.strategy import (
    AccountView,
    InvalidOrderRequest,
    OrderRequestReason,
    PositionView,
    StrategyContext,
    check_price,
    check_quantity,
    deployed_instrument,
    new_order,
)

if TYPE_CHECKING:
    from qk.oms.manager import OrderManager

__all__ = ["EngineContext"]


class EngineContext(StrategyContext):
    """What one strategy sees of the engine. Built by :meth:`OrderManager.add_strategy`.

    Args:
        manager: The engine.
        strategy_id: The strategy's id.
        instrument_ids: The instruments it is deployed on (looked up in the portfolio's
            instrument master).
    """

    def __init__(
        self, manager: OrderManager, strategy_id: int, instrument_ids: Iterable[int]
    ) -> None:
        self._manager = manager
        self._strategy_id = strategy_id
        master = manager.instruments
        self._instruments = {iid: master.get(iid) for iid in instrument_ids}
        self._log = structlog.get_logger("qk.strategy").bind(strategy_id=strategy_id)

    # -- identity and time --------------------------------------------------------------------

    @property
    def strategy_id(self) -> int:
        """This strategy's id."""
        return self._strategy_id

    @property
    def clock(self) -> SimulatedClock:
        """Market time of the engine."""
        return self._manager.clock

    @property
    def log(self) -> Any:
        """A structlog logger bound with ``strategy_id``."""
        return self._log

    # -- order commands -----------------------------------------------------------------------

    def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | int | None = None,
        price: Decimal | int | None = None,
        trigger_price: Decimal | int | None = None,
    ) -> None:
        """Request a change of a working order (see :meth:`StrategyContext.modify`)."""
        order = self._own(client_order_id)
        if quantity is None and price is None and trigger_price is None:
            raise InvalidOrderRequest(
                OrderRequestReason.EMPTY_MODIFY, f"modify of {client_order_id} changes nothing"
            )
        instrument = self.instrument(order.instrument_id)
        self._manager.modify(
            order.client_order_id.value,
            quantity=None
            if quantity is None
            else instrument.quantity_to_raw(check_quantity(instrument, quantity)),
            price=None
            if price is None
            else instrument.price_to_raw(check_price(instrument, price)),
            trigger_price=None
            if trigger_price is None
            else instrument.price_to_raw(check_price(instrument, trigger_price, "trigger")),
        )

    def cancel(self, client_order_id: ClientOrderId) -> None:
        """Request the cancel of a working order (see :meth:`StrategyContext.cancel`)."""
        self._manager.cancel(self._own(client_order_id).client_order_id.value)

    # -- queries ------------------------------------------------------------------------------

    def position(self, instrument_id: int) -> PositionView:
        """This strategy's position in an instrument, fills up to now included."""
        instrument = self.instrument(instrument_id)
        position = self._manager.portfolio.position(self._strategy_id, instrument_id)
        if position is None or position.quantity == 0:
            return PositionView(instrument_id, Decimal(0))
        average = position.average_price()
        return PositionView(
            instrument_id,
            Decimal(position.quantity).scaleb(-instrument.size_precision),
            None if average is None else Decimal(average.numerator) / average.denominator,
        )

    @property
    def account(self) -> AccountView:
        """This strategy's cash and equity in the account currency (zero before any)."""
        state = self._manager.account_state(self._strategy_id)
        if state is None:
            return AccountView(self._manager.currency, Decimal(0), Decimal(0))
        return AccountView(state.currency, state.cash, state.equity)

    def instrument(self, key: int | str) -> Instrument:
        """A deployed instrument by id or symbol (see :meth:`StrategyContext.instrument`)."""
        return deployed_instrument(key, self._instruments, self._strategy_id)

    # -- timers -------------------------------------------------------------------------------

    def schedule_timer(
        self, name: str, *, at_ns: int | None = None, every_ns: int | None = None
    ) -> None:
        """Schedule ``on_signal_timer(name, ts)`` on market time (see
        :meth:`StrategyContext.schedule_timer`)."""
        self._manager.schedule_timer(self._strategy_id, name, at_ns, every_ns)

    def cancel_timer(self, name: str) -> None:
        """Stop a timer; unknown names are ignored."""
        self._manager.cancel_timer(self._strategy_id, name)

    # -- internals ----------------------------------------------------------------------------

    def _own(self, client_order_id: ClientOrderId) -> Order:
        value = client_order_id.value if isinstance(client_order_id, ClientOrderId) else -1
        order = self._manager.owned_order(self._strategy_id, value)
        if order is None:
            raise InvalidOrderRequest(
                OrderRequestReason.UNKNOWN_ORDER,
                f"order {client_order_id} was not submitted by strategy {self._strategy_id}",
            )
        return order

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
        order = new_order(
            self.instrument(instrument_id),
            lambda: self._manager.next_client_order_id(self._strategy_id),
            side, order_type, quantity, price, trigger_price, time_in_force, post_only,
            self._manager.clock.now_ns(),
        )  # fmt: skip
        self._manager.submit(order)
        return order.client_order_id
