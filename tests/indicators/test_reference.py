"""Every indicator against a direct pandas/numpy computation of the same data, to 1e-9 relative.

Both the incremental objects and the vectorised functions are compared; only ready values are
compared, and the NaN warm-up prefix is checked to have exactly the documented length.
"""

from __future__ import annotations

import numpy as np
import pytest

from qk import indicators as ind
from tests.indicators.conftest import (
    FloatArray,
    assert_ready_close,
    atr_reference,
    bars_from,
    ema_reference,
    load_btcusdt_trades,
    macd_reference,
    random_walk,
    rsi_reference,
    sma_reference,
    std_reference,
    vwap_reference,
    window_reference,
    wma_reference,
    zscore_reference,
)

SEEDS = [1, 2, 3]
PERIODS = [1, 2, 5, 14, 50]


def per_update(indicator: ind.EMA | ind.SMA | ind.WMA | ind.RSI, values: FloatArray) -> FloatArray:
    return np.array([indicator.update(value) for value in values])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", PERIODS)
def test_ema_matches_pandas_ewm_adjust_false(seed: int, period: int) -> None:
    prices = random_walk(seed, 3000)
    expected = ema_reference(prices, period)
    assert_ready_close(ind.ema(prices, period), expected, warmup=period)
    assert_ready_close(per_update(ind.EMA(period), prices), expected, warmup=period)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", PERIODS)
def test_sma_matches_pandas_rolling_mean(seed: int, period: int) -> None:
    prices = random_walk(seed, 3000)
    expected = sma_reference(prices, period)
    assert_ready_close(ind.sma(prices, period), expected, warmup=period)
    assert_ready_close(per_update(ind.SMA(period), prices), expected, warmup=period)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", PERIODS)
def test_wma_matches_weighted_window_sum(seed: int, period: int) -> None:
    prices = random_walk(seed, 3000)
    expected = wma_reference(prices, period)
    assert_ready_close(ind.wma(prices, period), expected, warmup=period)
    assert_ready_close(per_update(ind.WMA(period), prices), expected, warmup=period)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [2, 5, 20, 50])
@pytest.mark.parametrize("ddof", [0, 1])
def test_rolling_std_matches_pandas_rolling_std(seed: int, period: int, ddof: int) -> None:
    # Independent draws: windows where pandas' own add/remove variance is well conditioned.
    values = np.random.default_rng(seed).normal(0.0, 1.0, 3000)
    expected = std_reference(values, period, ddof)
    assert_ready_close(ind.rolling_std(values, period, ddof), expected, warmup=period)
    indicator = ind.RollingStd(period, ddof=ddof)
    assert_ready_close(per_update(indicator, values), expected, warmup=period)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [2, 5, 20, 50])
@pytest.mark.parametrize("ddof", [0, 1])
def test_rolling_std_on_prices_matches_two_pass_window(seed: int, period: int, ddof: int) -> None:
    # On a price path two near-equal prices make a tiny variance at a large offset; pandas'
    # running variance is then off by up to ~1e-8 (seed 1, period 2, index 1521), so the
    # reference is the direct two-pass computation of each window, in long double.
    prices = random_walk(seed, 3000)
    expected = window_reference(prices, period, ddof)[1].astype(np.float64)
    assert_ready_close(ind.rolling_std(prices, period, ddof), expected, warmup=period)
    indicator = ind.RollingStd(period, ddof=ddof)
    assert_ready_close(per_update(indicator, prices), expected, warmup=period)  # type: ignore[arg-type]
    assert indicator.mean == pytest.approx(float(np.mean(prices[-period:])), rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [2, 5, 20])
@pytest.mark.parametrize("ddof", [0, 1])
def test_zscore_matches_direct_window_computation(seed: int, period: int, ddof: int) -> None:
    prices = random_walk(seed, 3000)
    expected = zscore_reference(prices, period, ddof)
    # A z-score crosses zero; near zero, bound the error by 1e-9 of one standard deviation.
    assert_ready_close(ind.zscore(prices, period, ddof), expected, warmup=period, floor=1.0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [2, 20])
@pytest.mark.parametrize("k", [0.0, 1.5, 2.0])
def test_bollinger_matches_sma_and_sample_std_by_default(seed: int, period: int, k: float) -> None:
    prices = random_walk(seed, 3000)
    # The direct two-pass window (pandas' running variance is off by ~1e-8 on some windows).
    mean, std = window_reference(prices, period, 1)
    middle = mean.astype(np.float64)
    upper = (mean + k * std).astype(np.float64)
    lower = (mean - k * std).astype(np.float64)
    actual = ind.bollinger(prices, period, k)
    assert_ready_close(actual[0], middle, warmup=period)
    assert_ready_close(actual[1], upper, warmup=period)
    assert_ready_close(actual[2], lower, warmup=period)
    bands = ind.BollingerBands(period, k)
    for index, price in enumerate(prices):
        assert np.array_equal(
            [bands.update(price), bands.value, bands.middle, bands.upper, bands.lower],
            [
                actual[0][index],
                actual[0][index],
                actual[0][index],
                actual[1][index],
                actual[2][index],
            ],
            equal_nan=True,
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_bollinger_matches_pandas_rolling_mean_and_std(seed: int) -> None:
    values = np.random.default_rng(seed).normal(0.0, 1.0, 3000) + 10.0
    middle = sma_reference(values, 20)
    width = 2.0 * std_reference(values, 20, 1)
    actual = ind.bollinger(values, 20)
    assert_ready_close(actual[0], middle, warmup=20)
    assert_ready_close(actual[1], middle + width, warmup=20)
    assert_ready_close(actual[2], middle - width, warmup=20)


def test_bollinger_with_ddof_zero_uses_population_std() -> None:
    values = np.random.default_rng(4).normal(0.0, 1.0, 500) + 10.0
    middle = sma_reference(values, 20)
    width = 2.0 * std_reference(values, 20, 0)
    assert_ready_close(ind.bollinger(values, 20, 2.0, ddof=0)[1], middle + width, warmup=20)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [1, 2, 14, 30])
