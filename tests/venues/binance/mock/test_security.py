"""Signed-endpoint security and Binance error codes, over raw HTTP signed outside the mock."""

from __future__ import annotations

import requests

from qk.venues.binance.mock.server import MockBinanceServer
from qk.venues.binance.mock.signing import hmac_sha256_hex, rest_payload, ws_api_payload
from tests.venues.binance.mock.conftest import KEY, SECRET, fixture, now_ms, signed


def test_doc_test_vector_signs_to_the_published_signature() -> None:
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    assert hmac_sha256_hex(secret, payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_rest_payload_is_query_then_body_without_signature() -> None:
    payload, signature = rest_payload("symbol=LTCBTC&side=BUY", "quantity=1&price=0.1&signature=ab")
    assert payload == "symbol=LTCBTC&side=BUYquantity=1&price=0.1"
    assert signature == "ab"


def test_ws_api_payload_sorts_params_and_drops_signature() -> None:
    payload = ws_api_payload({"timestamp": 5, "apiKey": "k", "signature": "x", "recvWindow": 100})
    assert payload == "apiKey=k&recvWindow=100&timestamp=5"


def _order(**extra: object) -> dict[str, object]:
    params: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "30000.00",
        "timestamp": now_ms(),
    }
    params.update(extra)
    return params


def _error(resp: requests.Response) -> tuple[int, int]:
    body = resp.json()
    assert set(body) == set(fixture("spot_docs_examples/rest_error_example.json"))
    return resp.status_code, body["code"]


def test_signed_order_in_query_string_is_accepted(server: MockBinanceServer) -> None:
    resp = signed(server, "POST", "/api/v3/order", _order())
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "NEW"


def test_signed_order_in_body_is_accepted(server: MockBinanceServer) -> None:
    resp = signed(server, "POST", "/api/v3/order", _order(), in_body=True)
    assert resp.status_code == 200, resp.text


def test_wrong_secret_is_rejected_with_1022(server: MockBinanceServer) -> None:
    resp = signed(server, "POST", "/api/v3/order", _order(), secret=SECRET[:-1] + "X")
    assert _error(resp) == (400, -1022)


def test_tampered_parameter_is_rejected_with_1022(server: MockBinanceServer) -> None:
    params = _order()
    query = "&".join(f"{k}={v}" for k, v in params.items())
    signature = hmac_sha256_hex(SECRET, query)
    tampered = query.replace("quantity=0.01", "quantity=0.02")
    resp = requests.post(
        f"{server.base_url}/api/v3/order?{tampered}&signature={signature}",
        headers={"X-MBX-APIKEY": KEY},
        timeout=10,
    )
    assert _error(resp) == (400, -1022)


def test_timestamp_older_than_recv_window_is_rejected_with_1021(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms() - 6000})
    assert _error(resp) == (400, -1021)
    assert "recvWindow" in resp.json()["msg"]


def test_larger_recv_window_admits_the_same_timestamp(server: MockBinanceServer) -> None:
    resp = signed(
        server, "GET", "/api/v3/account", {"timestamp": now_ms() - 6000, "recvWindow": 10000}
    )
    assert resp.status_code == 200, resp.text


def test_recv_window_above_60000_is_invalid(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms(), "recvWindow": 60001})
    assert _error(resp) == (400, -1130)


def test_timestamp_ahead_of_server_is_rejected_with_1021(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms() + 5000})
    assert _error(resp) == (400, -1021)
    assert "ahead" in resp.json()["msg"]


def test_missing_api_key_is_2014(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms()}, key=None)
    assert _error(resp) == (401, -2014)


def test_malformed_api_key_is_2014(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms()}, key="bad key!")
    assert _error(resp) == (401, -2014)


def test_unknown_api_key_is_2015(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {"timestamp": now_ms()}, key="Z" * 64)
    assert _error(resp) == (401, -2015)


def test_futures_endpoints_use_the_same_security(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/fapi/v2/account", {"timestamp": now_ms()}, secret="wrong")
    assert _error(resp) == (400, -1022)


def test_missing_timestamp_is_1102(server: MockBinanceServer) -> None:
    resp = signed(server, "GET", "/api/v3/account", {})
    assert _error(resp) == (400, -1102)
    assert "'timestamp'" in resp.json()["msg"]


def test_missing_signature_is_1102(server: MockBinanceServer) -> None:
    resp = requests.get(
        f"{server.base_url}/api/v3/account?timestamp={now_ms()}",
        headers={"X-MBX-APIKEY": KEY},
        timeout=10,
    )
    assert _error(resp) == (400, -1102)
    assert "'signature'" in resp.json()["msg"]


def test_missing_mandatory_order_parameter_is_1102(server: MockBinanceServer) -> None:
    params = _order()
    del params["price"]
    resp = signed(server, "POST", "/api/v3/order", params)
    assert _error(resp) == (400, -1102)
    assert (
        resp.json()["msg"]
        == "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
    )


def test_unknown_symbol_is_1121_with_the_documented_body(server: MockBinanceServer) -> None:
    resp = signed(server, "POST", "/api/v3/order", _order(symbol="NOPEUSDT"))
    assert resp.status_code == 400
    assert resp.json() == fixture("spot_docs_examples/rest_error_example.json")


def test_unknown_futures_symbol_is_1121(server: MockBinanceServer) -> None:
    resp = signed(
        server, "GET", "/fapi/v1/order", {"symbol": "NOPE", "orderId": 1, "timestamp": now_ms()}
    )
    assert _error(resp) == (400, -1121)


def test_query_of_unknown_order_is_2013(server: MockBinanceServer) -> None:
    resp = signed(
        server, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 99, "timestamp": now_ms()}
    )
    assert _error(resp) == (400, -2013)


def test_cancel_of_unknown_order_is_2011(server: MockBinanceServer) -> None:
    resp = signed(
        server,
        "DELETE",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": 99, "timestamp": now_ms()},
    )
    assert _error(resp) == (400, -2011)
    assert resp.json()["msg"] == "Unknown order sent."


def test_cancel_without_any_id_names_both_parameters(server: MockBinanceServer) -> None:
    resp = signed(server, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "timestamp": now_ms()})
    assert _error(resp) == (400, -1102)
    assert "'origClientOrderId'" in resp.json()["msg"] and "'orderId'" in resp.json()["msg"]


def test_public_endpoints_need_no_key(server: MockBinanceServer) -> None:
    assert requests.get(server.base_url + "/api/v3/ping", timeout=10).json() == {}
    server_time = requests.get(server.base_url + "/fapi/v1/time", timeout=10).json()["serverTime"]
    assert abs(server_time - now_ms()) < 60_000


def test_listen_key_needs_the_api_key(server: MockBinanceServer) -> None:
    resp = requests.post(server.base_url + "/fapi/v1/listenKey", timeout=10)
    assert _error(resp) == (401, -2014)
    ok = requests.post(
        server.base_url + "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": KEY}, timeout=10
    )
    assert len(ok.json()["listenKey"]) == 64


def test_keepalive_of_unknown_listen_key_is_1125(server: MockBinanceServer) -> None:
    resp = requests.put(
        server.base_url + "/fapi/v1/listenKey",
        data={"listenKey": "x" * 64},
        headers={"X-MBX-APIKEY": KEY},
        timeout=10,
    )
    assert _error(resp) == (400, -1125)
