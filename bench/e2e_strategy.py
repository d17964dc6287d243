"""The strategy of ``qk-bench e2e``: a market order every ``every`` trades, alternating sides, so
that tick -> order latency is sampled often and the position stays near flat."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from qk.schemas.enums import Side
from qk.strategy import Strategy


class TickTrader(Strategy):
    """Submits on every ``every``-th trade of its instrument."""

    @dataclass(frozen=True)
    class Params:
        """Parameters."""

        every: int = 10
        quantity: Decimal = Decimal("0.001")

    def on_start(self) -> None:
        """Nothing seen yet."""
        self._count = 0
        self._buy = True

    def on_tick(self, trade: np.void) -> None:
        """Count the trade; every ``every``-th one, send a market order."""
        self._count += 1
        if self._count % self.params.every:
            return
        side = Side.BUY if self._buy else Side.SELL
        self._buy = not self._buy
        self.context.submit_market(int(trade["instrument_id"]), side, self.params.quantity)
