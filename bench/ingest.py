"""``qk-bench ingest``: market-data ingest costs — bar aggregation, indicators, Binance trade
parsing, order book updates.

Aggregation figures use 1,000,000 seeded simulated BTCUSDT trades (``random_walk_trades``: mean
5 ms apart, so about 83 minutes of market) aggregated into 1s, 1m and 5m bars at once:

* ``agg_ticks_per_s``: the batch API, ``BarAggregator.update_trades`` on the TradeEvent array (one
  call, GIL released) plus ``finish()``;
* ``agg_live_ticks_per_s``: the per-record path, a Python loop calling ``on_trade`` once per tick
  and ``take_bars()`` whenever bars are waiting, the way a live feed handler drives it;
* ``agg_pandas_ticks_per_s``: the baseline, in the same run on the same ticks — pandas
  ``resample`` of a DatetimeIndex frame into the same three timeframes (first/max/min/last,
  volume sum, count and VWAP); building the frame is not timed.

Each is the median of several runs. The other keys come from the modules that own them
(``qk.indicators.bench``, ``qk.venues.binance.bench``, ``qk.books.bench``) and are left out, with
a note on stderr, if such a module is absent.
"""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from qk.bars import BarAggregator, BarSpec, parse_duration
from qk.marketdata.sim import SIM_BTCUSDT, random_walk_trades

TRADES = 1_000_000
TIMEFRAMES = ("1s", "1m", "5m")
PANDAS_RULES = ("1s", "1min", "5min")

_INSTRUMENT = SIM_BTCUSDT


def _specs() -> list[BarSpec]:
    return [BarSpec.time(parse_duration(t), t) for t in TIMEFRAMES]


def _median_rate(count: int, run: Callable[[], object], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def _batch(trades: np.ndarray) -> int:
    agg = BarAggregator(_specs())
    return len(agg.update_trades(trades)) + len(agg.finish())


def _live(columns: tuple[list[int], list[int], list[int], list[int], list[int]]) -> int:
    agg = BarAggregator(_specs())
    on_trade, take_bars = agg.on_trade, agg.take_bars
    published = 0
    for ts, recv, price, quantity, trade_id in zip(*columns, strict=True):
        if on_trade(ts, recv, price, quantity, trade_id):
            published += len(take_bars())
    return published + len(agg.finish())


def _pandas(frame: pd.DataFrame) -> int:
    published = 0
    for rule in PANDAS_RULES:
        grouped = frame.resample(rule, origin="epoch", closed="left", label="left")
        bars = grouped["price"].ohlc()
        sums = grouped[["quantity", "notional"]].sum()
        bars["volume"] = sums["quantity"]
        bars["count"] = grouped["price"].count()
        bars["vwap"] = sums["notional"] / sums["quantity"]
        published += len(bars)
    return published


def bench_aggregation(quick: bool) -> dict[str, float]:
    """The three aggregation keys (see the module doc)."""
    trades = random_walk_trades(_INSTRUMENT, TRADES, seed=11)
    repeats = 3 if quick else 7
    batch_bars = _batch(trades)
    columns = (
        trades["ts_event"].tolist(),
        trades["ts_recv"].tolist(),
        trades["price"].tolist(),
        trades["quantity"].tolist(),
        trades["venue_trade_id"].tolist(),
    )
    if _live(columns) != batch_bars:
        raise RuntimeError("the per-record path published a different number of bars")
    frame = pd.DataFrame(
        {
            "price": trades["price"] / 100.0,
            "quantity": trades["quantity"] / 1e5,
        },
        index=pd.DatetimeIndex(trades["ts_event"].astype("datetime64[ns]")),
    )
    frame["notional"] = frame["price"] * frame["quantity"]
    return {
        "agg_ticks_per_s": _median_rate(TRADES, lambda: _batch(trades), repeats),
        "agg_live_ticks_per_s": _median_rate(TRADES, lambda: _live(columns), 1 if quick else 3),
        "agg_pandas_ticks_per_s": _median_rate(TRADES, lambda: _pandas(frame), repeats),
    }


def _optional(module: str, function: str) -> Callable[[bool], object] | None:
    try:
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        print(
            f"# ingest: {module}.{function} unavailable ({exc}); its keys are left out",
            file=sys.stderr,
        )
        return None


def run(quick: bool) -> dict[str, float]:
    """All ingest metrics; ``quick`` keeps the whole suite well under 30 s."""
    metrics = bench_aggregation(quick)
    indicators = _optional("qk.indicators.bench", "bench_indicator_update_ns")
    if indicators is not None:
        result = indicators(quick)
        assert isinstance(result, dict)
        metrics.update({str(k): float(v) for k, v in result.items()})
    for key, module, function in (
        ("binance_trade_parse_per_s", "qk.venues.binance.bench", "bench_binance_trade_parse_per_s"),
        ("book_updates_per_s", "qk.books.bench", "bench_book_updates_per_s"),
    ):
        bench = _optional(module, function)
        if bench is not None:
            value = bench(quick)
            assert isinstance(value, int | float)
            metrics[key] = float(value)
    return metrics
