"""The kinds of fee component, as stable codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["FeeComponentKind"]


class FeeComponentKind(IntEnum):
    """Kind of a fee component. Values are stable codes (reports, dashboards); never renumber.

    The names follow the venue's own contract notes where one exists (Zerodha), so a breakdown
    can be compared line by line with a real note.
    """

    TRADING_FEE = 1
    """A crypto venue's maker/taker fee."""
    BROKERAGE = 2
    """The broker's commission."""
    TRANSACTION_TAX = 3
    """Securities/commodities transaction tax (India: STT, CTT)."""
    EXCHANGE_TRANSACTION = 4
    """The exchange's transaction (turnover) charge."""
    INVESTOR_PROTECTION_FUND = 5
    """The exchange's investor protection fund (IPFT) charge; Kite adds it to the exchange
    turnover charge, but it carries no GST."""
    SEBI_TURNOVER = 6
    """SEBI turnover fee."""
    STAMP_DUTY = 7
    """Stamp duty (India: on the buy side only)."""
    GST = 8
    """Goods and services tax on other components (India: 18%)."""
