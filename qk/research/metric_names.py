"""The metrics every research result carries (kept apart from the kernel so that importing
them does not load numba)."""

from __future__ import annotations

from typing import Final

__all__ = ["METRIC_NAMES"]

METRIC_NAMES: Final = (
    "total_return", "sharpe", "sortino", "max_drawdown", "exposure_time", "turnover",
    "realized_pnl", "fees", "final_equity", "fills", "orders",
)  # fmt: skip
"""Metric names (floats; None where undefined, e.g. Sharpe without any trade). The first six
are defined as in ``summary.json`` (``docs/backtest.md``)."""
