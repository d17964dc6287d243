"""Typed denial reasons with stable codes, and their mapping onto the record enum.

``DenialReason`` keeps the codes of :class:`qk.schemas.enums.RiskReason`;
:data:`RECORD_REASON` maps the few engine-side reasons without a record member of their own
(``NO_EQUITY``, ``TRADING_HALTED``) to the nearest RiskReason, so a RiskEvent record is always
valid; ``detail`` names the precise reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Final

from qk.schemas.enums import RiskReason


class DenialReason(IntEnum):
    """Why the risk engine denied an order intent; stable codes."""

    MAX_ORDER_QUANTITY = 1
    """Order quantity above the per-order limit."""
    MAX_ORDER_NOTIONAL = 2
    """Order notional above the per-order limit."""
    MAX_POSITION = 3
    """The order would take |position| beyond its limit."""
    MAX_EXPOSURE = 4
    """The order would take gross exposure beyond its limit."""
    MAX_LEVERAGE = 5
    """The order would take leverage beyond its limit."""
    ORDER_RATE = 6
    """Too many orders in the rate window."""
    PRICE_BAND = 7
    """Limit price too far from the last price."""
    INSTRUMENT_NOT_PERMITTED = 8
    """The strategy may not trade this instrument."""
    VENUE_NOT_PERMITTED = 9
    """The strategy may not trade on this venue."""
    TICK_SIZE = 10
    """Price or trigger not a multiple of the tick size."""
    LOT_SIZE = 11
    """Quantity not a multiple of the lot size."""
    MIN_NOTIONAL = 12
    """Order value below the venue minimum."""
    KILL_SWITCH = 15
    """The kill switch is engaged."""
    TRADING_HALTED = 16
    """The strategy (or everything) is HALTED."""
    CIRCUIT_BREAKER = 17
    """The reject-burst breaker is cooling down."""
    NO_REFERENCE_PRICE = 18
    """No last price to value or band-check the order."""
    UNKNOWN_INSTRUMENT = 19
    """The instrument id is not in the instrument master."""
    NO_EQUITY = 20
    """A leverage limit is set but no positive equity is known."""
    STALE_MARKET_DATA = 21
    """The instrument's last price is older than allowed."""
    TRADING_REDUCING = 22
    """The strategy (or everything) is REDUCING and the order does not reduce a position."""
    MIN_QUANTITY = 23
    """Quantity below the venue minimum."""
    MAX_QUANTITY = 24
    """Quantity above the venue maximum."""
    REDUCE_ONLY_INCREASES = 25
    """A reduce-only order that would open or increase a position."""


_RECORD_CODES = frozenset(int(member) for member in RiskReason)

RECORD_REASON: Final[Mapping[DenialReason, RiskReason]] = MappingProxyType(
    {
        **{r: RiskReason(r.value) for r in DenialReason if r.value in _RECORD_CODES},
        DenialReason.NO_EQUITY: RiskReason.INSUFFICIENT_MARGIN,
        DenialReason.TRADING_HALTED: RiskReason.STRATEGY_HALTED,
    }
)
"""DenialReason -> the RiskReason written in RiskEvent records."""
