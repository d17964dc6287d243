"""A test strategy that keeps a few resting limit buys working and submits again on every bar.

Used by the kill-switch test: after the switch every open order must be cancelled and every new
submit denied, while this strategy goes on trying.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from qk.schemas.enums import OrderStatus, Side
from qk.strategy import Strategy

OPEN = {int(OrderStatus.SUBMITTED), int(OrderStatus.ACCEPTED), int(OrderStatus.PARTIALLY_FILLED)}


class KeepSubmitting(Strategy):
    """Up to ``max_open`` limit buys 10 % under the market; one more try per bar."""

    @dataclass(frozen=True)
    class Params:
        """Parameters."""

        max_open: int = 8

    def on_start(self) -> None:
        """No order is open yet."""
        self._open: set[int] = set()

    def on_bar(self, bar: np.void) -> None:
        """Submit a far-away limit buy unless enough are working."""
        if len(self._open) >= self.params.max_open:
            return
        instrument = self.context.instrument(int(bar["instrument_id"]))
        close = Decimal(int(bar["close"])).scaleb(-instrument.price_precision)
        price = (close * Decimal("0.9")).quantize(instrument.tick_size)
        order_id = self.context.submit_limit(
            instrument.instrument_id, Side.BUY, Decimal("0.001"), price
        )
        self._open.add(order_id.value)

    def on_order_update(self, update: np.void) -> None:
        """Forget orders that stopped working."""
        if int(update["status"]) not in OPEN:
            self._open.discard(int(update["client_order_id"]))