def test_rsi_matches_wilders_explicit_loop(seed: int, period: int) -> None:
    prices = random_walk(seed, 3000)
    expected = rsi_reference(prices, period)
    assert_ready_close(ind.rsi(prices, period), expected, warmup=period + 1)
    assert_ready_close(per_update(ind.RSI(period), prices), expected, warmup=period + 1)


def test_rsi_on_tick_prices_with_unchanged_prices_matches_loop() -> None:
    # Tick prices repeat often: zero changes must count as neither gain nor loss.
    rng = np.random.default_rng(9)
    prices = 100.0 + 0.5 * np.cumsum(rng.integers(-1, 2, 3000))
    assert_ready_close(ind.rsi(prices, 14), rsi_reference(prices, 14), warmup=15)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("period", [1, 2, 14, 30])
def test_atr_matches_wilders_explicit_loop(seed: int, period: int) -> None:
    high, low, close = bars_from(random_walk(seed, 3000), seed)
    expected = atr_reference(high, low, close, period)
    assert_ready_close(ind.atr(high, low, close, period), expected, warmup=period)
    indicator = ind.ATR(period)
    actual = np.array(
        [indicator.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    )
    assert_ready_close(actual, expected, warmup=period)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (3, 10, 16), (1, 2, 1)])
def test_macd_matches_pandas_ewm_expression(seed: int, fast: int, slow: int, signal: int) -> None:
    prices = random_walk(seed, 3000)
    warmup = slow + signal - 1
    actual = ind.macd(prices, fast, slow, signal)
    # The line is a difference of two prices' EMAs: bound its error by the price scale.
    floor = float(np.abs(prices).max()) * 1e-3
    for got, want in zip(actual, macd_reference(prices, fast, slow, signal), strict=True):
        assert_ready_close(got, want, warmup=warmup, floor=floor)


@pytest.mark.parametrize("seed", SEEDS)
def test_vwap_matches_cumulative_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    prices = random_walk(seed, 3000)
    quantity = rng.uniform(0.0, 3.0, prices.size)
    quantity[:3] = 0.0  # no volume yet: not ready
    expected = vwap_reference(prices, quantity)
    assert_ready_close(ind.vwap(prices, quantity), expected, warmup=4)


def test_vwap_with_sessions_matches_groupby_cumulative_sums() -> None:
    rng = np.random.default_rng(5)
    prices = random_walk(5, 5000)
    quantity = rng.uniform(0.1, 3.0, prices.size)
    ts_event = np.cumsum(rng.integers(1, 60_000_000_000, prices.size)).astype(np.int64)
    hour, offset = 3_600_000_000_000, 900_000_000_000
    expected = vwap_reference(prices, quantity, ts_event, hour, offset)
    actual = ind.vwap(prices, quantity, ts_event, session_ns=hour, session_offset_ns=offset)
    assert_ready_close(actual, expected, warmup=1)
    indicator = ind.VWAP(session_ns=hour, session_offset_ns=offset)
    per_trade = [
        indicator.update(p, q, t)
        for p, q, t in zip(prices, quantity, ts_event.tolist(), strict=True)
    ]
    assert np.array_equal(np.array(per_trade), actual)


def test_real_btcusdt_trades_per_tick_match_pandas() -> None:
    trades = load_btcusdt_trades()
    price = ind.to_float_array(np.rint(trades["price"].to_numpy() * 100).astype(np.int64), 2)
    assert np.array_equal(price, trades["price"].to_numpy())
    quantity = trades["quantity"].to_numpy()
    assert_ready_close(ind.ema(price, 50), ema_reference(price, 50), warmup=50)
    assert_ready_close(ind.sma(price, 50), sma_reference(price, 50), warmup=50)
    # Consecutive trades often print at one price: pandas' own rolling std at a 40,000 offset
    # carries ~1e-7 relative error there, so the direct two-pass window is the reference.
    assert_ready_close(
        ind.rolling_std(price, 50), window_reference(price, 50, 1)[1].astype(np.float64), warmup=50
    )
    assert_ready_close(ind.rsi(price, 14), rsi_reference(price, 14), warmup=15)
    assert_ready_close(ind.vwap(price, quantity), vwap_reference(price, quantity), warmup=1)
    day = 86_400_000_000_000
    ts = trades["ts_event"].to_numpy()
    vwap = ind.VWAP(session_ns=day)
    assert [vwap.update(p, q, t) for p, q, t in zip(price, quantity, ts.tolist(), strict=True)] == (
        ind.vwap(price, quantity, ts, session_ns=day).tolist()
    )
