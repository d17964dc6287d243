"""Weight headers, 429 then 418, and the injected faults (5XX after accept, delay, forced 429)."""

from __future__ import annotations

import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from qk.venues.binance.mock.faults import Faults
from qk.venues.binance.mock.ratelimit import RateLimiter, spot_limits
from qk.venues.binance.mock.server import MockBinanceServer, MockConfig
from tests.venues.binance.mock.conftest import KEY, SECRET, now_ms, signed


def test_every_response_carries_used_weight(server: MockBinanceServer) -> None:
    first = requests.get(server.base_url + "/api/v3/exchangeInfo", timeout=10)
    second = requests.get(server.base_url + "/api/v3/ping", timeout=10)
    used_before = int(first.headers["X-MBX-USED-WEIGHT-1M"])
    assert int(second.headers["X-MBX-USED-WEIGHT-1M"]) == used_before + 1
    futures = requests.get(server.base_url + "/fapi/v1/ping", timeout=10)
    assert futures.headers["X-MBX-USED-WEIGHT-1M"] == "1"  # futures counts separately


def test_order_responses_carry_order_counts(server: MockBinanceServer) -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "30000.00",
        "timestamp": now_ms(),
    }
    resp = signed(server, "POST", "/api/v3/order", params)
    assert resp.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    assert resp.headers["X-MBX-ORDER-COUNT-1D"] == "1"
    fut = signed(
        server, "POST", "/fapi/v1/order", {**params, "quantity": "0.010", "price": "30000.0"}
    )
    assert fut.status_code == 200, fut.text
    assert fut.headers["X-MBX-ORDER-COUNT-1M"] == "1"


def test_weight_limit_answers_429_then_418() -> None:
    config = MockConfig(api_key=KEY, api_secret=SECRET, spot_weight_per_minute=3, ban_after_429s=2)
    with MockBinanceServer(config) as server:
        url = server.base_url + "/api/v3/ping"
        statuses = [requests.get(url, timeout=10) for _ in range(6)]
    codes = [r.status_code for r in statuses]
    assert codes[:3] == [200, 200, 200]
    assert codes[3:5] == [429, 429]
    assert codes[5] == 418
    limited = statuses[3]
    assert limited.json()["code"] == -1003
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    banned = statuses[5]
    assert banned.json()["code"] == -1003 and "banned until" in banned.json()["msg"]
    assert int(banned.headers["Retry-After"]) > 60  # the ban (120 s) outlasts the minute


def test_python_binance_sees_429_as_an_api_error() -> None:
    config = MockConfig(api_key=KEY, api_secret=SECRET, faults=Faults(force_429=1))
    with MockBinanceServer(config) as server:
        c = Client(KEY, SECRET, ping=False)
        c.API_URL = server.base_url + "/api"
        try:
            c.get_server_time()
            raise AssertionError("expected a 429")
        except BinanceAPIException as exc:
            assert (exc.status_code, exc.code) == (429, -1003)
        assert "serverTime" in c.get_server_time()


def test_limiter_windows_reset_each_minute() -> None:
    limiter = RateLimiter(spot_limits(weight_per_minute=2))
    limiter.admit(60_000, 2)
    limiter.admit(120_000, 2)  # a new minute
    assert limiter.headers(120_500, False) == {"X-MBX-USED-WEIGHT-1M": "2"}


def test_5xx_after_accept_leaves_the_order_queryable_by_client_id() -> None:
    config = MockConfig(api_key=KEY, api_secret=SECRET, faults=Faults(error_after_accept=1))
    with MockBinanceServer(config) as server:
        c = Client(KEY, SECRET, ping=False)
        c.API_URL = server.base_url + "/api"
        c.FUTURES_URL = server.base_url + "/fapi"
        try:
            c.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.01",
                price="30000.00",
                newClientOrderId="unknown-1",
            )
            raise AssertionError("expected a 5XX")
        except BinanceAPIException as exc:
            assert exc.status_code == 503 and exc.code == -1007
        resolved = c.get_order(symbol="BTCUSDT", origClientOrderId="unknown-1")
        assert resolved["status"] == "NEW"
        assert len(c.get_open_orders(symbol="BTCUSDT")) == 1  # accepted exactly once


def test_5xx_after_accept_on_futures() -> None:
    config = MockConfig(
        api_key=KEY, api_secret=SECRET, faults=Faults(error_after_accept=1, error_status=502)
    )
    with MockBinanceServer(config) as server:
        c = Client(KEY, SECRET, ping=False)
        c.FUTURES_URL = server.base_url + "/fapi"
        try:
            c.futures_create_order(
                symbol="BTCUSDT",
                side="SELL",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price="45000.0",
                newClientOrderId="fut-unknown",
            )
            raise AssertionError("expected a 5XX")
        except BinanceAPIException as exc:
            assert exc.status_code == 502
        assert (
            c.futures_get_order(symbol="BTCUSDT", origClientOrderId="fut-unknown")["status"]
            == "NEW"
        )


def test_delay_fault_holds_responses() -> None:
    config = MockConfig(api_key=KEY, api_secret=SECRET, faults=Faults(delay_ms=1000))
    with MockBinanceServer(config) as server:
        with pytest.raises(requests.Timeout):
            requests.get(server.base_url + "/api/v3/ping", timeout=0.2)
        server.mock.faults.delay_ms = 0
        assert requests.get(server.base_url + "/api/v3/ping", timeout=5).status_code == 200
