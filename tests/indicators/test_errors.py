"""Bad parameters and non-finite input raise clear errors naming what was wrong."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from qk import indicators as ind

SINGLE_INPUT: list[tuple[str, Callable[[], Any]]] = [
    ("EMA", lambda: ind.EMA(3)),
    ("SMA", lambda: ind.SMA(3)),
    ("WMA", lambda: ind.WMA(3)),
    ("RollingStd", lambda: ind.RollingStd(3)),
    ("ZScore", lambda: ind.ZScore(3)),
    ("BollingerBands", lambda: ind.BollingerBands(3)),
    ("RSI", lambda: ind.RSI(3)),
    ("MACD", lambda: ind.MACD(2, 3, 2)),
]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ind.EMA(0), "EMA period must be >= 1, got 0"),
        (lambda: ind.SMA(-3), "SMA period must be >= 1, got -3"),
        (lambda: ind.WMA(0), "WMA period must be >= 1, got 0"),
        (lambda: ind.RSI(0), "RSI period must be >= 1, got 0"),
        (lambda: ind.ATR(0), "ATR period must be >= 1, got 0"),
        (lambda: ind.RollingStd(1), "RollingStd period must be >= 2, got 1"),
        (lambda: ind.RollingStd(1, ddof=0).period, None),
        (lambda: ind.ZScore(1), "ZScore period must be >= 2, got 1"),
        (lambda: ind.RollingStd(5, ddof=2), "RollingStd ddof must be 0 (population) or 1"),
        (lambda: ind.BollingerBands(5, k=-1.0), "BollingerBands k must be finite and >= 0"),
        (lambda: ind.BollingerBands(5, k=math.nan), "BollingerBands k must be finite and >= 0"),
        (lambda: ind.MACD(26, 12), "MACD fast period 26 must be shorter than slow period 12"),
        (lambda: ind.MACD(12, 26, 0), "MACD signal must be >= 1, got 0"),
        (lambda: ind.VWAP(session_ns=-1), "VWAP session_ns must be >= 0"),
        (lambda: ind.sma([1.0], 0), "sma period must be >= 1, got 0"),
        (lambda: ind.rolling_std([1.0], 1), "rolling_std period must be >= 2, got 1"),
        (lambda: ind.bollinger([1.0], 5, -2.0), "bollinger k must be finite and >= 0"),
        (lambda: ind.macd([1.0], 5, 5), "MACD fast period 5 must be shorter than slow period 5"),
        (lambda: ind.vwap([1.0], [1.0], session_ns=5), "vwap: ts_event is required"),
        (lambda: ind.vwap([1.0], [1.0, 2.0]), "vwap: price and quantity must have the same length"),
        (lambda: ind.atr([1.0], [1.0], []), "atr: high, low and close must have the same length"),
        (lambda: ind.ema(np.ones((2, 2)), 3), "ema: values must be one-dimensional"),
    ],
)
def test_bad_parameters_raise_value_error(make: Callable[[], Any], message: str | None) -> None:
    if message is None:
        make()  # the boundary that is allowed
        return
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


@pytest.mark.parametrize("period", [2.0, "3", True, None])
def test_period_must_be_an_int(period: object) -> None:
    with pytest.raises(TypeError, match="EMA period must be an int"):
        ind.EMA(period)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "make"), SINGLE_INPUT, ids=[case[0] for case in SINGLE_INPUT])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_update_raises_and_leaves_the_state_untouched(
    name: str, make: Callable[[], Any], bad: float
) -> None:
    indicator = make()
    reference = make()
    for value in [1.0, 2.0, 4.0, 3.0]:
        indicator.update(value)
        reference.update(value)
    with pytest.raises(ValueError, match=rf"{name}\.update: value must be finite, got {bad!r}"):
        indicator.update(bad)
    assert indicator.count == reference.count
    assert indicator.update(5.0) == reference.update(5.0)


def test_atr_rejects_non_finite_and_inverted_bars() -> None:
    atr = ind.ATR(3)
    with pytest.raises(
        ValueError, match=re.escape("ATR.update: high, low and close must be finite")
    ):
        atr.update(1.0, math.nan, 1.0)
    with pytest.raises(ValueError, match=re.escape("ATR.update: high 1.0 is below low 2.0")):
        atr.update(1.0, 2.0, 1.5)
    assert atr.count == 0


def test_vwap_rejects_non_finite_and_negative_quantities() -> None:
    vwap = ind.VWAP()
    with pytest.raises(
        ValueError, match=re.escape("VWAP.update: price and quantity must be finite")
    ):
        vwap.update(math.inf, 1.0)
    with pytest.raises(ValueError, match=re.escape("VWAP.update: quantity must be >= 0, got -1.0")):
        vwap.update(1.0, -1.0)
    assert not vwap.ready


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: ind.ema(v, 2), r"ema: values\[2\] must be finite, got nan"),
        (lambda v: ind.sma(v, 2), r"sma: values\[2\] must be finite, got nan"),
        (lambda v: ind.wma(v, 2), r"wma: values\[2\] must be finite, got nan"),
        (lambda v: ind.rolling_std(v, 2), r"rolling_std: values\[2\] must be finite"),
        (lambda v: ind.zscore(v, 2), r"zscore: values\[2\] must be finite"),
        (lambda v: ind.bollinger(v, 2), r"bollinger: values\[2\] must be finite"),
        (lambda v: ind.rsi(v, 2), r"rsi: values\[2\] must be finite"),
        (lambda v: ind.macd(v, 1, 2, 1), r"macd: values\[2\] must be finite"),
        (lambda v: ind.vwap(v, np.ones(4)), r"vwap: trade 2 must be finite, got price nan"),
        (lambda v: ind.atr(v, v, v, 2), r"atr: bar 2 must be finite"),
    ],
)
def test_arrays_name_the_first_non_finite_element(
    call: Callable[[np.ndarray], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call(np.array([1.0, 2.0, math.nan, math.inf]))


def test_array_errors_name_negative_quantity_and_inverted_bar() -> None:
    with pytest.raises(ValueError, match=r"vwap: quantity\[1\] must be >= 0, got -2.0"):
        ind.vwap([1.0, 1.0], [1.0, -2.0])
    with pytest.raises(ValueError, match=r"atr: high\[1\] 1.0 is below low\[1\] 3.0"):
        ind.atr([2.0, 1.0], [1.0, 3.0], [1.5, 2.0], 2)
