"""Binance trade and aggTrade JSON → TradeEvent records, on the fixture payloads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.schemas.enums import AggressorSide, RecordType
from qk.schemas.fixed import to_raw
from qk.schemas.records import dtype_of
from qk.venues.binance.parse import (
    BinanceMessageError,
    FieldTypeError,
    MalformedMessageError,
    MissingFieldError,
    SymbolInfo,
    SymbolTable,
    UnknownEventError,
    UnknownSymbolError,
    parse_trade,
    parse_trades,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
SYMBOLS = SymbolTable(
    {
        "BNBBTC": SymbolInfo(11, 6, 2),
        "ETHUSDT": SymbolInfo(2, 2, 5),
        "BTCUSDT": SymbolInfo(1, 3, 2),
    }
)
TRADE = b'{"e":"trade","E":1,"s":"ETHUSDT","t":7,"p":"4149.74","q":"0.4387","T":1639351062243,"m":true,"M":true}'


def _fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # (instrument, aggressor, price raw, quantity raw, venue trade id, ts_event ns)
        (
            "spot_docs_examples/ws_trade.json",
            (11, AggressorSide.SELLER, 1000, 10000, 12345, 1672515782136),
        ),
        (
            "spot_docs_examples/ws_agg_trade.json",
            (11, AggressorSide.SELLER, 1000, 10000, 12345, 1672515782136),
        ),
        (
            "nautilus_integration_resources/ws_messages/ws_spot_trade.json",
            (2, AggressorSide.SELLER, 414974, 43870, 705291099, 1639351062243),
        ),
        (
            "nautilus_integration_resources/ws_messages/ws_spot_agg_trade.json",
            (2, AggressorSide.BUYER, 163246, 34305, 226532, 1675759520847),
        ),
        (
            "nautilus_crate_fixtures/futures/market_data_json/trade_stream.json",
            (1, AggressorSide.SELLER, 1, 10000, 5933014, 123456785),
        ),
        (
            "nautilus_crate_fixtures/futures/market_data_json/agg_trade_stream.json",
            (1, AggressorSide.SELLER, 1, 10000, 5933014, 123456785),
        ),
    ],
)
def test_fixture_payload_becomes_a_trade_event(path: str, expected: tuple[int, ...]) -> None:
    record = parse_trade(_fixture(path), SYMBOLS, ts_recv=42, source=5)
    assert record.dtype == dtype_of("TradeEvent")
    row = record[0]
    instrument, aggressor, price, quantity, trade_id, trade_time_ms = expected
    assert row["type"] == RecordType.TRADE_EVENT and row["source"] == 5
    assert row["instrument_id"] == instrument
    assert row["aggressor"] == aggressor
    assert (row["price"], row["quantity"]) == (price, quantity)
    assert row["venue_trade_id"] == trade_id
    assert row["ts_event"] == trade_time_ms * 1_000_000  # T, not E
    assert row["ts_recv"] == 42


def test_batch_of_mixed_messages_is_one_array_in_order() -> None:
    messages = [
        _fixture("nautilus_integration_resources/ws_messages/ws_spot_trade.json"),
        _fixture("nautilus_integration_resources/ws_messages/ws_spot_agg_trade.json"),
        TRADE.decode(),  # str works as well as bytes
    ]
    records = parse_trades(messages, SYMBOLS, np.array([10, 20, 30]))
    assert records["venue_trade_id"].tolist() == [705291099, 226532, 7]
    assert records["ts_recv"].tolist() == [10, 20, 30]
    assert records["aggressor"].tolist() == [
        AggressorSide.SELLER,
        AggressorSide.BUYER,
        AggressorSide.SELLER,
    ]


def test_empty_batch() -> None:
    assert len(parse_trades([], SYMBOLS, 0)) == 0


def _without(key: str) -> bytes:
    body = orjson.loads(TRADE)
    del body[key]
    return orjson.dumps(body)


def _with(key: str, value: object) -> bytes:
    body = orjson.loads(TRADE)
    body[key] = value
    return orjson.dumps(body)


@pytest.mark.parametrize("key", ["e", "s", "t", "p", "q", "T", "m"])
def test_missing_field_is_named(key: str) -> None:
    with pytest.raises(MissingFieldError, match=f"message #1: missing field '{key}'"):
        parse_trades([TRADE, _without(key)], SYMBOLS, 0)


def test_missing_agg_trade_ids_are_named() -> None:
    agg = orjson.loads(_fixture("spot_docs_examples/ws_agg_trade.json"))
    for key in ("a", "f", "l"):
        body = dict(agg)
        del body[key]
        with pytest.raises(MissingFieldError, match=f"missing field '{key}'"):
            parse_trade(orjson.dumps(body), SYMBOLS, 0)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("p", 4149.74, "'p' must be a string"),
        ("q", None, "'q' must be a string"),
        ("T", "1639351062243", "'T' must be an integer"),
        ("t", True, "'t' must be an integer"),
        ("m", "true", "'m' must be a boolean"),
        ("s", 5, "'s' must be a string"),
        ("p", "4149.745", "'p'.*more than 2 significant decimal"),
        ("p", "1e3", "'p'.*not a plain decimal"),
        ("q", "0", "must be > 0"),
        ("t", -1, "'t' = -1 is not a valid id"),
        ("T", 2**62, "not a valid ms timestamp"),
    ],
)
def test_wrong_type_or_value_is_named(key: str, value: object, match: str) -> None:
    with pytest.raises(FieldTypeError, match=match):
        parse_trade(_with(key, value), SYMBOLS, 0)


def test_unknown_symbol() -> None:
    with pytest.raises(UnknownSymbolError, match="unknown symbol 'DOGEUSDT'"):
        parse_trade(_with("s", "DOGEUSDT"), SYMBOLS, 0)


def test_unknown_event_type() -> None:
    with pytest.raises(UnknownEventError, match="'kline'"):
        parse_trade(_with("e", "kline"), SYMBOLS, 0)


@pytest.mark.parametrize(
    "message",
    [b"{not json", b"[1, 2]", b'{"stream":"ethusdt@trade","data":[1]}'],
)
def test_malformed_message(message: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        parse_trade(message, SYMBOLS, 0)


def test_all_errors_are_binance_message_errors_and_value_errors() -> None:
    assert issubclass(UnknownSymbolError, BinanceMessageError)
    assert issubclass(BinanceMessageError, ValueError)


def test_symbol_table_from_instruments_keeps_one_venue() -> None:
    from qk.instruments import Instrument
    from qk.schemas.enums import AssetClass, InstrumentKind, Venue

    spot = Instrument(
        instrument_id=1, venue=Venue.BINANCE, symbol="BTCUSDT", asset_class=AssetClass.CRYPTO,
        kind=InstrumentKind.SPOT, tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"),
        price_precision=2, size_precision=5, currency="USDT",
    )  # fmt: skip
    perp = Instrument(
        instrument_id=3, venue=Venue.BINANCE_USDM, symbol="BTCUSDT", asset_class=AssetClass.CRYPTO,
        kind=InstrumentKind.PERPETUAL, tick_size=Decimal("0.1"), lot_size=Decimal("0.001"),
        price_precision=1, size_precision=3, currency="USDT",
    )  # fmt: skip
    table = SymbolTable.from_instruments([spot, perp], Venue.BINANCE_USDM)
    assert table["BTCUSDT"] == SymbolInfo(3, 1, 3)
    assert len(table) == 1


@given(
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
    quantity=st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("9000"), places=5),
    trade_id=st.integers(0, 2**63 - 1),
    trade_time=st.integers(0, 4_102_444_800_000),
    maker=st.booleans(),
    trailing_zeros=st.integers(0, 6),
)
def test_decoded_fields_equal_an_exact_decimal_reference(
    price: Decimal,
    quantity: Decimal,
    trade_id: int,
    trade_time: int,
    maker: bool,
    trailing_zeros: int,
) -> None:
    pad = "0" * trailing_zeros
    body = {
        "e": "trade", "E": trade_time, "s": "ETHUSDT", "t": trade_id, "p": f"{price:f}{pad}",
        "q": f"{quantity:f}{pad}", "T": trade_time, "m": maker, "M": True,
    }  # fmt: skip
    row = parse_trade(orjson.dumps({"stream": "ethusdt@trade", "data": body}), SYMBOLS, 1)[0]
    assert row["price"] == to_raw(price, 2)
    assert row["quantity"] == to_raw(quantity, 5)
    assert row["venue_trade_id"] == trade_id
    assert row["ts_event"] == trade_time * 1_000_000
    assert row["aggressor"] == (AggressorSide.SELLER if maker else AggressorSide.BUYER)
