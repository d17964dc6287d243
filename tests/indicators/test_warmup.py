"""Warm-up boundaries: NaN and not ready until exactly ``warmup`` updates, then a value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from qk import indicators as ind

CASES: list[tuple[str, Callable[[], Any], int]] = [
    ("EMA(5)", lambda: ind.EMA(5), 5),
    ("SMA(5)", lambda: ind.SMA(5), 5),
    ("WMA(5)", lambda: ind.WMA(5), 5),
    ("RollingStd(5)", lambda: ind.RollingStd(5), 5),
    ("ZScore(5)", lambda: ind.ZScore(5), 5),
    ("BollingerBands(5)", lambda: ind.BollingerBands(5), 5),
    ("RSI(5)", lambda: ind.RSI(5), 6),
    ("MACD(3, 6, 4)", lambda: ind.MACD(3, 6, 4), 9),
    ("EMA(1)", lambda: ind.EMA(1), 1),
    ("SMA(1)", lambda: ind.SMA(1), 1),
    ("RSI(1)", lambda: ind.RSI(1), 2),
]


@pytest.mark.parametrize(("name", "make", "warmup"), CASES, ids=[case[0] for case in CASES])
def test_value_is_nan_until_exactly_warmup_updates(
    name: str, make: Callable[[], Any], warmup: int
) -> None:
    indicator = make()
    assert indicator.warmup == warmup
    assert not indicator.ready and math.isnan(indicator.value)
    prices = [100.0 + (i % 3) for i in range(warmup + 3)]
    for count, price in enumerate(prices, start=1):
        returned = indicator.update(price)
        assert indicator.count == count
        if count < warmup:
            assert not indicator.ready, f"{name} ready after {count} updates"
            assert math.isnan(returned) and math.isnan(indicator.value)
        else:
            assert indicator.ready, f"{name} not ready after {count} updates"
            assert math.isfinite(returned) and returned == indicator.value


def test_atr_is_ready_after_period_bars() -> None:
    atr = ind.ATR(3)
    assert atr.warmup == 3
    assert math.isnan(atr.update(11.0, 9.0, 10.0))
    assert math.isnan(atr.update(12.0, 10.0, 11.0))
    assert not atr.ready
    # True ranges 2, 2, and max(13 - 12, |13 - 11|, |12 - 11|) = 2: the first ATR is their mean.
    assert atr.update(13.0, 12.0, 12.5) == pytest.approx(2.0)
    assert atr.ready
    # Then Wilder: (2 * 2 + 5) / 3, the gap from 12.5 up to 17.5 counting in the true range.
    assert atr.update(17.5, 17.0, 17.0) == pytest.approx(3.0)


def test_vwap_is_ready_once_quantity_is_positive() -> None:
    vwap = ind.VWAP()
    assert vwap.warmup == 1
    assert math.isnan(vwap.update(100.0, 0.0))
    assert not vwap.ready
    assert vwap.update(100.0, 1.0) == 100.0
    assert vwap.update(103.0, 2.0) == pytest.approx(102.0)
    assert vwap.ready and vwap.volume == 3.0


def test_vwap_session_reset_at_the_boundary_and_not_before() -> None:
    # Sessions of 100 ns starting at 30 ns: [30, 130), [130, 230), ...
    vwap = ind.VWAP(session_ns=100, session_offset_ns=30)
    assert vwap.update(10.0, 1.0, 30) == 10.0
    assert vwap.update(20.0, 1.0, 129) == 15.0
    assert vwap.update(40.0, 1.0, 130) == 40.0
    # Time before the offset belongs to an earlier session (floor division, not truncation).
    vwap = ind.VWAP(session_ns=100, session_offset_ns=30)
    assert vwap.update(10.0, 1.0, -71) == 10.0
    assert vwap.update(20.0, 1.0, -70) == 20.0
    assert vwap.update(30.0, 1.0, 29) == 25.0


def test_rsi_extremes() -> None:
    rising = ind.RSI(3)
    for price in [1.0, 2.0, 3.0, 4.0]:
        value = rising.update(price)
    assert value == 100.0
    falling = ind.rsi([4.0, 3.0, 2.0, 1.0], 3)
    assert falling[-1] == 0.0
    flat = ind.rsi([5.0] * 6, 3)
    assert list(flat[3:]) == [50.0, 50.0, 50.0]


def test_zscore_of_a_constant_window_is_zero_and_rolling_std_is_zero() -> None:
    values = [50_000.25] * 30
    assert set(ind.zscore(values, 10)[9:]) == {0.0}
    assert set(ind.rolling_std(values, 10)[9:]) == {0.0}
    bands = ind.bollinger(values, 10)
    assert bands[1][-1] == bands[2][-1] == 50_000.25


def test_macd_properties_are_nan_before_ready() -> None:
    macd = ind.MACD(2, 3, 2)
    assert macd.warmup == 4
    for price in [1.0, 2.0, 3.0]:
        macd.update(price)
        assert math.isnan(macd.line) and math.isnan(macd.signal) and math.isnan(macd.histogram)
    macd.update(4.0)
    assert macd.histogram == pytest.approx(macd.line - macd.signal)


def test_parameters_are_exposed() -> None:
    assert ind.EMA(9).alpha == pytest.approx(0.2)
    assert ind.EMA(9).period == 9
    bands = ind.BollingerBands(20, 2.5, ddof=0)
    assert (bands.period, bands.k, bands.ddof) == (20, 2.5, 0)
    assert ind.RollingStd(3).ddof == 1 and ind.ZScore(3, ddof=0).ddof == 0
    vwap = ind.VWAP(session_ns=10, session_offset_ns=3)
    assert (vwap.session_ns, vwap.session_offset_ns) == (10, 3)
