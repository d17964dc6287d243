"""Bars from real Binance BTCUSDT trades equal a pandas ``resample`` reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qk.bars import BarAggregator, BarSpec, FeedConfig, final_bars, parse_duration
from qk.bars.trades_file import read_trades
from qk.schemas.enums import BarFlag

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance" / "recorded_market_data"
PRICE_PRECISION = 2  # Binance spot BTCUSDT: tick 0.01
SIZE_PRECISION = 8


def _pandas_reference(rule: str) -> pd.DataFrame:
    frame = pd.read_parquet(FIXTURES / "btcusdt-trades.parquet")
    frame = frame.set_index("timestamp").sort_index()
    # The same fixed-point values the aggregator sees (the file stores decimals as floats).
    frame["p"] = np.rint(frame["price"] * 10**PRICE_PRECISION).astype(np.int64)
    frame["q"] = np.rint(frame["quantity"] * 10**SIZE_PRECISION).astype(np.int64)
    frame["pq"] = frame["p"].astype(float) * frame["q"].astype(float)
    grouped = frame.resample(rule, origin="epoch", closed="left", label="left")
    ref = pd.DataFrame(
        {
            "open": grouped["p"].first(),
            "high": grouped["p"].max(),
            "low": grouped["p"].min(),
            "close": grouped["p"].last(),
            "volume": grouped["q"].sum(),
            "count": grouped["p"].count(),
            "notional": grouped["pq"].sum(),
        }
    )
    ref["vwap"] = ref["notional"] / ref["volume"] / 10**PRICE_PRECISION
    ref.index = ref.index.as_unit("ns").asi8
    return ref


@pytest.mark.parametrize("file_name", ["btcusdt-trades.parquet", "btcusdt-trades.csv"])
@pytest.mark.parametrize("rule, timeframe", [("1s", "1s"), ("1min", "1m"), ("5min", "5m")])
def test_bars_of_real_btcusdt_trades_equal_pandas_resample(
    file_name: str, rule: str, timeframe: str
) -> None:
    trades = read_trades(FIXTURES / file_name, PRICE_PRECISION, SIZE_PRECISION, round_values=True)
    assert len(trades) == 2001
    spec = BarSpec.time(parse_duration(timeframe))
    agg = BarAggregator([spec], FeedConfig(contiguous_ids=True))
    bars = final_bars(
        np.concatenate(
            [
                agg.update(trades.ts_event, trades.price, trades.quantity, trades.trade_id),
                agg.finish(),
            ]
        )
    )
    ref = _pandas_reference(rule)

    assert agg.metrics()["gaps"] == 0
    assert list(bars["open_time"]) == list(ref.index)
    assert list(bars["close_time"] - bars["open_time"]) == [spec.size] * len(bars)
    traded = ref["count"].to_numpy() > 0
    for column in ("open", "high", "low", "close"):
        assert np.array_equal(bars[column][traded], ref[column].to_numpy()[traded]), column
    assert np.array_equal(bars["volume"], ref["volume"].to_numpy())
    assert np.array_equal(bars["trade_count"], ref["count"].to_numpy())
    vwap = bars["vwap"][traded] / 10 ** (PRICE_PRECISION + 4)
    np.testing.assert_allclose(vwap, ref["vwap"].to_numpy()[traded], rtol=1e-12, atol=6e-7)
    # pandas leaves empty bins NaN; ours repeat the previous close and say EMPTY.
    empty = bars[~traded]
    assert np.all(empty["flags"] & int(BarFlag.EMPTY))
    assert np.all(bars["flags"][traded] == 0)


def test_the_fixture_spans_one_minute_of_real_trades_so_the_1m_bar_holds_all_of_them() -> None:
    trades = read_trades(
        FIXTURES / "btcusdt-trades.parquet", PRICE_PRECISION, SIZE_PRECISION, round_values=True
    )
    agg = BarAggregator([BarSpec.time(parse_duration("1m"))])
    bars = np.concatenate(
        [agg.update(trades.ts_event, trades.price, trades.quantity, trades.trade_id), agg.finish()]
    )
    assert len(bars) == 1
    assert bars["trade_count"][0] == 2001
    assert bars["open"][0] == 3943248  # 39432.48, the first trade
    assert bars["close"][0] == trades.price[-1]
