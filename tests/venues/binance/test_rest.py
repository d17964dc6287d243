"""Signed REST client and rate limits against the mock: signing, error mapping, 429, 418,
pre-emptive waits and the server time offset."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from qk.venues.binance.mock.server import MockBinanceServer
from qk.venues.binance.ratelimit import (
    DAY_MS,
    RateLimits,
    RateLimitTracker,
    limits_from_exchange_info,
)
from qk.venues.binance.rest import (
    BinanceBanned,
    BinanceConnectError,
    BinanceOutcomeUnknown,
    BinanceRateLimited,
    BinanceRejected,
    BinanceRestClient,
    RestConfig,
    encode_params,
    sign,
)
from tests.venues.binance.test_gateway_harness import (
    KEY,
    SECRET,
    FakeClock,
    mock_config,
    rest_config,
    run,
)


@pytest.fixture
def server() -> Iterator[MockBinanceServer]:
    with MockBinanceServer(mock_config()) as srv:
        yield srv


def test_signature_matches_the_documented_vector() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    payload = encode_params(
        {
            "symbol": "LTCBTC",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": 1,
            "price": "0.1",
            "recvWindow": 5000,
            "timestamp": 1499827319559,
        }
    )
    assert sign(secret, payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    assert encode_params({"reduceOnly": True, "x": "a b"}) == "reduceOnly=true&x=a+b"


def test_signed_request_is_accepted_and_errors_are_typed(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        async with BinanceRestClient(rest_config(server)) as rest:
            await rest.sync_time("spot", samples=2)
            account = await rest.request("spot", "GET", "/api/v3/account", security="SIGNED")
            assert {b["asset"] for b in account["balances"]} >= {"BTC", "USDT"}
            assert rest.limits["spot"].used_weight >= 20  # read from X-MBX-USED-WEIGHT-1M
            with pytest.raises(BinanceRejected) as bad_symbol:
                await rest.request(
                    "spot", "GET", "/api/v3/order", {"symbol": "NOPE", "orderId": 1},
                    security="SIGNED",
                )  # fmt: skip
            assert (bad_symbol.value.http_status, bad_symbol.value.code) == (400, -1121)
            assert "Invalid symbol" in str(bad_symbol.value)

    run(scenario())


def test_wrong_secret_is_rejected_with_binance_code(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        config = RestConfig(KEY, "wrong", spot_url=server.base_url)
        async with BinanceRestClient(config) as rest:
            with pytest.raises(BinanceRejected) as info:
                await rest.request("spot", "GET", "/api/v3/account", security="SIGNED")
            assert info.value.code == -1022

    run(scenario())


def test_clock_skew_is_corrected_once_after_minus_1021(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        def skewed() -> int:
            return time.time_ns() + 30_000_000_000  # 30 s ahead of the venue

        async with BinanceRestClient(rest_config(server), now_ns=skewed) as rest:
            await rest.request("spot", "GET", "/api/v3/account", security="SIGNED")
            assert rest.clocks["spot"].offset_ns < -29_000_000_000

    run(scenario())


def test_5xx_is_an_unknown_outcome(server: MockBinanceServer) -> None:
    server.push_trade("BTCUSDT", "40000.00", "1", time.time_ns() // 1_000_000)

    async def scenario() -> None:
        async with BinanceRestClient(rest_config(server)) as rest:
            await rest.sync_time("spot", samples=1)
            server.mock.faults.error_after_accept = 1
            server.mock.faults.error_status = 502
            params = {
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "39000", "newClientOrderId": "qk5xx",
            }  # fmt: skip
            with pytest.raises(BinanceOutcomeUnknown) as info:
                await rest.request(
                    "spot", "POST", "/api/v3/order", params, security="SIGNED", is_order=True
                )
            assert (info.value.http_status, info.value.code) == (502, -1007)
            assert rest.limits["spot"].order_count_10s == 1

    run(scenario())


def test_connect_error_means_nothing_was_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nobody listens there

    async def scenario() -> None:
        config = RestConfig(KEY, SECRET, spot_url=f"http://127.0.0.1:{port}", timeout_s=2)
        async with BinanceRestClient(config) as rest:
            with pytest.raises(BinanceConnectError):
                await rest.request("spot", "GET", "/api/v3/ping")

    run(scenario())


def test_429_backs_off_for_retry_after_then_succeeds() -> None:
    clock = FakeClock()
    with MockBinanceServer(mock_config(clock=clock.ms)) as srv:

        async def scenario() -> None:
            config = rest_config(srv)
            async with BinanceRestClient(config, now_ns=clock.now_ns, sleep=clock.sleep) as rest:
                srv.mock.faults.force_429 = 1
                body = await rest.request("spot", "GET", "/api/v3/account", security="SIGNED")
                assert "balances" in body
                # Retry-After is the seconds to the next minute: 59.5 s rounded up.
                assert rest.limits["spot"].waited_s == [60.0]
                assert rest.requests_sent == 2

        run(scenario())


def test_repeated_429s_make_the_next_request_wait_out_the_ban_instead_of_meeting_418() -> None:
    clock = FakeClock()
    with MockBinanceServer(mock_config(clock=clock.ms, ban_after_429s=2, ban_ms=300_000)) as srv:

        async def scenario() -> None:
            config = rest_config(srv, max_429_retries=1)
            async with BinanceRestClient(config, now_ns=clock.now_ns, sleep=clock.sleep) as rest:
                srv.mock.faults.force_429 = 2
                with pytest.raises(BinanceRateLimited) as limited:
                    await rest.request("spot", "GET", "/api/v3/time")
                # The second 429 started the venue's ban; its Retry-After is the ban's length.
                assert limited.value.retry_at_ms == clock.ms() + 300_000
                assert "serverTime" in await rest.request("spot", "GET", "/api/v3/time")
                assert rest.limits["spot"].waited_s[-1] == 300.0
                assert rest.requests_sent == 3

        run(scenario())


def test_418_stops_all_sending_until_the_ban_ends() -> None:
    clock = FakeClock()
    with MockBinanceServer(mock_config(clock=clock.ms)) as srv:

        async def scenario() -> None:
            config = rest_config(srv)
            async with BinanceRestClient(config, now_ns=clock.now_ns, sleep=clock.sleep) as rest:
                # Another process on this IP got it banned.
                srv.mock.limiters["spot"].banned_until_ms = clock.ms() + 300_000
                with pytest.raises(BinanceBanned) as banned:
                    await rest.request("spot", "GET", "/api/v3/time")
                assert banned.value.sent and banned.value.http_status == 418
                assert banned.value.until_ms == clock.ms() + 300_000
                sent = rest.requests_sent
                srv.mock.limiters["spot"].banned_until_ms = 0  # the venue forgives early...
                with pytest.raises(BinanceBanned) as local:
                    await rest.request("spot", "GET", "/api/v3/time")
                assert not local.value.sent and rest.requests_sent == sent  # ...we do not
                assert "serverTime" in await rest.request("futures", "GET", "/fapi/v1/time")
                await clock.sleep(300)
                assert "serverTime" in await rest.request("spot", "GET", "/api/v3/time")

        run(scenario())


def test_requests_wait_for_the_next_minute_instead_of_crossing_the_weight_limit() -> None:
    clock = FakeClock()
    with MockBinanceServer(mock_config(clock=clock.ms, spot_weight_per_minute=30)) as srv:

        async def scenario() -> None:
            limits = RateLimits(30, 100, 200_000, DAY_MS)
            config = rest_config(srv, max_429_retries=0, spot_limits=limits)
            async with BinanceRestClient(config, now_ns=clock.now_ns, sleep=clock.sleep) as rest:
                for _ in range(4):  # 4 x 20 = 80 weight: three minutes' worth
                    await rest.request("spot", "GET", "/api/v3/exchangeInfo", weight=20)
                waits = rest.limits["spot"].waited_s
                assert len(waits) == 3 and all(0 < w <= 60 for w in waits)

        run(scenario())


def test_tracker_counts_orders_and_reads_headers() -> None:
    now = [1_000_000 * 60_000 + 1000]

    async def sleep(seconds: float) -> None:
        now[0] += int(seconds * 1000)

    async def scenario() -> None:
        tracker = RateLimitTracker(RateLimits(100, 2, 1000, DAY_MS), lambda: now[0], sleep)
        for _ in range(3):
            await tracker.acquire(1, is_order=True)
        assert tracker.waited_s == [9.0]  # the third order waits for the next 10 s window
        tracker.observe(200, {"X-MBX-USED-WEIGHT-1M": "97", "X-MBX-ORDER-COUNT-10S": "1"})
        assert tracker.used_weight == 97 and tracker.order_count_10s == 1
        tracker.observe(418, {"Retry-After": "120"})
        assert tracker.banned() and tracker.banned_until_ms == now[0] + 120_000

    run(scenario())


def test_limits_come_from_exchange_info_rate_limits() -> None:
    info = {
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ]
    }  # fmt: skip
    limits = limits_from_exchange_info(info, weight_reserve=60)
    assert limits == RateLimits(6000, 50, 160000, DAY_MS, 60)
    with pytest.raises(ValueError, match=r"rateLimits\[0\]"):
        limits_from_exchange_info({"rateLimits": [{"rateLimitType": "ORDERS"}]})
    with pytest.raises(ValueError, match="lacks REQUEST_WEIGHT"):
        limits_from_exchange_info({"rateLimits": info["rateLimits"][1:]})


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="recv_window_ms"):
        RestConfig(KEY, SECRET, recv_window_ms=70_000)
    with pytest.raises(ValueError, match="weight_reserve"):
        RateLimits(10, 1, 1, DAY_MS, weight_reserve=10)


def test_signed_values_that_need_percent_encoding_reach_the_venue_unchanged(
    server: MockBinanceServer,
) -> None:
    async def scenario() -> None:
        async with BinanceRestClient(rest_config(server)) as rest:
            await rest.sync_time("spot", samples=1)
            with pytest.raises(BinanceRejected) as info:
                await rest.request(
                    "spot", "GET", "/api/v3/order",
                    {"symbol": "BTCUSDT", "origClientOrderId": "a b+c/d:e=f&g"},
                    security="SIGNED",
                )  # fmt: skip
            assert info.value.code == -2013  # signature checked, then the order looked up

    run(scenario())
