"""Books built from real recorded Binance USD-M BTCUSDT depth data.

``btcusdt-depth-snap.csv`` is a futures REST snapshot (100 bid levels, lastUpdateId 2098021528332)
and ``btcusdt-depth-update.csv`` one futures diff event (U=2098041693435, u=2098041696700,
pu=2098041693400) recorded ten minutes later: the ``pu`` column marks them as USD-M futures, so the
futures rules apply. The Tardis files are top-5 / top-25 futures book snapshots.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import numpy as np
import pytest

from qk.books import (
    BookInput,
    BookSide,
    BookSnapshot,
    BookState,
    DepthDiff,
    OrderBook,
    ResyncReason,
    book_depth_record,
)
from qk.books._book import parse_decimal
from qk.instruments import Instrument
from qk.schemas.enums import AssetClass, InstrumentKind, Venue
from tests.books.conftest import FIXTURES, diff

RECORDED = FIXTURES / "recorded_market_data"
PRICE_PRECISION = 2
SIZE_PRECISION = 3
SNAPSHOT_ID = 2098021528332
U, LAST_U, PU = 2098041693435, 2098041696700, 2098041693400

BTCUSDT_PERP = Instrument(
    instrument_id=3,
    venue=Venue.BINANCE_USDM,
    symbol="BTCUSDT",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.PERPETUAL,
    tick_size=Decimal("0.10"),
    lot_size=Decimal("0.001"),
    price_precision=PRICE_PRECISION,
    size_precision=SIZE_PRECISION,
    currency="USDT",
)


def _rows(name: str) -> list[dict[str, str]]:
    with (RECORDED / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _side_levels(rows: list[dict[str, str]], side: str) -> tuple[np.ndarray, np.ndarray]:
    chosen = [row for row in rows if row["side"] == side]
    prices = [parse_decimal(row["price"], PRICE_PRECISION) for row in chosen]
    sizes = [parse_decimal(row["qty"], SIZE_PRECISION) for row in chosen]
    return np.array(prices, dtype=np.int64), np.array(sizes, dtype=np.int64)


def recorded_snapshot(last_update_id: int | None = None) -> BookSnapshot:
    rows = _rows("btcusdt-depth-snap.csv")
    assert {row["update_type"] for row in rows} == {"snap"}
    bid_prices, bid_sizes = _side_levels(rows, "b")
    ask_prices, ask_sizes = _side_levels(rows, "a")
    return BookSnapshot(
        last_update_id=int(rows[0]["last_update_id"]) if last_update_id is None else last_update_id,
        bid_prices=bid_prices,
        bid_sizes=bid_sizes,
        ask_prices=ask_prices,
        ask_sizes=ask_sizes,
        ts_event=int(rows[0]["timestamp"]) * 1_000_000,
    )


def recorded_diff() -> DepthDiff:
    rows = _rows("btcusdt-depth-update.csv")
    first = rows[0]
    # One venue event exploded into level rows: every row carries the same ids.
    assert {(row["first_update_id"], row["last_update_id"], row["pu"]) for row in rows} == {
        (first["first_update_id"], first["last_update_id"], first["pu"])
    }
    bid_prices, bid_sizes = _side_levels(rows, "b")
    ask_prices, ask_sizes = _side_levels(rows, "a")
    return DepthDiff(
        first_update_id=int(first["first_update_id"]),
        last_update_id=int(first["last_update_id"]),
        prev_update_id=int(first["pu"]),
        bid_prices=bid_prices,
        bid_sizes=bid_sizes,
        ask_prices=ask_prices,
        ask_sizes=ask_sizes,
        ts_event=int(first["timestamp"]) * 1_000_000,
    )


def test_recorded_snapshot_builds_the_book() -> None:
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    assert book.on_snapshot(recorded_snapshot()) is BookState.SYNCING
    assert book.update_id == SNAPSHOT_ID
    assert book.level_count(BookSide.BID) == 100
    assert book.level_count(BookSide.ASK) == 0
    assert book.best_bid() == (2037700, 1770)  # 20377.00 x 1.770
    prices, _ = book.depth(BookSide.BID, 100)
    assert prices[-1] == 2036590  # 20365.90
    assert (np.diff(prices) < 0).all()


def test_recorded_update_does_not_chain_onto_the_recorded_snapshot() -> None:
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    book.on_snapshot(recorded_snapshot())
    update = recorded_diff()
    assert (update.first_update_id, update.last_update_id, update.prev_update_id) == (U, LAST_U, PU)
    # Recorded ten minutes later: U is far past the snapshot, so the first-event rule fails.
    assert book.on_diff(update) is BookInput.DIFF_GAP
    request = book.take_resync_request()
    assert request is not None
    assert request.reason is ResyncReason.SNAPSHOT_GAP
    assert (request.book_update_id, request.event_first_update_id) == (SNAPSHOT_ID, U)
    assert book.buffered == 1  # kept for the next snapshot


def test_recorded_update_applies_onto_a_snapshot_it_bridges() -> None:
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    update = recorded_diff()
    assert book.on_diff(update) is BookInput.DIFF_EARLY
    # A snapshot taken inside [U, u] is bridged by the buffered event (U <= lastUpdateId <= u).
    assert book.on_snapshot(recorded_snapshot(last_update_id=U + 1000)) is BookState.SYNCED
    assert book.update_id == LAST_U
    reference: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
    snap = recorded_snapshot()
    reference[BookSide.BID].update(
        zip(snap.bid_prices.tolist(), snap.bid_sizes.tolist(), strict=True)
    )
    for side, prices, sizes in (
        (BookSide.BID, update.bid_prices, update.bid_sizes),
        (BookSide.ASK, update.ask_prices, update.ask_sizes),
    ):
        for price, size in zip(prices.tolist(), sizes.tolist(), strict=True):
            if size:
                reference[side][price] = size
            else:
                reference[side].pop(price, None)
    for side, descending in ((BookSide.BID, True), (BookSide.ASK, False)):
        prices, sizes = book.depth(side, 1000)
        expected = sorted(reference[side].items(), reverse=descending)
        assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == expected
    assert book.best_bid() == (2047210, 22276)  # 20472.10 x 22.276
    assert book.best_ask() == (2047220, 4211)  # 20472.20 x 4.211
    assert book.spread() == 10
    assert not book.is_crossed()


def test_after_the_recorded_update_the_next_event_must_carry_pu_equal_to_its_u() -> None:
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    book.on_diff(recorded_diff())
    book.on_snapshot(recorded_snapshot(last_update_id=U + 1000))
    assert book.on_diff(diff(LAST_U + 40, LAST_U + 90, prev=LAST_U)) is BookInput.DIFF_IN_SEQUENCE
    assert book.on_diff(diff(LAST_U + 91, LAST_U + 95, prev=LAST_U + 89)) is BookInput.DIFF_GAP


def _tardis(name: str) -> list[tuple[int, list[tuple[int, int]], list[tuple[int, int]]]]:
    rows = []
    with (RECORDED / name).open(newline="") as handle:
        for row in csv.DictReader(handle):
            assert (row["exchange"], row["symbol"]) == ("binance-futures", "BTCUSDT")
            depth = sum(1 for key in row if key.endswith(".price")) // 2
            levels = {}
            for side in ("bids", "asks"):
                levels[side] = [
                    (
                        parse_decimal(row[f"{side}[{i}].price"], PRICE_PRECISION),
                        parse_decimal(row[f"{side}[{i}].amount"], SIZE_PRECISION),
                    )
                    for i in range(depth)
                ]
            rows.append((int(row["timestamp"]) * 1000, levels["bids"], levels["asks"]))
    return rows


def _snapshot_of(ts: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> BookSnapshot:
    return BookSnapshot(
        last_update_id=0,
        bid_prices=np.array([p for p, _ in bids], dtype=np.int64),
        bid_sizes=np.array([s for _, s in bids], dtype=np.int64),
        ask_prices=np.array([p for p, _ in asks], dtype=np.int64),
        ask_sizes=np.array([s for _, s in asks], dtype=np.int64),
        ts_event=ts,
    )


@pytest.mark.parametrize("depth", [5, 25])
def test_tardis_snapshots_round_trip_through_the_book(depth: int) -> None:
    rows = _tardis(f"tardis_binance-futures_book_snapshot_{depth}_BTCUSDT.csv")
    assert len(rows) == 10
    for ts, bids, asks in rows:
        book = OrderBook.for_instrument(BTCUSDT_PERP)
        assert book.on_snapshot(_snapshot_of(ts, bids, asks)) is BookState.SYNCING
        bid_prices, bid_sizes = book.depth(BookSide.BID, depth)
        ask_prices, ask_sizes = book.depth(BookSide.ASK, depth)
        assert list(zip(bid_prices.tolist(), bid_sizes.tolist(), strict=True)) == bids
        assert list(zip(ask_prices.tolist(), ask_sizes.tolist(), strict=True)) == asks
        assert book.spread() is not None and book.spread() > 0


def test_tardis_top_5_is_the_top_of_top_25_at_the_same_time() -> None:
    ts5, bids5, asks5 = _tardis("tardis_binance-futures_book_snapshot_5_BTCUSDT.csv")[0]
    ts25, bids25, asks25 = _tardis("tardis_binance-futures_book_snapshot_25_BTCUSDT.csv")[0]
    assert ts5 == ts25
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    book.on_snapshot(_snapshot_of(ts25, bids25, asks25))
    prices, sizes = book.depth(BookSide.BID, 5)
    assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == bids5
    prices, sizes = book.depth(BookSide.ASK, 5)
    assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == asks5


def test_tardis_book_as_a_depth_event_record() -> None:
    ts, bids, asks = _tardis("tardis_binance-futures_book_snapshot_25_BTCUSDT.csv")[0]
    book = OrderBook.for_instrument(BTCUSDT_PERP)
    book.on_snapshot(_snapshot_of(ts, bids, asks))
    record = book_depth_record(book, ts_recv=123)[0]
    assert record["bid_levels"] == 10 and record["ask_levels"] == 10
    assert record["bid_price"].tolist() == [p for p, _ in bids[:10]]
    assert record["ask_size"].tolist() == [s for _, s in asks[:10]]
    assert record["ts_event"] == 1598918403696000 * 1000
    assert record["instrument_id"] == 3
