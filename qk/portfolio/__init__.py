"""Portfolio accounting: positions per strategy and instrument (FIFO, exact), cash per currency,
equity, exposure, leverage, peak equity, drawdown, daily PnL, and the PositionUpdate /
PortfolioSnapshot records. The rules are in ``docs/portfolio.md``.

::

    portfolio = Portfolio(master)
    portfolio.deposit("USDT", "10000", strategy_id=1)
    changed = portfolio.apply_fill(Fill.from_record(fill_event))
    portfolio.mark(instrument_id, last_price_raw)
    state = portfolio.account("USDT", strategy_id=1)
"""

from qk.portfolio.errors import (
    CurrencyMismatchError,
    InvalidFillError,
    PortfolioError,
    PositionStateError,
)
from qk.portfolio.fill import Fill
from qk.portfolio.portfolio import (
    ACCOUNT,
    AccountState,
    InstrumentSource,
    Portfolio,
    PositionChanged,
    drawdown_fraction,
)
from qk.portfolio.position import TRANSITIONS, FillSize, Position, PositionChange, PositionSide

__all__ = [
    "ACCOUNT",
    "TRANSITIONS",
    "AccountState",
    "CurrencyMismatchError",
    "Fill",
    "FillSize",
    "InstrumentSource",
    "InvalidFillError",
    "Portfolio",
    "PortfolioError",
    "Position",
    "PositionChange",
    "PositionChanged",
    "PositionSide",
    "PositionStateError",
    "drawdown_fraction",
]
