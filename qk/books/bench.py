"""Benchmark: level updates per second through :class:`qk.books.OrderBook`.

The diffs are synthetic but shaped like the recorded Binance USD-M BTCUSDT depth data
(``tests/fixtures/binance/recorded_market_data/btcusdt-depth-*.csv``): a 0.10 tick around 20377
(price precision 2), sizes with 3 decimals, a 1000-level snapshot per side, diffs of 0 to 60 levels
concentrated near the top of the book with about a fifth of them deletes (size 0), chained by
``pu`` as futures events are. The timed loop is ``on_diff`` per event: sequencing checks plus the
level updates, as a live feed would call it.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from qk.books.book import OrderBook
from qk.books.sequencing import BinanceFuturesRules
from qk.books.updates import BookSnapshot, DepthDiff

__all__ = ["bench_book_updates_per_s", "synthetic_diffs", "synthetic_snapshot"]

_MID = 2_037_700  # 20377.00 at price precision 2
_TICK = 10  # 0.10
_SNAPSHOT_LEVELS = 1000
_FIRST_ID = 2_098_021_528_332  # the recorded snapshot's lastUpdateId


def synthetic_snapshot() -> BookSnapshot:
    """A 1000-level-per-side snapshot around 20377.00."""
    offsets = np.arange(1, _SNAPSHOT_LEVELS + 1, dtype=np.int64)
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 5_000, size=(2, _SNAPSHOT_LEVELS), dtype=np.int64)
    return BookSnapshot(
        last_update_id=_FIRST_ID,
        bid_prices=_MID - offsets * _TICK,
        bid_sizes=sizes[0],
        ask_prices=_MID + offsets * _TICK,
        ask_sizes=sizes[1],
    )


def synthetic_diffs(count: int, seed: int = 1) -> list[DepthDiff]:
    """``count`` futures-style diffs chained onto :func:`synthetic_snapshot`."""
    rng = np.random.default_rng(seed)
    diffs: list[DepthDiff] = []
    previous = _FIRST_ID
    first = _FIRST_ID - 5  # the first event straddles the snapshot, as the venue's rule wants
    for _ in range(count):
        last = first + int(rng.integers(1, 200))
        sides = []
        for sign in (-1, 1):
            n = int(rng.integers(0, 31))
            # Geometric offsets: most changes are within a few ticks of the top of the book.
            offsets = np.minimum(rng.geometric(0.08, size=n), 1500).astype(np.int64)
            prices = _MID + sign * offsets * _TICK
            sizes = rng.integers(1, 5_000, size=n, dtype=np.int64)
            sizes[rng.random(n) < 0.2] = 0
            sides.append((prices, sizes))
        diffs.append(
            DepthDiff(
                first_update_id=first,
                last_update_id=last,
                prev_update_id=previous,
                bid_prices=sides[0][0],
                bid_sizes=sides[0][1],
                ask_prices=sides[1][0],
                ask_sizes=sides[1][1],
            )
        )
        previous = last
        first = last + int(rng.integers(1, 50))
    return diffs


def _run_once(diffs: list[DepthDiff], snapshot: BookSnapshot) -> float:
    book = OrderBook(1, BinanceFuturesRules(), price_precision=2)
    book.on_snapshot(snapshot)
    on_diff = book.on_diff
    levels = sum(diff.level_count for diff in diffs)
    started = time.perf_counter()
    for diff in diffs:
        on_diff(diff)
    elapsed = time.perf_counter() - started
    if book.counters.diffs_applied != len(diffs):
        raise RuntimeError(f"benchmark book applied {book.counters.diffs_applied} of {len(diffs)}")
    return levels / elapsed


def bench_book_updates_per_s(quick: bool) -> float:
    """Level updates per second through ``OrderBook.on_diff`` (median of three runs).

    Args:
        quick: Fewer diffs (CI mode).

    Returns:
        Level updates per second.
    """
    diffs = synthetic_diffs(2_000 if quick else 20_000)
    snapshot = synthetic_snapshot()
    return statistics.median(_run_once(diffs, snapshot) for _ in range(3))
