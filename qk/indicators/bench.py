"""Per-update cost of the incremental indicators, for the ``qk-bench ingest`` suite.

Each figure is the mean wall time of one ``update()`` call in a plain Python loop over a list of
floats (``for x in xs: update(x)``), the way a strategy calls it per tick; the loop's own cost is
included because a caller always pays it. The median of several runs is reported. A pure-Python
``__slots__`` EMA is timed in the same run as the baseline (DESIGN.md §8: ratios hold on a noisy
machine, absolute times do not), and so is the vectorised EMA per element.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from qk.indicators import ATR, EMA, MACD, RSI, SMA, VWAP, WMA, BollingerBands, RollingStd, ZScore
from qk.indicators import ema as ema_array

__all__ = ["PythonEMA", "bench_indicator_update_ns"]


class PythonEMA:
    """The obvious pure-Python EMA (the baseline): same recurrence and warm-up as :class:`EMA`."""

    __slots__ = ("alpha", "count", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self.alpha = 2.0 / (period + 1.0)
        self.count = 0
        self.value = float("nan")

    def update(self, value: float) -> float:
        """Add one value; return the EMA, NaN before ``period`` values."""
        if self.count == 0:
            self.value = value
        else:
            self.value += self.alpha * (value - self.value)
        self.count += 1
        return self.value if self.count >= self.period else float("nan")


def _time_single(update: Callable[[float], object], values: Sequence[float]) -> float:
    start = time.perf_counter_ns()
    for value in values:
        update(value)
    return (time.perf_counter_ns() - start) / len(values)


def _time_pair(
    update: Callable[[float, float], object], pairs: Sequence[tuple[float, float]]
) -> float:
    start = time.perf_counter_ns()
    for price, quantity in pairs:
        update(price, quantity)
    return (time.perf_counter_ns() - start) / len(pairs)


def _time_bar(
    update: Callable[[float, float, float], object], bars: Sequence[tuple[float, float, float]]
) -> float:
    start = time.perf_counter_ns()
    for high, low, close in bars:
        update(high, low, close)
    return (time.perf_counter_ns() - start) / len(bars)


def _time_array(values: np.ndarray) -> float:
    start = time.perf_counter_ns()
    ema_array(values, 20)
    return (time.perf_counter_ns() - start) / len(values)


def bench_indicator_update_ns(quick: bool, *, updates: int | None = None) -> dict[str, float]:
    """Mean ns per ``update()`` of each indicator, plus baselines.

    Args:
        quick: Fewer updates and repeats (CI).
        updates: Updates per timed run, overriding the mode's count (tests use a small one).

    Returns:
        ``indicator_update_ns`` (the EMA, the issue's key), ``indicator_<name>_update_ns`` for
        ema, sma, wma, rolling_std, zscore, bollinger, rsi, atr, macd and vwap,
        ``indicator_python_ema_update_ns`` (the pure-Python baseline) and
        ``indicator_ema_array_ns_per_value`` (the vectorised function).
    """
    count = updates if updates is not None else (200_000 if quick else 2_000_000)
    repeats = 3 if quick else 7
    rng = np.random.default_rng(7)
    prices = 50_000.0 + np.cumsum(rng.normal(0.0, 5.0, count))
    spread = np.abs(rng.normal(0.0, 3.0, count))
    values = prices.tolist()
    pairs = list(zip(values, rng.uniform(0.001, 2.0, count).tolist(), strict=True))
    bars = list(zip((prices + spread).tolist(), (prices - spread).tolist(), values, strict=True))

    single: dict[str, Callable[[], Callable[[float], object]]] = {
        "ema": lambda: EMA(20).update,
        "sma": lambda: SMA(20).update,
        "wma": lambda: WMA(20).update,
        "rolling_std": lambda: RollingStd(20).update,
        "zscore": lambda: ZScore(20).update,
        "bollinger": lambda: BollingerBands(20).update,
        "rsi": lambda: RSI(14).update,
        "macd": lambda: MACD().update,
        "python_ema": lambda: PythonEMA(20).update,
    }
    results: dict[str, float] = {}
    for name, make in single.items():
        results[f"indicator_{name}_update_ns"] = statistics.median(
            _time_single(make(), values) for _ in range(repeats)
        )
    results["indicator_vwap_update_ns"] = statistics.median(
        _time_pair(VWAP().update, pairs) for _ in range(repeats)
    )
    results["indicator_atr_update_ns"] = statistics.median(
        _time_bar(ATR(14).update, bars) for _ in range(repeats)
    )
    results["indicator_ema_array_ns_per_value"] = statistics.median(
        _time_array(prices) for _ in range(repeats)
    )
    results["indicator_update_ns"] = results["indicator_ema_update_ns"]
    return results


if __name__ == "__main__":
    for key, figure in sorted(bench_indicator_update_ns(quick=True).items()):
        print(f"{key:40s} {figure:10.1f}")
