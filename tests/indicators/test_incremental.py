"""The incremental objects and the vectorised functions give bit-identical sequences.

Both run the same C step function, so equality is exact (NaN where not ready), for any data and
any parameters, including after a reset.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qk import indicators as ind

prices = st.lists(
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=300,
)
any_values = st.lists(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=300,
)
periods = st.integers(min_value=1, max_value=40)
ddofs = st.sampled_from([0, 1])


def same(actual: list[float], expected: np.ndarray) -> bool:
    return bool(np.array_equal(np.array(actual, dtype=np.float64), expected, equal_nan=True))


@settings(max_examples=60, deadline=None)
@given(values=any_values, period=periods)
def test_ema_sma_wma_per_update_equal_arrays(values: list[float], period: int) -> None:
    for make, function in [(ind.EMA, ind.ema), (ind.SMA, ind.sma), (ind.WMA, ind.wma)]:
        indicator = make(period)
        assert same([indicator.update(v) for v in values], function(values, period))


@settings(max_examples=60, deadline=None)
@given(values=any_values, period=periods, ddof=ddofs)
def test_std_zscore_bollinger_per_update_equal_arrays(
    values: list[float], period: int, ddof: int
) -> None:
    period = max(period, ddof + 1)
    std = ind.RollingStd(period, ddof=ddof)
    assert same([std.update(v) for v in values], ind.rolling_std(values, period, ddof))
    zscore = ind.ZScore(period, ddof=ddof)
    assert same([zscore.update(v) for v in values], ind.zscore(values, period, ddof))
    bands = ind.BollingerBands(period, 1.5, ddof=ddof)
    rows = [(bands.update(v), bands.upper, bands.lower) for v in values]
    middle, upper, lower = ind.bollinger(values, period, 1.5, ddof)
    assert same([row[0] for row in rows], middle)
    assert same([row[1] for row in rows], upper)
    assert same([row[2] for row in rows], lower)


@settings(max_examples=60, deadline=None)
@given(values=prices, period=periods)
def test_rsi_per_update_equals_array(values: list[float], period: int) -> None:
    indicator = ind.RSI(period)
    assert same([indicator.update(v) for v in values], ind.rsi(values, period))


@settings(max_examples=60, deadline=None)
@given(
    bars=st.lists(
        st.tuples(
            st.floats(min_value=1.0, max_value=1e5),
            st.floats(min_value=0.0, max_value=100.0),
            st.floats(min_value=0.0, max_value=1.0),
        ),
        max_size=200,
    ),
    period=periods,
)
def test_atr_per_update_equals_array(bars: list[tuple[float, float, float]], period: int) -> None:
    low = [base for base, _, _ in bars]
    high = [base + width for base, width, _ in bars]
    close = [base + width * where for base, width, where in bars]
    indicator = ind.ATR(period)
    per_bar = [indicator.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    assert same(per_bar, ind.atr(high, low, close, period))


@settings(max_examples=60, deadline=None)
@given(
    values=any_values,
    fast=st.integers(1, 15),
    extra=st.integers(1, 20),
    signal=st.integers(1, 12),
)
def test_macd_per_update_equals_arrays(
    values: list[float], fast: int, extra: int, signal: int
) -> None:
    indicator = ind.MACD(fast, fast + extra, signal)
    rows = [(indicator.update(v), indicator.signal, indicator.histogram) for v in values]
    line, signal_line, histogram = ind.macd(values, fast, fast + extra, signal)
    assert same([row[0] for row in rows], line)
    assert same([row[1] for row in rows], signal_line)
    assert same([row[2] for row in rows], histogram)


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(
        st.tuples(
            st.floats(min_value=1e-3, max_value=1e6),
            st.floats(min_value=0.0, max_value=1e3),
            st.integers(min_value=0, max_value=10**6),
        ),
        max_size=200,
    ),
    session_ns=st.sampled_from([0, 1000, 86_400]),
    offset=st.integers(-5000, 5000),
)
def test_vwap_per_update_equals_array(
    trades: list[tuple[float, float, int]], session_ns: int, offset: int
) -> None:
    price = [p for p, _, _ in trades]
    quantity = [q for _, q, _ in trades]
    ts_event = np.cumsum([t for _, _, t in trades]).astype(np.int64) - 3000
    indicator = ind.VWAP(session_ns=session_ns, session_offset_ns=offset)
    per_trade = [
        indicator.update(p, q, t)
        for p, q, t in zip(price, quantity, ts_event.tolist(), strict=True)
    ]
    expected = ind.vwap(price, quantity, ts_event, session_ns=session_ns, session_offset_ns=offset)
    assert same(per_trade, expected)


@settings(max_examples=30, deadline=None)
@given(first=any_values, second=any_values, period=periods)
def test_reset_then_replay_equals_a_fresh_indicator(
    first: list[float], second: list[float], period: int
) -> None:
    period = max(period, 2)
    for make, function in [
        (lambda: ind.EMA(period), lambda v: ind.ema(v, period)),
        (lambda: ind.SMA(period), lambda v: ind.sma(v, period)),
        (lambda: ind.WMA(period), lambda v: ind.wma(v, period)),
        (lambda: ind.RollingStd(period), lambda v: ind.rolling_std(v, period)),
        (lambda: ind.ZScore(period), lambda v: ind.zscore(v, period)),
        (lambda: ind.BollingerBands(period), lambda v: ind.bollinger(v, period)[0]),
        (lambda: ind.MACD(1, period), lambda v: ind.macd(v, 1, period)[0]),
    ]:
        indicator = make()
        for value in first:
            indicator.update(value)
        indicator.reset()
        assert not indicator.ready
        assert np.isnan(indicator.value)
        assert indicator.count == 0
        assert same([indicator.update(v) for v in second], function(second))
    rsi = ind.RSI(period)
    for value in first:
        rsi.update(abs(value) + 1.0)
    rsi.reset()
    positive = [abs(v) + 1.0 for v in second]
    assert same([rsi.update(v) for v in positive], ind.rsi(positive, period))


def test_vwap_reset_starts_a_new_session() -> None:
    vwap = ind.VWAP()
    vwap.update(100.0, 1.0)
    vwap.reset()
    assert not vwap.ready and np.isnan(vwap.value) and vwap.volume == 0.0
    assert vwap.update(50.0, 2.0) == 50.0


def test_atr_reset_forgets_the_previous_close() -> None:
    atr = ind.ATR(1)
    atr.update(10.0, 9.0, 10.0)
    atr.reset()
    # Without a previous close the first bar's true range is high - low.
    assert atr.update(3.0, 2.0, 2.5) == 1.0


def test_arrays_accept_lists_and_strided_views_and_ints() -> None:
    values = np.arange(40, dtype=np.float64)
    assert np.array_equal(ind.sma(values[::2], 3), ind.sma(values[::2].copy(), 3), equal_nan=True)
    assert np.array_equal(ind.ema(list(range(10)), 3), ind.ema(np.arange(10.0), 3), equal_nan=True)
    assert ind.ema([], 3).shape == (0,)
