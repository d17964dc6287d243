"""DepthEvent records: top-of-book snapshots of a book, and venue diffs split into records."""

from __future__ import annotations

import numpy as np

from qk.books import (
    DEPTH_EVENT_LEVELS,
    BinanceFuturesRules,
    OrderBook,
    book_depth_record,
    diff_depth_records,
    write_book_depth,
)
from qk.schemas.enums import DepthFlag, DepthUpdateKind, RecordType
from qk.schemas.records import dtype_of, new_records
from tests.books.conftest import diff, snapshot


def test_book_depth_record_holds_the_top_ten_best_first_with_ids() -> None:
    book = OrderBook(7, BinanceFuturesRules())
    bids = [(1000 - i, i + 1) for i in range(15)]
    asks = [(1001 + i, i + 1) for i in range(3)]
    book.on_snapshot(snapshot(100, bids, asks))
    book.on_diff(diff(95, 120, prev=90, asks=[(1001, 0)]))
    record = book_depth_record(book, ts_recv=555, seq=9, source=4)
    assert record.dtype == dtype_of("DepthEvent")
    row = record[0]
    assert row["type"] == RecordType.DEPTH_EVENT
    assert row["source"] == 4 and row["seq"] == 9 and row["ts_recv"] == 555
    assert row["instrument_id"] == 7
    assert row["update_kind"] == DepthUpdateKind.SNAPSHOT
    assert row["flags"] == DepthFlag.LAST
    assert (row["first_update_id"], row["last_update_id"], row["prev_update_id"]) == (95, 120, 90)
    assert row["bid_levels"] == DEPTH_EVENT_LEVELS
    assert row["bid_price"].tolist() == [1000 - i for i in range(10)]
    assert row["ask_levels"] == 2
    assert row["ask_price"].tolist() == [1002, 1003] + [0] * 8
    assert row["ask_size"].tolist() == [2, 3] + [0] * 8


def test_write_book_depth_overwrites_stale_levels_in_a_reused_record() -> None:
    book = OrderBook(1, BinanceFuturesRules())
    out = new_records("DepthEvent", 2)
    out["bid_price"] = 99
    out["bid_size"] = 99
    book.on_snapshot(snapshot(5, [(10, 1)], [(11, 2)]))
    write_book_depth(book, out, 1, ts_recv=1)
    assert out[1]["bid_price"].tolist() == [10] + [0] * 9
    assert out[1]["bid_size"].tolist() == [1] + [0] * 9
    assert out[0]["bid_price"].tolist() == [99] * 10  # the other record is untouched


def test_diff_spans_records_of_ten_levels_with_last_flag_on_the_last() -> None:
    bids = [(100 - i, i) for i in range(23)]
    asks = [(200 + i, i) for i in range(4)]
    event = diff(10, 20, prev=9, bids=bids, asks=asks)
    records = diff_depth_records(event, 3, ts_recv=77)
    assert len(records) == 3
    assert (records["update_kind"] == DepthUpdateKind.DIFF).all()
    assert records["flags"].tolist() == [0, 0, int(DepthFlag.LAST)]
    assert records["bid_levels"].tolist() == [10, 10, 3]
    assert records["ask_levels"].tolist() == [4, 0, 0]
    assert (records["first_update_id"] == 10).all() and (records["prev_update_id"] == 9).all()
    joined = records["bid_price"].reshape(-1)[:23]
    assert joined.tolist() == [p for p, _ in bids]
    assert np.count_nonzero(records["bid_price"].reshape(-1)[23:]) == 0


def test_empty_diff_still_yields_one_record() -> None:
    records = diff_depth_records(diff(1, 2), 1, ts_recv=0)
    assert len(records) == 1
    assert records[0]["flags"] == DepthFlag.LAST
    assert records[0]["bid_levels"] == 0 and records[0]["ask_levels"] == 0
