"""Every exchangeInfo filter the mock enforces rejects an order that breaks it, with Binance's code."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from qk.venues.binance.mock.data import load_exchange_info
from qk.venues.binance.mock.errors import BinanceApiError
from qk.venues.binance.mock.rules import SymbolRules, rules_from_exchange_info
from qk.venues.binance.mock.server import MockBinanceServer
from tests.venues.binance.mock.conftest import FIXTURES, now_ms

SPOT_LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
FUT_LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


def _spot_rejection(client: Client, **params: Any) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        client.create_order(**params)
    return info.value.code, info.value.message


def _futures_rejection(client: Client, **params: Any) -> tuple[int, str]:
    with pytest.raises(BinanceAPIException) as info:
        client.futures_create_order(**params)
    return info.value.code, info.value.message


@pytest.mark.parametrize(
    ("price", "quantity", "expected"),
    [
        ("39000.005", "0.01", (-1013, "Filter failure: PRICE_FILTER")),  # off the 0.01 tick
        ("0.001", "0.01", (-1013, "Filter failure: PRICE_FILTER")),  # below minPrice 0.01
        ("2000000.00", "0.01", (-1013, "Filter failure: PRICE_FILTER")),  # above maxPrice
        ("39000.00", "0.000015", (-1013, "Filter failure: LOT_SIZE")),  # off the 0.00001 step
        ("39000.00", "0.000001", (-1013, "Filter failure: LOT_SIZE")),  # below minQty
        ("39000.00", "9001", (-1013, "Filter failure: LOT_SIZE")),  # above maxQty
        ("39000.00", "0.0002", (-1013, "Filter failure: MIN_NOTIONAL")),  # 7.8 < 10 USDT
        ("39000.123456789", "0.01", (-1111, "Parameter 'price' has too much precision.")),
    ],
)
def test_spot_filters_reject(
    client: Client, price: str, quantity: str, expected: tuple[int, str]
) -> None:
    assert _spot_rejection(client, **SPOT_LIMIT, price=price, quantity=quantity) == expected


def test_spot_market_lot_size_applies_to_market_orders(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "500", now_ms())
    code_msg = _spot_rejection(
        client, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="112.3"
    )
    assert code_msg == (-1013, "Filter failure: MARKET_LOT_SIZE")


def test_spot_min_notional_applies_to_market_orders_at_the_last_price(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    code_msg = _spot_rejection(
        client, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.0002"
    )
    assert code_msg == (-1013, "Filter failure: MIN_NOTIONAL")


def test_spot_limit_maker_that_would_take_is_rejected(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    code_msg = _spot_rejection(
        client, symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER", quantity="0.01", price="40000.00"
    )
    assert code_msg == (-2010, "Order would immediately match and take.")


def test_spot_order_type_the_symbol_lacks_is_rejected(client: Client) -> None:
    code_msg = _spot_rejection(
        client, symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="30000"
    )
    assert code_msg == (-2010, "Stop loss orders are not supported for this symbol.")


def test_spot_bad_enums(client: Client) -> None:
    assert (
        _spot_rejection(
            client,
            symbol="BTCUSDT",
            side="HOLD",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="39000",
        )[0]
        == -1117
    )
    assert (
        _spot_rejection(client, symbol="BTCUSDT", side="BUY", type="ICEBERG", quantity="0.01")[0]
        == -1116
    )
    assert (
        _spot_rejection(
            client,
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTD",
            quantity="0.01",
            price="39000",
        )[0]
        == -1115
    )


@pytest.mark.parametrize(
    ("price", "quantity", "expected_code"),
    [
        ("39000.05", "0.010", -4014),  # off the 0.10 tick
        ("401", "0.010", -4013),  # below minPrice 402
        ("39000.0", "0.0005", -1111),  # more decimals than quantityPrecision 3
        ("39000.0", "1001", -4005),  # above maxQty
        ("1000.0", "0.005", -4164),  # notional 5 < 10
    ],
)
def test_futures_filters_reject(
    client: Client, price: str, quantity: str, expected_code: int
) -> None:
    code, _msg = _futures_rejection(client, **FUT_LIMIT, price=price, quantity=quantity)
    assert code == expected_code


def test_futures_min_notional_message_names_the_notional_key_value(client: Client) -> None:
    code, msg = _futures_rejection(client, **FUT_LIMIT, price="1000.0", quantity="0.005")
    assert (code, msg) == (
        -4164,
        "Order's notional must be no smaller than 10 (unless you choose reduce only).",
    )


def test_futures_post_only_that_would_take_is_rejected(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    code, _ = _futures_rejection(
        client,
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTX",
        quantity="0.010",
        price="40100.0",
    )
    assert code == -5022


def test_futures_margin_is_checked(client: Client) -> None:
    code, _ = _futures_rejection(client, **FUT_LIMIT, price="40000.0", quantity="999")
    assert code == -2019


def test_spot_rules_read_legacy_min_notional_and_current_notional() -> None:
    spot, futures = load_exchange_info(FIXTURES)
    btc = rules_from_exchange_info("spot", spot)["BTCUSDT"]
    with pytest.raises(BinanceApiError) as info:
        btc.check_notional(Decimal("9.99"), is_market=False)
    assert info.value.msg == "Filter failure: MIN_NOTIONAL"
    entry = dict(btc.raw)
    entry["filters"] = [
        {
            "filterType": "NOTIONAL",
            "minNotional": "5",
            "applyMinToMarket": False,
            "maxNotional": "100",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    ]
    current = SymbolRules.from_exchange_info("spot", entry)
    current.check_notional(Decimal("1"), is_market=True)  # applyMinToMarket false
    with pytest.raises(BinanceApiError) as info:
        current.check_notional(Decimal("101"), is_market=False)
    assert info.value.msg == "Filter failure: NOTIONAL"
    fut = rules_from_exchange_info("futures", futures)["BTCUSDT"]
    fut.check_notional(Decimal("5"), is_market=False, reduce_only=True)  # reduce-only is exempt


def test_exchange_info_entry_missing_a_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"'ETHBTC'.*'baseAssetPrecision'"):
        SymbolRules.from_exchange_info("spot", {"symbol": "ETHBTC", "status": "TRADING"})


def test_spot_market_by_quote_quantity_and_tif_not_required(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    bought = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="100")
    assert (bought["executedQty"], bought["cummulativeQuoteQty"]) == ("0.00250000", "100.00000000")
    code, msg = _spot_rejection(
        client, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", timeInForce="GTC"
    )
    assert (code, msg) == (-1106, "Parameter 'timeInForce' sent when not required.")
