"""Incremental technical indicators for strategies, and the same recurrences over arrays.

Every indicator exists twice with one implementation (``cext/indicators.pyx``):

* an object updated per tick or per bar in O(1) (``update(...)`` returns the current value;
  ``value``, ``ready``, ``warmup``, ``reset()``), and
* a function over numpy arrays for research that yields exactly the same sequence.

Before an indicator is ready its value is NaN (never None), so arrays and scalars agree.
Inputs are floats; convert fixed-point record fields with :func:`to_float` / :func:`to_float_array`.
Non-finite input and bad parameters raise ``ValueError`` naming what was wrong. See the
"Indicators" section of ``docs/marketdata.md`` for each definition and its warm-up.
"""

from qk.indicators._indicators import (
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    VWAP,
    WMA,
    BollingerBands,
    RollingStd,
    ZScore,
    atr,
    bollinger,
    ema,
    macd,
    rolling_std,
    rsi,
    sma,
    vwap,
    wma,
    zscore,
)
from qk.indicators.prices import to_float, to_float_array

__all__ = [
    "ATR",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "VWAP",
    "WMA",
    "BollingerBands",
    "RollingStd",
    "ZScore",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "rolling_std",
    "rsi",
    "sma",
    "to_float",
    "to_float_array",
    "vwap",
    "wma",
    "zscore",
]
