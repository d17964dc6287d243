"""Benchmark: Binance trade JSON → TradeEvent records per second, with orjson.

Messages are synthetic but byte-shaped like the real stream payloads in
``tests/fixtures/binance`` (``ws_spot_trade.json``, ``ws_spot_agg_trade.json``): BTCUSDT around
the recorded 2021-01-08 prices with 8-decimal strings, four trades in five plain ``trade`` events
and the rest ``aggTrade``. The timed call is :func:`qk.venues.binance.parse.parse_trades` on
batches of 1024 messages, as a feed drains its socket.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import orjson

from qk.venues.binance.parse import SymbolInfo, SymbolTable, parse_trades

__all__ = ["bench_binance_trade_parse_per_s", "synthetic_trade_messages"]

_BATCH = 1024


def synthetic_trade_messages(count: int, seed: int = 1) -> list[bytes]:
    """``count`` BTCUSDT trade/aggTrade messages as the venue sends them."""
    rng = np.random.default_rng(seed)
    prices = 3_950_000 + np.cumsum(rng.integers(-50, 51, size=count))  # cents
    quantities = rng.integers(1, 2_000_000, size=count)  # 1e-6 BTC
    messages = []
    event_time = 1_610_064_000_278
    for i in range(count):
        event_time += int(rng.integers(0, 30))
        price = f"{prices[i] // 100}.{prices[i] % 100:02d}000000"
        quantity = f"{quantities[i] // 1_000_000}.{quantities[i] % 1_000_000:06d}00"
        maker = bool(rng.integers(0, 2))
        if i % 5 == 4:
            body = {
                "e": "aggTrade", "E": event_time + 1, "s": "BTCUSDT", "a": 400_000_000 + i,
                "p": price, "q": quantity, "f": 553_287_559 + i, "l": 553_287_559 + i,
                "T": event_time, "m": maker, "M": True,
            }  # fmt: skip
        else:
            body = {
                "e": "trade", "E": event_time + 1, "s": "BTCUSDT", "t": 553_287_559 + i,
                "p": price, "q": quantity, "T": event_time, "m": maker, "M": True,
            }  # fmt: skip
        messages.append(orjson.dumps(body))
    return messages


def _run_once(batches: list[list[bytes]], symbols: SymbolTable) -> float:
    count = sum(len(batch) for batch in batches)
    started = time.perf_counter()
    for batch in batches:
        parse_trades(batch, symbols, 0)
    return count / (time.perf_counter() - started)


def bench_binance_trade_parse_per_s(quick: bool) -> float:
    """Trade messages decoded per second (median of three runs).

    Args:
        quick: Fewer messages (CI mode).

    Returns:
        Messages per second.
    """
    messages = synthetic_trade_messages(20_000 if quick else 200_000)
    batches = [messages[i : i + _BATCH] for i in range(0, len(messages), _BATCH)]
    symbols = SymbolTable({"BTCUSDT": SymbolInfo(1, 2, 6)})
    return statistics.median(_run_once(batches, symbols) for _ in range(3))
