"""Direct reference computations of each indicator, and the comparison the tests use.

The references are written the obvious way (pandas, numpy windows, explicit loops), never with the
running-sum recurrences under test, so agreement means the incremental code is right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

RTOL = 1e-9
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BTCUSDT_TRADES = FIXTURES / "binance" / "recorded_market_data" / "btcusdt-trades.csv"


def assert_ready_close(
    actual: FloatArray, expected: FloatArray, warmup: int, rtol: float = RTOL, floor: float = 0.0
) -> None:
    """NaN exactly before ``warmup`` values; after it ``|a - e| <= rtol * max(|e|, floor)``.

    ``floor`` is for indicators whose value crosses zero (MACD, z-score), where a relative error
    is meaningless at the crossing: there it bounds the error relative to the indicator's scale.
    """
    assert actual.shape == expected.shape
    assert np.isnan(actual[: warmup - 1]).all(), "a value before the warm-up is not NaN"
    ready_actual = actual[warmup - 1 :]
    ready_expected = expected[warmup - 1 :]
    assert np.isfinite(ready_actual).all(), "a ready value is not finite"
    assert np.isfinite(ready_expected).all()
    error = np.abs(ready_actual - ready_expected)
    bound = rtol * np.maximum(np.abs(ready_expected), floor)
    worst = int(np.argmax(error - bound))
    assert (error <= bound).all(), (
        f"index {worst + warmup - 1}: {ready_actual[worst]!r} vs {ready_expected[worst]!r}, "
        f"relative error {error[worst] / max(abs(ready_expected[worst]), floor):.3e}"
    )


def random_walk(seed: int, count: int, start: float = 100.0, step: float = 1.0) -> FloatArray:
    """A positive price path."""
    rng = np.random.default_rng(seed)
    return start + np.cumsum(rng.normal(0.0, step, count))


def bars_from(prices: FloatArray, seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """High, low, close bars around a price path, with gaps between one close and the next bar."""
    rng = np.random.default_rng(seed)
    close = prices
    high = prices + np.abs(rng.normal(0.0, 0.5, prices.size))
    low = prices - np.abs(rng.normal(0.0, 0.5, prices.size))
    return high, low, close


def ema_reference(values: FloatArray, period: int) -> FloatArray:
    return pd.Series(values).ewm(span=period, adjust=False).mean().to_numpy()


def sma_reference(values: FloatArray, period: int) -> FloatArray:
    return pd.Series(values).rolling(period).mean().to_numpy()


def std_reference(values: FloatArray, period: int, ddof: int) -> FloatArray:
    return pd.Series(values).rolling(period).std(ddof=ddof).to_numpy()


def _window_stats(
    values: FloatArray, period: int, ddof: int
) -> tuple[npt.NDArray[np.longdouble], npt.NDArray[np.longdouble], npt.NDArray[np.longdouble]]:
    """Per full window: its first value, the mean of the deviations from it, and the std.

    Deviations from the window's own first value are exact in float64 for nearby prices
    (Sterbenz), so the long double two-pass below stays exact to ~1e-19 of the *spread*, not of
    the price: a 1e-6 std at a price of 2e6 is still resolved.
    """
    count = values.size
    anchor = np.full(count, np.nan, dtype=np.longdouble)
    mean_deviation = np.full(count, np.nan, dtype=np.longdouble)
    std = np.full(count, np.nan, dtype=np.longdouble)
    windows = np.lib.stride_tricks.sliding_window_view(values, period)
    chunk = max(1, 2_000_000 // period)
    for start in range(0, windows.shape[0], chunk):
        block = windows[start : start + chunk]
        first = block[:, :1]
        deviations = (block - first).astype(np.longdouble)
        block_mean = deviations.mean(axis=1)
        centred = deviations - block_mean[:, None]
        variance = (centred * centred).sum(axis=1) / (period - ddof)
        where = slice(period - 1 + start, period - 1 + start + block.shape[0])
        anchor[where] = first[:, 0]
        mean_deviation[where] = block_mean
        std[where] = np.sqrt(variance)
    return anchor, mean_deviation, std


def window_reference(
    values: FloatArray, period: int, ddof: int
) -> tuple[npt.NDArray[np.longdouble], npt.NDArray[np.longdouble]]:
    """Direct two-pass mean and std of every full window, NaN-padded at the front."""
    anchor, mean_deviation, std = _window_stats(values, period, ddof)
    return anchor + mean_deviation, std


def zscore_reference(values: FloatArray, period: int, ddof: int) -> FloatArray:
    anchor, mean_deviation, std = _window_stats(values, period, ddof)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = ((values - anchor.astype(np.float64)).astype(np.longdouble) - mean_deviation) / std
    return np.asarray(np.where(std == 0.0, 0.0, z), dtype=np.float64)


def wma_reference(values: FloatArray, period: int) -> FloatArray:
    weights = np.arange(1, period + 1, dtype=np.longdouble)
    windows = np.lib.stride_tricks.sliding_window_view(values.astype(np.longdouble), period)
    result = np.full(values.size, np.nan)
    result[period - 1 :] = (windows @ weights) / weights.sum()
    return result


def rsi_reference(values: FloatArray, period: int) -> FloatArray:
    """Wilder's RSI as he defined it, one price at a time."""
    result = np.full(values.size, np.nan)
    gains = losses = 0.0
    for index in range(1, values.size):
        change = values[index] - values[index - 1]
        gain, loss = max(change, 0.0), max(-change, 0.0)
        if index <= period:
            gains += gain
            losses += loss
            if index < period:
                continue
            gains /= period
            losses /= period
        else:
            gains = (gains * (period - 1) + gain) / period
            losses = (losses * (period - 1) + loss) / period
        if losses == 0.0:
            result[index] = 50.0 if gains == 0.0 else 100.0
        else:
            result[index] = 100.0 - 100.0 / (1.0 + gains / losses)
    return result


