"""A test strategy that never stops trading: a market order every ``every`` trades, alternating
buy and sell, so a chaos test sees intents before and after a restart."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from qk.schemas.enums import Side
from qk.strategy import Strategy


class Alternating(Strategy):
    """Buy, then sell, ``quantity`` every ``every`` trades; also trades on each bar's close
    direction so bars and fills both shape its decisions."""

    @dataclass(frozen=True)
    class Params:
        """Parameters."""

        every: int = 200
        quantity: Decimal = Decimal("0.001")

    def on_start(self) -> None:
        """Nothing seen yet."""
        self._count = 0

    def on_tick(self, trade: np.void) -> None:
        """Every ``every``-th trade: buy when flat or short, sell when long (from the mirror)."""
        self._count += 1
        if self._count % self.params.every:
            return
        instrument_id = int(trade["instrument_id"])
        long = self.context.position(instrument_id).quantity > 0
        side = Side.SELL if long else Side.BUY
        self.context.submit_market(instrument_id, side, self.params.quantity)
