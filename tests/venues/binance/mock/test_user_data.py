"""User data: spot over the WebSocket API, futures over listenKey streams, in the fixtures' shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from binance.client import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from qk.venues.binance.mock.faults import Faults
from qk.venues.binance.mock.server import MockBinanceServer, MockConfig
from tests.venues.binance.mock.conftest import KEY, SECRET, fixture, now_ms


def _subscribe_spot(server: MockBinanceServer, client: Client) -> ClientConnection:
    """Open /ws-api/v3 and subscribe with params signed by python-binance's own WS API signer."""
    ws = connect(server.ws_url + "/ws-api/v3", open_timeout=5)
    params = client._sign_ws_params({}, client._generate_ws_api_signature)
    ws.send(
        json.dumps(
            {"id": "sub-1", "method": "userDataStream.subscribe.signature", "params": params}
        )
    )
    reply = json.loads(ws.recv(timeout=5))
    assert reply == {"id": "sub-1", "status": 200, "result": {"subscriptionId": 0}}
    return ws


def _recv(ws: ClientConnection, n: int) -> list[dict[str, Any]]:
    return [json.loads(ws.recv(timeout=5)) for _ in range(n)]


def _keys(doc: dict[str, Any]) -> set[str]:
    return set(doc)


@pytest.fixture
def spot_ws(server: MockBinanceServer, client: Client) -> Iterator[ClientConnection]:
    ws = _subscribe_spot(server, client)
    yield ws
    ws.close()


def test_spot_events_arrive_wrapped_in_fixture_shape(
    server: MockBinanceServer, client: Client, spot_ws: ClientConnection
) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", now_ms())
    client.create_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01", newClientOrderId="ws-1"
    )
    events = _recv(spot_ws, 4)
    wrapper = fixture("spot_docs_examples/uds_execution_report.json")
    assert all(set(e) == set(wrapper) and e["subscriptionId"] == 0 for e in events)
    kinds = [(e["event"]["e"], e["event"].get("x")) for e in events]
    assert kinds == [
        ("executionReport", "NEW"),
        ("outboundAccountPosition", None),
        ("executionReport", "TRADE"),
        ("outboundAccountPosition", None),
    ]
    report_keys = _keys(
        fixture("nautilus_crate_fixtures/spot/user_data_json/execution_report_wrapped.json")[
            "event"
        ]
    )
    trade = events[2]["event"]
    assert set(trade) == report_keys
    assert (trade["c"], trade["X"], trade["l"], trade["L"], trade["N"]) == (
        "ws-1",
        "FILLED",
        "0.01000000",
        "40000.00000000",
        "BTC",
    )
    position = events[3]["event"]
    assert set(position) == _keys(
        fixture("spot_docs_examples/uds_outbound_account_position.json")["event"]
    )
    assert set(position["B"][0]) == {"a", "f", "l"}


def test_spot_cancel_report_carries_the_original_client_id(
    server: MockBinanceServer, client: Client, spot_ws: ClientConnection
) -> None:
    client.create_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="30000.00",
        newClientOrderId="orig-1",
    )
    client.cancel_order(symbol="BTCUSDT", origClientOrderId="orig-1", newClientOrderId="cancel-1")
    events = [e["event"] for e in _recv(spot_ws, 4)]
    canceled = events[2]
    assert (canceled["x"], canceled["c"], canceled["C"]) == ("CANCELED", "cancel-1", "orig-1")


def test_balance_update_event(server: MockBinanceServer, spot_ws: ClientConnection) -> None:
    from decimal import Decimal

    server.call(lambda: server.mock.spot.deposit("BTC", Decimal("1.5")))
    event = _recv(spot_ws, 1)[0]["event"]
    assert set(event) == _keys(fixture("spot_docs_examples/uds_balance_update.json")["event"])
    assert (event["a"], event["d"]) == ("BTC", "1.50000000")


def test_ws_api_subscription_with_bad_signature_is_refused(server: MockBinanceServer) -> None:
    with connect(server.ws_url + "/ws-api/v3", open_timeout=5) as ws:
        params = {"apiKey": KEY, "timestamp": now_ms(), "signature": "0" * 64}
        ws.send(
            json.dumps({"id": 7, "method": "userDataStream.subscribe.signature", "params": params})
        )
        reply = json.loads(ws.recv(timeout=5))
    assert reply["id"] == 7 and reply["status"] == 400 and reply["error"]["code"] == -1022


def _futures_stream(
    server: MockBinanceServer, client: Client, path: str = "/ws/{key}"
) -> ClientConnection:
    key = client.futures_stream_get_listen_key()
    return connect(server.ws_url + path.format(key=key), open_timeout=5)


