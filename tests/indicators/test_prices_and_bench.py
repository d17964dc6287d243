"""Fixed-point helpers, and the benchmark entry point's contract (keys, not timings)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qk import indicators as ind
from qk.indicators.bench import PythonEMA, bench_indicator_update_ns
from qk.schemas.fixed import InvalidPrecisionError


@pytest.mark.parametrize(
    ("raw", "precision", "expected"),
    [(5_000_012, 2, 50000.12), (-15, 1, -1.5), (1, 8, 1e-8), (123, 0, 123.0), (0, 18, 0.0)],
)
def test_to_float_is_the_nearest_float_to_the_decimal(
    raw: int, precision: int, expected: float
) -> None:
    assert ind.to_float(raw, precision) == expected
    assert ind.to_float_array(np.array([raw], dtype=np.int64), precision)[0] == expected


def test_to_float_array_equals_to_float_element_for_element() -> None:
    raw = np.random.default_rng(2).integers(-(2**52), 2**52, 1000)
    for precision in (0, 2, 8, 12):
        array = ind.to_float_array(raw, precision)
        assert [ind.to_float(int(r), precision) for r in raw] == array.tolist()


def test_to_float_rejects_bad_input() -> None:
    with pytest.raises(InvalidPrecisionError):
        ind.to_float(1, 19)
    with pytest.raises(TypeError, match=r"raw value must be an int, got float 1\.5"):
        ind.to_float(1.5, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too large to convert to float64 exactly"):
        ind.to_float(2**53, 2)
    with pytest.raises(ValueError, match="at index 1 is too large"):
        ind.to_float_array([1, -(2**60)], 2)


def test_indicators_fed_from_raw_prices_equal_the_float_path() -> None:
    raw = 5_000_000 + np.cumsum(np.random.default_rng(5).integers(-3, 4, 500))
    ema = ind.EMA(10)
    per_tick = [ema.update(ind.to_float(int(r), 2)) for r in raw]
    assert np.array_equal(per_tick, ind.ema(ind.to_float_array(raw, 2), 10), equal_nan=True)


def test_python_baseline_ema_matches_the_compiled_one() -> None:
    values = np.random.default_rng(8).normal(100.0, 1.0, 200)
    baseline = PythonEMA(7)
    assert np.allclose(
        [baseline.update(v) for v in values], ind.ema(values, 7), rtol=1e-12, equal_nan=True
    )


def test_bench_reports_every_key_as_a_positive_figure() -> None:
    figures = bench_indicator_update_ns(True, updates=2_000)
    names = [
        "ema",
        "sma",
        "wma",
        "rolling_std",
        "zscore",
        "bollinger",
        "rsi",
        "atr",
        "macd",
        "vwap",
    ]
    expected = {f"indicator_{name}_update_ns" for name in names} | {
        "indicator_update_ns",
        "indicator_python_ema_update_ns",
        "indicator_ema_array_ns_per_value",
    }
    assert set(figures) == expected
    assert all(math.isfinite(v) and v > 0 for v in figures.values())
    assert figures["indicator_update_ns"] == figures["indicator_ema_update_ns"]
