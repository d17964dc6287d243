"""EMA-cross momentum on 1-minute bars: long on a cross up, flat on a cross down.

The first example strategy of the SDK (``docs/strategy-guide.md``). Deployed by
``configs/momentum_sim.toml``. Market orders only; it never shorts.

A cross is a change of sign of ``fast EMA - slow EMA`` between two consecutive bars once both
EMAs are warm, so no order is sent during warm-up, whatever the prices do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import numpy as np

from qk.indicators import EMA, to_float
from qk.schemas.enums import BarAggregation, Side
from qk.strategy import Constraints, Strategy

ONE_MINUTE_NS = 60_000_000_000
DEFAULT_QUANTITY = Decimal("0.01")  # BTC on SIM BTCUSDT: 1000 lots of 0.00001


class Momentum(Strategy):
    """Go long ``quantity`` when the fast EMA of closes crosses above the slow EMA; sell the
    whole position when it crosses below."""

    @dataclass(frozen=True)
    class Params:
        """Momentum parameters.

        Attributes:
            fast: Fast EMA period, bars.
            slow: Slow EMA period, bars (> fast is checked at start).
            quantity: Order quantity of an entry, instrument units.
            timeframe_ns: Bar size the strategy trades; other bars are ignored.
        """

        fast: Annotated[int, Constraints(ge=1, doc="fast EMA period, bars")] = 12
        slow: Annotated[int, Constraints(ge=2, doc="slow EMA period, bars")] = 26
        quantity: Annotated[Decimal, Constraints(gt=0, doc="entry size, instrument units")] = (
            DEFAULT_QUANTITY
        )
        timeframe_ns: Annotated[int, Constraints(gt=0, doc="bar size traded, ns")] = ONE_MINUTE_NS

    params: Params

    def on_start(self) -> None:
        """Build the EMAs; refuse a fast period that is not shorter than the slow one."""
        if self.params.fast >= self.params.slow:
            raise ValueError(
                f"fast ({self.params.fast}) must be shorter than slow ({self.params.slow})"
            )
        self._fast = EMA(self.params.fast)
        self._slow = EMA(self.params.slow)
        self._last_spread: float | None = None  # fast - slow at the previous warm bar

    def on_bar(self, bar: np.void) -> None:
        """Update the EMAs with the close; trade on a cross."""
        if (
            int(bar["aggregation"]) != BarAggregation.TIME
            or int(bar["timeframe_ns"]) != self.params.timeframe_ns
        ):
            return
        instrument_id = int(bar["instrument_id"])
        instrument = self.context.instrument(instrument_id)
        close = to_float(int(bar["close"]), instrument.price_precision)
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if not (self._fast.ready and self._slow.ready):
            return
        spread = fast - slow
        previous, self._last_spread = self._last_spread, spread
        if previous is None:
            return  # first warm bar: no previous sign to cross from
        position = self.context.position(instrument_id).quantity
        if previous <= 0 < spread and position == 0:
            self.context.log.info("cross_up", fast=fast, slow=slow)
            self.context.submit_market(instrument_id, Side.BUY, self.params.quantity)
        elif previous >= 0 > spread and position > 0:
            self.context.log.info("cross_down", fast=fast, slow=slow)
            self.context.submit_market(instrument_id, Side.SELL, position)
