"""Binance depth snapshots and depthUpdate events → book inputs, on the fixture payloads."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from qk.books import (
    BinanceFuturesRules,
    BinanceSpotRules,
    BookInput,
    BookSide,
    BookState,
    OrderBook,
)
from qk.venues.binance.parse import (
    FieldTypeError,
    MissingFieldError,
    SymbolInfo,
    SymbolTable,
    UnknownEventError,
    UnknownSymbolError,
    parse_depth_snapshot,
    parse_depth_update,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
SPOT = SymbolTable({"BNBBTC": SymbolInfo(11, 8, 8), "BTCUSDT": SymbolInfo(1, 8, 8)})
FUTURES = SymbolTable({"BTCUSDT": SymbolInfo(3, 8, 8)})


def _fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def test_spot_rest_snapshot_fixture() -> None:
    snap = parse_depth_snapshot(_fixture("spot_docs_examples/rest_depth.json"), 8, 8)
    assert snap.last_update_id == 1027024
    assert snap.bid_prices.tolist() == [400000000] and snap.bid_sizes.tolist() == [43100000000]
    assert snap.ask_prices.tolist() == [400000200] and snap.ask_sizes.tolist() == [1200000000]
    assert snap.ts_event == 0  # spot snapshots carry no time


def test_futures_rest_snapshot_fixture_takes_transaction_time() -> None:
    snap = parse_depth_snapshot(
        _fixture("nautilus_integration_resources/http_responses/http_futures_market_depth.json"),
        8,
        8,
    )
    assert snap.last_update_id == 1027024
    assert snap.ts_event == 1589436922959 * 1_000_000


def test_recorded_spot_rest_snapshot_builds_a_sorted_uncrossed_book() -> None:
    body = _fixture("nautilus_integration_resources/http_responses/http_spot_market_depth.json")
    raw = orjson.loads(body)
    snap = parse_depth_snapshot(body, 2, 8)
    book = OrderBook(1, BinanceSpotRules(), price_precision=2)
    assert book.on_snapshot(snap) is BookState.SYNCING
    assert book.best_bid() == (6065000, 213000)  # 60650.00 x 0.00213
    assert book.level_count(BookSide.BID) == len(raw["bids"])
    assert book.level_count(BookSide.ASK) == len(raw["asks"])
    assert not book.is_crossed()


def test_spot_depth_update_fixture() -> None:
    instrument_id, diff = parse_depth_update(
        _fixture("spot_docs_examples/ws_depth_update.json"), SPOT
    )
    assert instrument_id == 11
    assert (diff.first_update_id, diff.last_update_id, diff.prev_update_id) == (157, 160, 0)
    assert diff.bid_prices.tolist() == [240000] and diff.bid_sizes.tolist() == [1000000000]
    assert diff.ask_prices.tolist() == [260000] and diff.ask_sizes.tolist() == [10000000000]
    assert diff.ts_event == 1672515782136 * 1_000_000


def test_spot_doc_update_is_stale_against_the_doc_snapshot() -> None:
    # The doc examples do not chain: u=160 <= lastUpdateId=1027024, so the event is dropped.
    book = OrderBook(11, BinanceSpotRules())
    _, diff = parse_depth_update(_fixture("spot_docs_examples/ws_depth_update.json"), SPOT)
    book.on_diff(diff)
    assert (
        book.on_snapshot(parse_depth_snapshot(_fixture("spot_docs_examples/rest_depth.json"), 8, 8))
        is BookState.SYNCING
    )
    assert book.counters.diffs_stale == 1


@pytest.mark.parametrize(
    "path",
    [
        "nautilus_crate_fixtures/futures/market_data_json/depth_update_stream.json",
        "nautilus_integration_resources/ws_messages/ws_futures_depth_diff_update.json",
    ],
)
def test_futures_depth_update_fixture_carries_pu_and_transaction_time(path: str) -> None:
    instrument_id, diff = parse_depth_update(_fixture(path), FUTURES)
    assert instrument_id == 3
    assert (diff.first_update_id, diff.last_update_id, diff.prev_update_id) == (157, 160, 149)
    assert diff.ts_event == 123456788 * 1_000_000  # T, not E


def test_futures_fixture_events_on_a_book() -> None:
    _, first = parse_depth_update(
        _fixture("nautilus_crate_fixtures/futures/market_data_json/depth_update_stream.json"),
        FUTURES,
    )
    _, repeat = parse_depth_update(
        _fixture("nautilus_integration_resources/ws_messages/ws_futures_depth_diff_update.json"),
        FUTURES,
    )
    _, later = parse_depth_update(
        _fixture("nautilus_integration_resources/ws_messages/ws_futures_depth_update.json"), FUTURES
    )
    book = OrderBook(3, BinanceFuturesRules())
    book.on_diff(first)
    # A snapshot at 158 is bridged by U=157 <= 158 <= u=160.
    snap = parse_depth_snapshot(b'{"lastUpdateId":158,"bids":[],"asks":[]}', 8, 8)
    assert book.on_snapshot(snap) is BookState.SYNCED
    assert book.on_diff(repeat) is BookInput.DIFF_STALE  # the same event again
    # pu=390497794 is not 160: a gap.
    assert book.on_diff(later) is BookInput.DIFF_GAP


def test_combined_stream_wrapper_is_unwrapped() -> None:
    data = orjson.loads(_fixture("spot_docs_examples/ws_depth_update.json"))
    message = orjson.dumps({"stream": "bnbbtc@depth", "data": data})
    assert parse_depth_update(message, SPOT)[1].last_update_id == 160


def test_already_decoded_object_is_accepted() -> None:
    data = orjson.loads(_fixture("spot_docs_examples/ws_depth_update.json"))
    assert parse_depth_update(data, SPOT)[0] == 11


def _update(**changes: object) -> bytes:
    body = orjson.loads(_fixture("spot_docs_examples/ws_depth_update.json"))
    for key, value in changes.items():
        if value is None:
            del body[key]
        else:
            body[key] = value
    return orjson.dumps(body)


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"U": None}, MissingFieldError, "missing field 'U'"),
        ({"b": None}, MissingFieldError, "missing field 'b'"),
        ({"u": "160"}, FieldTypeError, "'u' must be an integer"),
        ({"U": 200}, FieldTypeError, "U=200 is after u=160"),
        ({"b": [["0.0024"]]}, FieldTypeError, "'b': level 0: expected"),
        ({"a": [["0.00261", "1"]]}, FieldTypeError, "'a': level 0 price"),
        ({"s": "XRPBTC"}, UnknownSymbolError, "unknown symbol 'XRPBTC'"),
        ({"e": "trade"}, UnknownEventError, "'trade' is not 'depthUpdate'"),
    ],
)
def test_bad_depth_update_is_named(changes: dict[str, object], error: type, match: str) -> None:
    symbols = SymbolTable({"BNBBTC": SymbolInfo(11, 4, 8)})
    with pytest.raises(error, match=match):
        parse_depth_update(_update(**changes), symbols)


def test_bad_snapshot_is_named() -> None:
    with pytest.raises(MissingFieldError, match="lastUpdateId"):
        parse_depth_snapshot(b'{"bids":[],"asks":[]}', 2, 2)
    with pytest.raises(FieldTypeError, match="'bids': level 0 size"):
        parse_depth_snapshot(b'{"lastUpdateId":1,"bids":[["1.00","x"]],"asks":[]}', 2, 2)
