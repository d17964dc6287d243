"""Helpers for the order-book tests: fixture paths and small builders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qk.books import BinanceFuturesRules, BinanceSpotRules, BookSnapshot, DepthDiff, OrderBook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"


def diff(
    first: int,
    last: int,
    prev: int = 0,
    bids: list[tuple[int, int]] | None = None,
    asks: list[tuple[int, int]] | None = None,
) -> DepthDiff:
    """A diff from ``(price, size)`` lists."""
    bids = bids or []
    asks = asks or []
    return DepthDiff(
        first_update_id=first,
        last_update_id=last,
        prev_update_id=prev,
        bid_prices=np.array([p for p, _ in bids], dtype=np.int64),
        bid_sizes=np.array([s for _, s in bids], dtype=np.int64),
        ask_prices=np.array([p for p, _ in asks], dtype=np.int64),
        ask_sizes=np.array([s for _, s in asks], dtype=np.int64),
    )


def snapshot(
    last_update_id: int,
    bids: list[tuple[int, int]] | None = None,
    asks: list[tuple[int, int]] | None = None,
) -> BookSnapshot:
    """A snapshot from ``(price, size)`` lists."""
    bids = bids or []
    asks = asks or []
    return BookSnapshot(
        last_update_id=last_update_id,
        bid_prices=np.array([p for p, _ in bids], dtype=np.int64),
        bid_sizes=np.array([s for _, s in bids], dtype=np.int64),
        ask_prices=np.array([p for p, _ in asks], dtype=np.int64),
        ask_sizes=np.array([s for _, s in asks], dtype=np.int64),
    )


@pytest.fixture
def spot_book() -> OrderBook:
    """A Binance spot book (price precision 2)."""
    return OrderBook(1, BinanceSpotRules(), price_precision=2)


@pytest.fixture
def futures_book() -> OrderBook:
    """A Binance USD-M futures book (price precision 2)."""
    return OrderBook(3, BinanceFuturesRules(), price_precision=2)