def test_futures_events_over_listen_key_in_fixture_shape(
    server: MockBinanceServer, client: Client
) -> None:
    with _futures_stream(server, client) as ws:
        server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
        client.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        events = _recv(ws, 3)
    assert [(e["e"], e.get("o", {}).get("x")) for e in events] == [
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "TRADE"),
        ("ACCOUNT_UPDATE", None),
    ]
    reference = fixture("nautilus_crate_fixtures/futures/user_data_json/order_update_trade.json")
    assert set(events[1]) == set(reference) and set(events[1]["o"]) == set(reference["o"])
    assert (events[1]["o"]["X"], events[1]["o"]["L"], events[1]["o"]["z"]) == (
        "FILLED",
        "40000.00",
        "0.010",
    )
    account_ref = fixture("nautilus_crate_fixtures/futures/user_data_json/account_update.json")
    account = events[2]
    assert set(account) == set(account_ref) and set(account["a"]) == set(account_ref["a"])
    assert set(account["a"]["B"][0]) == set(account_ref["a"]["B"][0])
    assert set(account["a"]["P"][0]) == set(account_ref["a"]["P"][0])
    assert account["a"]["P"][0]["pa"] == "0.010"


def test_futures_algo_events_in_fixture_shape(server: MockBinanceServer, client: Client) -> None:
    server.push_trade("BTCUSDT", "40000.0", "1", now_ms())
    with _futures_stream(server, client, "/private/ws?listenKey={key}") as ws:
        client.futures_create_algo_order(
            symbol="BTCUSDT",
            side="BUY",
            type="STOP_MARKET",
            triggerPrice="40100.0",
            quantity="0.010",
            clientAlgoId="algo-1",
        )
        server.push_trade("BTCUSDT", "40150.0", "1", now_ms())
        events = _recv(ws, 6)
    reference = fixture("nautilus_crate_fixtures/futures/user_data_json/algo_update_new.json")
    algo = [e for e in events if e["e"] == "ALGO_UPDATE"]
    assert all(set(e) == set(reference) and set(e["o"]) == set(reference["o"]) for e in algo)
    assert [e["o"]["X"] for e in algo] == ["NEW", "TRIGGERED", "FINISHED"]
    orders = [e["o"]["x"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    assert orders == ["NEW", "TRADE"]


def test_listen_key_lifecycle(server: MockBinanceServer, client: Client) -> None:
    key = client.futures_stream_get_listen_key()
    assert client.futures_stream_get_listen_key() == key  # the live key is returned again
    client.futures_stream_keepalive(key)
    client.futures_stream_close(key)
    resp = requests.put(
        server.base_url + "/fapi/v1/listenKey",
        data={"listenKey": key},
        headers={"X-MBX-APIKEY": KEY},
        timeout=5,
    )
    assert resp.json()["code"] == -1125
    closed = requests.get(server.base_url + f"/ws/{key}", timeout=5)
    assert closed.status_code == 400 and closed.json()["code"] == -1125


def _faulty_server(faults: Faults) -> MockBinanceServer:
    return MockBinanceServer(MockConfig(api_key=KEY, api_secret=SECRET, faults=faults))


def _client(server: MockBinanceServer) -> Client:
    c = Client(KEY, SECRET, ping=False)
    c.API_URL = server.base_url + "/api"
    c.FUTURES_URL = server.base_url + "/fapi"
    return c


def test_duplicate_fault_sends_every_event_twice() -> None:
    with _faulty_server(Faults(duplicate_events=True)) as server:
        c = _client(server)
        with _futures_stream(server, c) as ws:
            c.futures_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price="39000.0",
            )
            first, second = _recv(ws, 2)
    assert first == second and first["o"]["x"] == "NEW"


def test_reorder_fault_swaps_consecutive_events() -> None:
    with _faulty_server(Faults(reorder_events=True)) as server:
        c = _client(server)
        with _futures_stream(server, c) as ws:
            placed = c.futures_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price="39000.0",
            )
            c.futures_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
            events = _recv(ws, 2)
    assert [e["o"]["x"] for e in events] == ["CANCELED", "NEW"]


def test_drop_fault_closes_the_user_stream() -> None:
    with _faulty_server(Faults(drop_after_events=1)) as server:
        c = _client(server)
        with _futures_stream(server, c) as ws:
            c.futures_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price="39000.0",
            )
            assert json.loads(ws.recv(timeout=5))["e"] == "ORDER_TRADE_UPDATE"
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)


def test_drop_user_connections_on_demand(server: MockBinanceServer, client: Client) -> None:
    ws = _subscribe_spot(server, client)
    server.drop_user_connections()
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    assert server.call(lambda: server.mock.hub.subscriber_count) == 0


def test_legacy_spot_listen_key_stream_sends_unwrapped_events(
    server: MockBinanceServer, client: Client
) -> None:
    key = client.stream_get_listen_key()
    with connect(f"{server.ws_url}/ws/{key}", open_timeout=5) as ws:
        client.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.01",
            price="30000.00",
        )
        event = json.loads(ws.recv(timeout=5))
    assert event["e"] == "executionReport" and "subscriptionId" not in event
