"""Fill model: when a resting limit fills, and how far a taker fill slips.

All prices are raw fixed point at the instrument's ``price_precision`` and stay on its tick:
slippage in bps is rounded to the tick *away* from the trader (up for a buy, down for a sell),
so rounding never gives a better price than the model asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from qk.execution.errors import InvalidSimulatorConfig
from qk.schemas.enums import Side

__all__ = ["BPS_DENOMINATOR", "FillModel", "LimitFillRule", "slipped_price"]

BPS_DENOMINATOR = 10_000
"""Basis points per unit."""


class LimitFillRule(IntEnum):
    """When a resting limit order fills against the market."""

    THROUGH = 1
    """Only when the market trades (or quotes) strictly beyond the limit: conservative, the
    queue ahead of us at the limit price is assumed never to clear."""
    TOUCH = 2
    """As soon as the market trades (or quotes) at the limit: optimistic, we are assumed to be
    first in the queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FillModel:
    """How the simulator fills orders.

    Attributes:
        limit_fill: THROUGH or TOUCH for resting limit orders.
        slippage_ticks: Ticks added against the trader to every taker fill, >= 0.
        slippage_bps: Basis points of the market price added against the trader to every taker
            fill (rounded to the tick against the trader), >= 0. Applied before the ticks.
    """

    limit_fill: LimitFillRule = LimitFillRule.THROUGH
    slippage_ticks: int = 0
    slippage_bps: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.limit_fill, LimitFillRule):
            raise InvalidSimulatorConfig(f"limit_fill must be a LimitFillRule: {self.limit_fill!r}")
        for name in ("slippage_ticks", "slippage_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidSimulatorConfig(f"{name} must be an int >= 0, got {value!r}")

    def resting_fills(self, side: Side, limit: int, market: int) -> bool:
        """Whether a resting limit at ``limit`` fills when the market prints ``market``.

        For a buy the market must trade (or offer) below the limit (at it too, with TOUCH); for a
        sell, above it.
        """
        if self.limit_fill is LimitFillRule.TOUCH:
            return market <= limit if side is Side.BUY else market >= limit
        return market < limit if side is Side.BUY else market > limit

    def taker_price(self, side: Side, market: int, tick: int) -> int:
        """The price a taker fill gets against the market price ``market`` (see
        :func:`slipped_price`)."""
        return slipped_price(side, market, tick, self.slippage_ticks, self.slippage_bps)


def slipped_price(side: Side, market: int, tick: int, ticks: int, bps: int) -> int:
    """``market`` moved against the trader by ``bps`` (rounded to the tick) then ``ticks``.

    Args:
        side: BUY pays more, SELL receives less.
        market: Market price, raw.
        tick: Tick size, raw, > 0.
        ticks: Whole ticks of slippage, >= 0.
        bps: Basis points of slippage, >= 0.

    Returns:
        The slipped price, raw, on the tick grid; a sell never goes below one tick.
    """
    # An off-grid market price is first rounded to the tick against the trader too.
    market = -(-market // tick) * tick if side is Side.BUY else market // tick * tick
    move = market * bps
    # Ceil to the tick for the bps part: slippage is never rounded in the trader's favour.
    bps_ticks = -(-move // (tick * BPS_DENOMINATOR))
    offset = (bps_ticks + ticks) * tick
    if side is Side.BUY:
        return market + offset
    return max(market - offset, tick)
