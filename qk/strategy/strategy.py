"""The strategy base class: lifecycle hooks the engine calls, all no-ops by default.

Rules every strategy follows (the process sandbox of issue 5 will enforce them; today
:func:`qk.strategy.audit_strategy_source` checks the source and the context simply offers
nothing else):

* time comes from ``self.context.clock.now_ns()`` — never ``time``/``datetime`` (a backtest
  replays market time; the wall clock would make it irreproducible);
* orders go through ``self.context`` — never a socket or a venue client;
* no files, no environment variables, no credentials: parameters arrive typed in ``params``.

Records passed to hooks are numpy record scalars (``np.void``) laid out as in
``docs/schemas.md``: prices and quantities are raw fixed point at the instrument's precisions
(``self.context.instrument(bar["instrument_id"])`` has them). Hooks run on the engine's thread,
one at a time, and must return quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from qk.strategy.context import StrategyContext

__all__ = ["NoParams", "Strategy"]


@dataclass(frozen=True, slots=True)
class NoParams:
    """Parameters of a strategy that declares none."""


class Strategy:
    """Base class of every strategy.

    Subclasses declare ``Params`` (a frozen dataclass, see :mod:`qk.strategy.params`) and
    override the hooks they need. The engine constructs the strategy with its context and
    parsed parameters, calls :meth:`on_start` once, the event hooks in event-time order, and
    :meth:`on_stop` once.

    Attributes:
        Params: The parameter dataclass (class attribute).
        context: The engine.
        params: The parsed parameters, an instance of ``Params``.
    """

    Params: ClassVar[type[Any]] = NoParams

    def __init__(self, context: StrategyContext, params: Any = None) -> None:
        """Bind the strategy to its context.

        Args:
            context: The engine's :class:`StrategyContext`.
            params: An instance of ``type(self).Params``; None takes every default.

        Raises:
            TypeError: ``params`` is not an instance of ``Params``.
        """
        params_cls = type(self).Params
        if params is None:
            params = params_cls()
        if not isinstance(params, params_cls):
            raise TypeError(
                f"{type(self).__name__} takes {params_cls.__qualname__} params, "
                f"got {type(params).__qualname__}"
            )
        self.context = context
        self.params = params

    def on_start(self) -> None:
        """Called once before any event: subscribe timers, build indicators."""

    def on_tick(self, trade: np.void) -> None:
        """Called for each trade of a deployed instrument (a TradeEvent record)."""

    def on_bar(self, bar: np.void) -> None:
        """Called for each published bar of a deployed timeframe (a BarEvent record).

        A bar with the REVISED flag repeats an earlier bar with late trades included.
        """

    def on_signal_timer(self, name: str, ts_ns: int) -> None:
        """Called when the timer ``name`` scheduled with ``context.schedule_timer`` fires."""

    def on_order_update(self, update: np.void) -> None:
        """Called after each lifecycle transition of one of this strategy's orders (an
        OrderUpdate record: accepted, rejected, denied by risk, cancelled, expired...)."""

    def on_fill(self, fill: np.void) -> None:
        """Called for each execution of one of this strategy's orders (a FillEvent record).

        The position seen through ``context.position`` already includes it.
        """

    def on_risk_event(self, event: np.void) -> None:
        """Called when a risk check fires for this strategy (a RiskEvent record)."""

    def on_stop(self) -> None:
        """Called once after the last event; orders may still be cancelled here."""
