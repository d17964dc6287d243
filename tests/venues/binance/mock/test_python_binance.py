"""python-binance, unchanged, places, queries and cancels spot and futures orders on the mock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from qk.venues.binance.mock.server import MockBinanceServer
from tests.venues.binance.mock.conftest import fixture, now_ms


def _keys(relative: str) -> set[str]:
    doc = fixture(relative)
    return set(doc[0] if isinstance(doc, list) else doc)


def test_ping_time_and_exchange_info(client: Client) -> None:
    assert client.ping() == {}
    assert abs(client.get_server_time()["serverTime"] - now_ms()) < 60_000
    info = client.get_exchange_info()
    symbols = {s["symbol"] for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "ETHBTC"} <= symbols
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert {f["filterType"] for f in btc["filters"]} >= {"PRICE_FILTER", "LOT_SIZE", "MIN_NOTIONAL"}
    futures = client.futures_exchange_info()
    fbtc = next(s for s in futures["symbols"] if s["symbol"] == "BTCUSDT")
    assert next(f for f in fbtc["filters"] if f["filterType"] == "MIN_NOTIONAL")["notional"] == "10"


def test_spot_limit_order_place_query_cancel(client: Client, server: MockBinanceServer) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    placed = client.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="39000.00",
    )
    assert set(placed) == _keys("spot_docs_examples/rest_new_order_full.json")
    assert placed["status"] == "NEW" and placed["fills"] == []
    by_id = client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])
    by_client = client.get_order(symbol="BTCUSDT", origClientOrderId=placed["clientOrderId"])
    assert by_id == by_client
    assert set(by_id) == _keys("spot_docs_examples/rest_query_order.json")
    assert [o["orderId"] for o in client.get_open_orders(symbol="BTCUSDT")] == [placed["orderId"]]
    canceled = client.cancel_order(symbol="BTCUSDT", origClientOrderId=placed["clientOrderId"])
    assert set(canceled) == _keys("spot_docs_examples/rest_cancel_order.json")
    assert canceled["status"] == "CANCELED"
    assert canceled["origClientOrderId"] == placed["clientOrderId"]
    assert client.get_open_orders(symbol="BTCUSDT") == []
    usdt = next(b for b in client.get_account()["balances"] if b["asset"] == "USDT")
    assert usdt == {"asset": "USDT", "free": "100000.00000000", "locked": "0.00000000"}


def test_spot_market_order_full_response_has_fills_and_balances_move(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    result = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert result["status"] == "FILLED"
    assert result["fills"] == [
        {
            "price": "40000.00000000",
            "qty": "0.01000000",
            "commission": "0.00001000",
            "commissionAsset": "BTC",
            "tradeId": 1,
        }
    ]
    assert set(result["fills"][0]) == set(
        fixture("spot_docs_examples/rest_new_order_full.json")["fills"][0]
    )
    balances = {b["asset"]: b for b in client.get_account()["balances"]}
    assert balances["USDT"]["free"] == "99600.00000000"
    assert balances["BTC"]["free"] == "10.00999000"
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert set(trades[0]) == _keys("spot_docs_examples/rest_my_trades.json")
    assert trades[0]["isBuyer"] is True and trades[0]["isMaker"] is False


@pytest.mark.parametrize(
    ("resp_type", "fixture_name"),
    [
        ("ACK", "rest_new_order_ack.json"),
        ("RESULT", "rest_new_order_result.json"),
        ("FULL", "rest_new_order_full.json"),
    ],
)
def test_new_order_resp_types_match_fixture_keys(
    client: Client, server: MockBinanceServer, resp_type: str, fixture_name: str
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    result = client.create_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001", newOrderRespType=resp_type
    )
    assert set(result) == _keys(f"spot_docs_examples/{fixture_name}")


def test_stop_orders_default_to_ack(client: Client, server: MockBinanceServer) -> None:
    server.push_trade("ETHBTC", "0.05", "10", now_ms())
    result = client.create_order(
        symbol="ETHBTC", side="SELL", type="STOP_LOSS", quantity="1", stopPrice="0.04"
    )
    assert set(result) == _keys("spot_docs_examples/rest_new_order_ack.json")
    query = client.get_order(symbol="ETHBTC", orderId=result["orderId"])
    assert query["isWorking"] is False and query["status"] == "NEW"


def test_cancel_replace_swaps_the_order(client: Client, server: MockBinanceServer) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    first = client.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="39000.00",
    )
    result = client.cancel_replace_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="39100.00",
        cancelReplaceMode="STOP_ON_FAILURE",
        cancelOrderId=first["orderId"],
    )
    assert result["cancelResult"] == "SUCCESS" and result["newOrderResult"] == "SUCCESS"
    assert result["cancelResponse"]["status"] == "CANCELED"
    open_orders = client.get_open_orders(symbol="BTCUSDT")
    assert [o["price"] for o in open_orders] == ["39100.00000000"]


def test_cancel_replace_of_unknown_order_stops(client: Client) -> None:
    with pytest.raises(BinanceAPIException) as info:
        client.cancel_replace_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="39100.00",
            cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrderId=777,
        )
    assert info.value.code == -2022
    assert client.get_open_orders(symbol="BTCUSDT") == []


def test_duplicate_client_order_id_is_rejected(client: Client) -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "39000.00",
        "newClientOrderId": "same-id",
    }
    client.create_order(**params)
    with pytest.raises(BinanceAPIException) as info:
        client.create_order(**params)
    assert (info.value.code, info.value.message) == (-2010, "Duplicate order sent.")


def test_insufficient_balance_is_2010(client: Client) -> None:
    with pytest.raises(BinanceAPIException) as info:
        client.create_order(
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="11",
            price="39000.00",
        )
    assert info.value.code == -2010
    assert info.value.message == "Account has insufficient balance for requested action."


def test_futures_market_order_place_query_and_position(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    placed = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    assert set(placed) >= _keys("nautilus_crate_fixtures/futures/http_json/order_response.json")
    assert placed["status"] == "NEW"  # ACK is the futures default: the state at acceptance
    queried = client.futures_get_order(symbol="BTCUSDT", origClientOrderId=placed["clientOrderId"])
    assert queried["status"] == "FILLED" and queried["avgPrice"] == "40000.00"
    risk = client.futures_position_information(symbol="BTCUSDT")
    assert set(risk[0]) == _keys("nautilus_crate_fixtures/futures/http_json/position_risk.json")
    assert risk[0]["positionAmt"] == "0.010" and risk[0]["entryPrice"] == "40000.00"
    trades = client.futures_account_trades(symbol="BTCUSDT")
    assert set(trades[0]) == _keys(
        "nautilus_integration_resources/http_responses/http_futures_account_trades.json"
    )
    assert trades[0]["commission"] == "0.16000000"  # 400 USDT notional x 4 bps taker
    account = client.futures_account()
    assert set(account) == _keys("nautilus_crate_fixtures/futures/http_json/account_info_v2.json")
    assert Decimal(account["totalWalletBalance"]) == Decimal("99999.84")
    assert set(client.futures_account_balance()[0]) == _keys(
        "nautilus_crate_fixtures/futures/http_json/balance.json"
    )


def test_futures_limit_order_cancel(client: Client) -> None:
    placed = client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="45000.0",
    )
    assert [o["orderId"] for o in client.futures_get_open_orders(symbol="BTCUSDT")] == [
        placed["orderId"]
    ]
    canceled = client.futures_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
    assert canceled["status"] == "CANCELED"
    with pytest.raises(BinanceAPIException) as info:
        client.futures_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
    assert info.value.code == -2011


def test_futures_settings_leverage_margin_type_position_mode(client: Client) -> None:
    assert client.futures_change_leverage(symbol="BTCUSDT", leverage=10)["leverage"] == 10
    assert client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED") == {
        "code": 200,
        "msg": "success",
    }
    with pytest.raises(BinanceAPIException) as info:
        client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
    assert info.value.code == -4046
    assert client.futures_get_position_mode() == {"dualSidePosition": False}
    client.futures_change_position_mode(dualSidePosition="true")
    assert client.futures_get_position_mode() == {"dualSidePosition": True}
    with pytest.raises(BinanceAPIException) as info:
        client.futures_change_position_mode(dualSidePosition="true")
    assert info.value.code == -4059
    with pytest.raises(BinanceAPIException) as info:
        client.futures_create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.010",
            price="39000.0",
        )
    assert info.value.code == -4061  # hedge mode needs positionSide
    hedged = client.futures_create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="39000.0",
        positionSide="LONG",
    )
    assert hedged["positionSide"] == "LONG"


def test_futures_reduce_only_needs_a_position(client: Client, server: MockBinanceServer) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    with pytest.raises(BinanceAPIException) as info:
        client.futures_create_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true"
        )
    assert info.value.code == -2022
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="41000.0",
        reduceOnly="true",
    )
    server.push_trade("BTCUSDT", "41000.1", "1", now_ms())
    assert client.futures_position_information(symbol="BTCUSDT")[0]["positionAmt"] == "0.000"
    pnl = [t["realizedPnl"] for t in client.futures_account_trades(symbol="BTCUSDT")]
    assert pnl == ["0.00000000", "10.00000000"]


def test_futures_conditional_order_goes_to_algo_endpoint(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    algo = client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_MARKET",
        stopPrice="39000.0",
        quantity="0.010",
        reduceOnly="true",
    )
    assert set(algo) >= _keys("nautilus_crate_fixtures/futures/http_json/open_algo_orders.json")
    assert algo["algoStatus"] == "NEW" and algo["triggerPrice"] == "39000.00"
    assert [o["algoId"] for o in client.futures_get_open_algo_orders(symbol="BTCUSDT")] == [
        algo["algoId"]
    ]
    server.push_trade("BTCUSDT", "38990.0", "1", now_ms())
    done = client.futures_get_algo_order(symbol="BTCUSDT", algoId=algo["algoId"])
    assert done["algoStatus"] == "FINISHED"
    assert client.futures_position_information(symbol="BTCUSDT")[0]["positionAmt"] == "0.000"


def test_futures_order_endpoint_refuses_conditional_types(server: MockBinanceServer) -> None:
    from tests.venues.binance.mock.conftest import signed

    resp = signed(
        server,
        "POST",
        "/fapi/v1/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "STOP_MARKET",
            "quantity": "0.010",
            "stopPrice": "41000",
            "timestamp": now_ms(),
        },
    )
    assert resp.json()["code"] == -4120


def test_futures_algo_cancel(client: Client, server: MockBinanceServer) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    algo = client.futures_create_algo_order(
        symbol="BTCUSDT",
        side="BUY",
        type="TAKE_PROFIT",
        triggerPrice="39000.0",
        price="39000.0",
        quantity="0.010",
        clientAlgoId="tp-1",
    )
    result = client.futures_cancel_algo_order(symbol="BTCUSDT", clientAlgoId="tp-1")
    assert result == {
        "algoId": algo["algoId"],
        "clientAlgoId": "tp-1",
        "code": "200",
        "msg": "success",
    }
    assert client.futures_get_open_algo_orders(symbol="BTCUSDT") == []


def test_stop_that_would_trigger_immediately_is_rejected(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    with pytest.raises(BinanceAPIException) as info:
        client.futures_create_algo_order(
            symbol="BTCUSDT",
            side="SELL",
            type="STOP_MARKET",
            triggerPrice="41000.0",
            quantity="0.010",
        )
    assert info.value.code == -2021
    server.push_trade("ETHBTC", "0.05", "10", now_ms())
    with pytest.raises(BinanceAPIException) as info:
        client.create_order(
            symbol="ETHBTC", side="SELL", type="STOP_LOSS", quantity="1", stopPrice="0.06"
        )
    assert (info.value.code, info.value.message) == (-2010, "Order would trigger immediately.")


def test_triggered_algo_order_is_queryable_as_an_order(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    algo = client.futures_create_algo_order(
        symbol="BTCUSDT",
        side="BUY",
        type="STOP",
        triggerPrice="40100.0",
        price="40300.0",
        quantity="0.010",
    )
    server.push_trade("BTCUSDT", "40200.0", "0.004", now_ms())  # triggers; the limit takes 0.004
    assert (
        client.futures_get_algo_order(symbol="BTCUSDT", algoId=algo["algoId"])["algoStatus"]
        == "TRIGGERED"
    )
    working = client.futures_get_open_orders(symbol="BTCUSDT")
    assert [(o["origType"], o["type"], o["executedQty"]) for o in working] == [
        ("STOP", "LIMIT", "0.004")
    ]
    # the rest of the BUY limit fills as a maker when a later print is below its price
    server.push_trade("BTCUSDT", "40250.0", "1", now_ms())
    done = client.futures_get_order(symbol="BTCUSDT", orderId=working[0]["orderId"])
    assert (done["status"], done["avgPrice"]) == (
        "FILLED",
        "40260.00",
    )  # 0.004 @ 40200, 0.006 @ 40300


def test_spot_stop_loss_limit_rests_until_triggered(
    client: Client, server: MockBinanceServer
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    placed = client.create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="39000.00",
        stopPrice="39500.00",
    )
    assert client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])["isWorking"] is False
    server.push_trade("BTCUSDT", "39400.00", "1", now_ms())
    filled = client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])
    assert (filled["status"], filled["isWorking"], filled["cummulativeQuoteQty"]) == (
        "FILLED",
        True,
        "394.00000000",
    )


def test_open_orders_weight_depends_on_symbol(server: MockBinanceServer) -> None:
    from tests.venues.binance.mock.conftest import signed

    one = signed(server, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT", "timestamp": now_ms()})
    before = int(one.headers["X-MBX-USED-WEIGHT-1M"])
    every = signed(server, "GET", "/api/v3/openOrders", {"timestamp": now_ms()})
    assert int(every.headers["X-MBX-USED-WEIGHT-1M"]) == before + 80
