"""Running sums do not drift: long series, large offsets, tiny variances, regime changes.

Each check compares against the direct two-pass computation of every window in long double and
requires a relative error <= 1e-9 for every ready value.
"""

from __future__ import annotations

import numpy as np
import pytest

from qk import indicators as ind
from tests.indicators.conftest import (
    assert_ready_close,
    window_reference,
    wma_reference,
    zscore_reference,
)

LONG = 1_000_000


def series(kind: str, count: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "offset_tiny_noise":
        # Price 50,000 with a standard deviation of 1e-3: the classic cancellation trap.
        return 50_000.0 + rng.normal(0.0, 1e-3, count)
    if kind == "offset_random_walk":
        return 50_000.0 + np.cumsum(rng.normal(0.0, 0.01, count))
    if kind == "ticks_with_repeats":
        # Tick-aligned prices that often repeat, then jump: variance collapses and recovers.
        steps = rng.choice([-0.5, 0.0, 0.0, 0.0, 0.5], count) * (rng.random(count) < 0.3)
        return 50_000.0 + np.cumsum(steps)
    if kind == "regimes":
        # Volatile stretches followed by nearly flat ones, far from zero.
        scale = np.where((np.arange(count) // 5_000) % 2 == 0, 50.0, 1e-4)
        return 1e6 + np.cumsum(rng.normal(0.0, 1.0, count) * scale)
    if kind == "ramp_then_flat":
        # A steep trend (the mean runs away from the reference), then a flat tape.
        ramp = 1e6 + 10.0 * np.arange(count // 2)
        flat = ramp[-1] + rng.normal(0.0, 1e-6, count - count // 2)
        return np.concatenate([ramp, flat])
    raise AssertionError(kind)


KINDS = [
    "offset_tiny_noise",
    "offset_random_walk",
    "ticks_with_repeats",
    "regimes",
    "ramp_then_flat",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("period", [20, 500])
def test_rolling_std_and_sma_over_a_million_updates(kind: str, period: int) -> None:
    values = series(kind, LONG if period == 20 else LONG // 5)
    mean, std = window_reference(values, period, 1)
    assert_ready_close(ind.sma(values, period), mean.astype(np.float64), warmup=period)
    actual = ind.rolling_std(values, period)
    expected = std.astype(np.float64)
    # A window of repeated prices has a true std of exactly 0: it must come out exactly 0.
    zero = expected == 0.0
    assert (actual[zero] == 0.0).all()
    assert_ready_close(np.where(zero, 1.0, actual), np.where(zero, 1.0, expected), warmup=period)


@pytest.mark.parametrize(
    "kind", ["offset_tiny_noise", "offset_random_walk", "regimes", "ramp_then_flat"]
)
def test_zscore_and_bollinger_at_large_offsets(kind: str) -> None:
    values = series(kind, 200_000)
    assert_ready_close(
        ind.zscore(values, 50), zscore_reference(values, 50, 1), warmup=50, floor=1.0
    )
    mean, std = window_reference(values, 50, 0)
    _, upper, lower = ind.bollinger(values, 50, 2.0, ddof=0)
    assert_ready_close(upper, (mean + 2 * std).astype(np.float64), warmup=50)
    assert_ready_close(lower, (mean - 2 * std).astype(np.float64), warmup=50)


@pytest.mark.parametrize("kind", KINDS)
def test_wma_over_a_long_series(kind: str) -> None:
    values = series(kind, 300_000)
    assert_ready_close(ind.wma(values, 30), wma_reference(values, 30).astype(np.float64), warmup=30)


def test_std_after_a_huge_outlier_leaves_the_window() -> None:
    # A 1e12 spike enters and leaves; afterwards the window holds prices with a std of ~1e-3.
    rng = np.random.default_rng(3)
    values = 50_000.0 + rng.normal(0.0, 1e-3, 5_000)
    values[1000] = 1e12
    _, std = window_reference(values, 20, 1)
    actual = ind.rolling_std(values, 20)
    assert_ready_close(actual[1020:], std.astype(np.float64)[1020:], warmup=1)
