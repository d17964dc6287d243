"""Stream names, the combined wrapper, bookTicker → QuoteEvent and depthUpdate → DepthEvent,
on the fixture payloads."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.schemas.enums import DepthFlag, DepthUpdateKind, RecordType
from qk.venues.binance.parse import (
    FieldTypeError,
    MalformedMessageError,
    MissingFieldError,
    SymbolInfo,
    SymbolTable,
    UnknownSymbolError,
)
from qk.venues.binance.streams import (
    StreamKind,
    StreamNameError,
    StreamRef,
    parse_book_ticker,
    parse_depth_records,
    split_stream_name,
    stream_name,
    unwrap_combined,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
SYMBOLS = SymbolTable(
    {
        "BNBUSDT": SymbolInfo(7, 4, 2),
        "ETHUSDT": SymbolInfo(2, 2, 5),
        "BTCUSDT": SymbolInfo(1, 4, 0),
        "BNBBTC": SymbolInfo(11, 6, 2),
    }
)


def _fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # instrument, bid, bid size, ask, ask size, update id, ts_event (ns)
        (
            "spot_docs_examples/ws_book_ticker.json",
            (7, 253519, 3121, 253652, 4066, 400900217, 555),  # spot: no time → the fallback
        ),
        (
            "nautilus_crate_fixtures/futures/market_data_json/book_ticker_stream.json",
            (7, 253519, 3121, 253652, 4066, 400900217, 1568014460891 * 1_000_000),
        ),
        (
            "nautilus_integration_resources/ws_messages/ws_futures_book_ticker.json",
            (7, 253519, 3121, 253652, 4066, 400900217, 1568014460891 * 1_000_000),
        ),
        (
            "nautilus_integration_resources/ws_messages/ws_spot_ticker_book.json",
            (2, 450724, 235950, 450725, 284570, 12711621188, 1646199228121 * 1_000_000),
        ),
    ],
)
def test_book_ticker_fixture_becomes_a_quote_event(path: str, expected: tuple[int, ...]) -> None:
    record = parse_book_ticker(_fixture(path), SYMBOLS, ts_recv=42, ts_fallback=555, source=3)
    row = record[0]
    assert row["type"] == RecordType.QUOTE_EVENT and row["source"] == 3
    got = (
        row["instrument_id"],
        row["bid_price"],
        row["bid_size"],
        row["ask_price"],
        row["ask_size"],
        row["venue_update_id"],
        row["ts_event"],
    )
    assert tuple(int(v) for v in got) == expected
    assert row["ts_recv"] == 42


def test_book_ticker_errors_name_the_field() -> None:
    good = orjson.loads(_fixture("spot_docs_examples/ws_book_ticker.json"))
    with pytest.raises(MissingFieldError, match="'A'"):
        parse_book_ticker({k: v for k, v in good.items() if k != "A"}, SYMBOLS, 0)
    with pytest.raises(FieldTypeError, match="'b'"):
        parse_book_ticker({**good, "b": 25.3}, SYMBOLS, 0)
    with pytest.raises(FieldTypeError, match="'u'"):
        parse_book_ticker({**good, "u": -1}, SYMBOLS, 0)
    with pytest.raises(FieldTypeError, match=r"'B'.*negative"):
        parse_book_ticker({**good, "B": "-1"}, SYMBOLS, 0)
    with pytest.raises(UnknownSymbolError, match="XRPUSDT"):
        parse_book_ticker({**good, "s": "XRPUSDT"}, SYMBOLS, 0)
    with pytest.raises(FieldTypeError, match="'bookTicker'"):
        parse_book_ticker({**good, "e": "trade"}, SYMBOLS, 0)
    with pytest.raises(FieldTypeError, match="'b'"):
        parse_book_ticker({**good, "b": "25.351900001"}, SYMBOLS, 0)  # more decimals than 4
    with pytest.raises(MalformedMessageError, match="not valid JSON"):
        parse_book_ticker(b"{nope", SYMBOLS, 0)
    with pytest.raises(MalformedMessageError, match="'data'"):
        parse_book_ticker({"stream": "bnbusdt@bookTicker", "data": [1]}, SYMBOLS, 0)


def test_depth_update_becomes_diff_records() -> None:
    message = _fixture("nautilus_crate_fixtures/futures/market_data_json/depth_update_stream.json")
    instrument, diff, records = parse_depth_records(message, SYMBOLS, ts_recv=9)
    assert instrument == 1
    assert (diff.first_update_id, diff.last_update_id, diff.prev_update_id) == (157, 160, 149)
    assert len(records) == 1
    row = records[0]
    assert row["update_kind"] == DepthUpdateKind.DIFF and row["flags"] == DepthFlag.LAST
    assert (row["first_update_id"], row["last_update_id"], row["prev_update_id"]) == (157, 160, 149)
    assert (row["bid_levels"], row["ask_levels"]) == (1, 1)
    assert (row["bid_price"][0], row["bid_size"][0]) == (24, 10)
    assert (row["ask_price"][0], row["ask_size"][0]) == (26, 100)
    assert row["ts_event"] == 123456788 * 1_000_000 and row["ts_recv"] == 9


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("btcusdt@trade", StreamRef("BTCUSDT", StreamKind.TRADE)),
        ("ethusdt@aggTrade", StreamRef("ETHUSDT", StreamKind.AGG_TRADE)),
        ("bnbusdt@bookTicker", StreamRef("BNBUSDT", StreamKind.BOOK_TICKER)),
        ("btcusdt@depth", StreamRef("BTCUSDT", StreamKind.DEPTH)),
        ("btcusdt@depth@100ms", StreamRef("BTCUSDT", StreamKind.DEPTH_100MS)),
    ],
)
def test_stream_names_parse(name: str, expected: StreamRef) -> None:
    assert split_stream_name(name) == expected
    assert expected.name == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("btcusdt", "'<symbol>@<kind>'"),
        ("@trade", "'<symbol>@<kind>'"),
        ("BTCUSDT@trade", "lowercase"),
        ("btcusdt@kline_1m", "unknown stream kind"),
        ("btcusdt@depth@250ms", "unknown stream kind"),
    ],
)
def test_bad_stream_names_are_refused(name: str, fragment: str) -> None:
    with pytest.raises(StreamNameError, match=fragment):
        split_stream_name(name)


@given(
    symbol=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20),
    kind=st.sampled_from(list(StreamKind)),
)
def test_stream_name_round_trip(symbol: str, kind: StreamKind) -> None:
    ref = split_stream_name(stream_name(symbol.upper(), kind))
    assert ref == StreamRef(symbol.upper(), kind)


def test_unwrap_combined() -> None:
    wrapped = orjson.loads(
        _fixture("nautilus_integration_resources/ws_messages/ws_spot_ticker_book.json")
    )
    stream, data = unwrap_combined(wrapped)
    assert stream == "ethusdt@bookTicker" and data["s"] == "ETHUSDT"
    raw = orjson.loads(_fixture("spot_docs_examples/ws_book_ticker.json"))
    assert unwrap_combined(raw) == (None, raw)
    shutdown = orjson.loads(_fixture("spot_docs_examples/ws_server_shutdown_combined.json"))
    assert unwrap_combined(shutdown) == (
        "!serverShutdown",
        orjson.loads(_fixture("spot_docs_examples/ws_server_shutdown_raw.json")),
    )
    with pytest.raises(MalformedMessageError, match="'stream'"):
        unwrap_combined({"stream": 5, "data": {}})
    with pytest.raises(MalformedMessageError, match="object"):
        unwrap_combined([1, 2])


@given(
    bid=st.integers(0, 10**12),
    ask=st.integers(0, 10**12),
    bid_size=st.integers(0, 10**12),
    ask_size=st.integers(0, 10**12),
    update_id=st.integers(0, 2**63),
)
def test_book_ticker_values_round_trip(
    bid: int, ask: int, bid_size: int, ask_size: int, update_id: int
) -> None:
    def text(raw: int, decimals: int) -> str:
        return f"{raw // 10**decimals}.{raw % 10**decimals:0{decimals}d}0000"

    message = {
        "u": update_id,
        "s": "ETHUSDT",
        "b": text(bid, 2),
        "B": text(bid_size, 5),
        "a": text(ask, 2),
        "A": text(ask_size, 5),
    }
    row = parse_book_ticker(orjson.dumps(message), SYMBOLS, 1, ts_fallback=2)[0]
    assert (row["bid_price"], row["bid_size"], row["ask_price"], row["ask_size"]) == (
        bid,
        bid_size,
        ask,
        ask_size,
    )
    assert row["venue_update_id"] == update_id and row["ts_event"] == 2