def atr_reference(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    """Wilder's ATR, one bar at a time; the first bar's true range is high - low."""
    previous_close = pd.Series(close).shift(1).to_numpy()
    true_range = np.where(
        np.isnan(previous_close),
        high - low,
        np.maximum.reduce(
            [high - low, np.abs(high - previous_close), np.abs(low - previous_close)]
        ),
    )
    result = np.full(high.size, np.nan)
    average = 0.0
    for index in range(high.size):
        if index < period:
            average += true_range[index]
            if index == period - 1:
                average /= period
                result[index] = average
        else:
            average = (average * (period - 1) + true_range[index]) / period
            result[index] = average
    return result


def macd_reference(
    values: FloatArray, fast: int, slow: int, signal: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    series = pd.Series(values)
    line = series.ewm(span=fast, adjust=False).mean() - series.ewm(span=slow, adjust=False).mean()
    signal_line = line.ewm(span=signal, adjust=False).mean()
    return line.to_numpy(), signal_line.to_numpy(), (line - signal_line).to_numpy()


def vwap_reference(
    price: FloatArray,
    quantity: FloatArray,
    ts_event: npt.NDArray[np.int64] | None = None,
    session_ns: int = 0,
    session_offset_ns: int = 0,
) -> FloatArray:
    frame = pd.DataFrame({"pv": price * quantity, "q": quantity})
    if session_ns:
        assert ts_event is not None
        session = (ts_event - session_offset_ns) // session_ns
        sums = frame.groupby(session).cumsum()
    else:
        sums = frame.cumsum()
    with np.errstate(invalid="ignore", divide="ignore"):
        result = (sums["pv"] / sums["q"]).to_numpy()
    return np.where(sums["q"].to_numpy() > 0.0, result, np.nan)


def load_btcusdt_trades() -> pd.DataFrame:
    """The real Binance BTCUSDT trades fixture: ts_event (ns), price, quantity."""
    frame = pd.read_csv(BTCUSDT_TRADES)
    timestamps = pd.to_datetime(frame["timestamp"], utc=True)
    return pd.DataFrame(
        {
            "ts_event": timestamps.astype("int64").to_numpy(),
            "price": frame["price"].to_numpy(dtype=np.float64),
            "quantity": frame["quantity"].to_numpy(dtype=np.float64),
        }
    )
