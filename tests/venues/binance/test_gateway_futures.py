"""USD-M gateway against the mock: settings, order types, reduce-only, algo orders, unknown."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from qk.orders import ClientOrderIdGenerator, OrderStatus
from qk.schemas.enums import OrderFlag, OrderType, RejectReason, Side, TimeInForce
from qk.venues.binance.mock.server import MockBinanceServer
from qk.venues.binance.rest import BinanceRejected
from tests.venues.binance.test_gateway_harness import (
    fills,
    gateway,
    make_order,
    mock_config,
    run,
    statuses,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET


@pytest.fixture
def server() -> Iterator[MockBinanceServer]:
    with MockBinanceServer(mock_config()) as srv:
        srv.push_trade("BTCUSDT", "40000.00", "0.5", time.time_ns() // 1_000_000)
        yield srv


@pytest.fixture
def ids() -> ClientOrderIdGenerator:
    return ClientOrderIdGenerator(strategy_id=9)


def test_leverage_margin_type_and_position_mode(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        async with gateway(server, "futures") as gw:
            assert await gw.set_leverage("BTCUSDT", 5) == 5
            assert server.mock.futures.account.config("BTCUSDT").leverage == 5
            assert await gw.set_margin_type("BTCUSDT", "ISOLATED") is True
            assert await gw.set_margin_type("BTCUSDT", "ISOLATED") is False  # -4046
            assert server.mock.futures.account.config("BTCUSDT").margin_type == "isolated"
            assert await gw.set_position_mode(True) is True and gw.hedge_mode
            assert await gw.set_position_mode(True) is False  # -4059
            assert server.mock.futures.account.dual_side
            with pytest.raises(BinanceRejected) as bad:
                await gw.set_leverage("BTCUSDT", 500)
            assert bad.value.code == -4028

    run(scenario())


def test_spot_gateway_refuses_futures_settings(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            with pytest.raises(ValueError, match="USD-M futures setting"):
                await gw.set_leverage("BTCUSDT", 3)

    run(scenario())


def test_limit_market_reduce_only_and_gtx(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    async def scenario() -> None:
        async with gateway(server, "futures") as gw:
            reduce = make_order(
                gw,
                ids,
                "BTCUSDT",
                SELL,
                LIMIT,
                "0.01",
                price="41000.0",
                flags=OrderFlag.REDUCE_ONLY,
            )
            out = await gw.place(reduce)
            assert statuses(out.records) == ["SUBMITTED", "REJECTED"]
            assert reduce.reject_reason is RejectReason.REDUCE_ONLY_WOULD_INCREASE
            buy = make_order(gw, ids, "BTCUSDT", BUY, MARKET, "0.01")
            out = await gw.place(buy)
            assert statuses(out.records) == ["SUBMITTED", "ACCEPTED", "FILLED"]
            (fill,) = fills(out.records)  # fetched from userTrades: RESULT has no fills
            assert int(fill["fee"][0]) == 16_000_000  # 4 bps of 400 USDT = 0.16 USDT
            assert bytes(fill["fee_currency"][0]).rstrip(b"\0") == b"USDT"
            close = make_order(
                gw,
                ids,
                "BTCUSDT",
                SELL,
                LIMIT,
                "0.01",
                price="41000.0",
                flags=OrderFlag.REDUCE_ONLY,
            )
            assert statuses((await gw.place(close)).records) == ["SUBMITTED", "ACCEPTED"]
            (venue,) = [o for o in server.mock.futures.orders.values() if o.reduce_only]
            assert venue.client_order_id == close.client_order_id.to_text()
            cancelled = await gw.cancel(close)
            assert statuses(cancelled.records) == ["PENDING_CANCEL", "CANCELED"]
            fok = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "1", price="40000.0", tif=TimeInForce.FOK
            )
            assert statuses((await gw.place(fok)).records) == ["SUBMITTED", "ACCEPTED", "EXPIRED"]
            gtx = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40100.0", flags=OrderFlag.POST_ONLY
            )
            out = await gw.place(gtx)
            assert gtx.status is OrderStatus.REJECTED and gtx.venue_error_code == -5022
            assert gtx.reject_reason is RejectReason.POST_ONLY_WOULD_TAKE
            ioc = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "1", price="40000.0", tif=TimeInForce.IOC
            )
            out = await gw.place(ioc)
            assert statuses(out.records)[-2:] == ["PARTIALLY_FILLED", "EXPIRED"]

    run(scenario())


def test_conditional_orders_go_to_the_algo_endpoint(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    async def scenario() -> None:
        async with gateway(server, "futures") as gw:
            stop = make_order(
                gw, ids, "BTCUSDT", SELL, OrderType.STOP_MARKET, "0.01", trigger="39000.0"
            )
            out = await gw.place(stop)
            assert statuses(out.records) == ["SUBMITTED", "ACCEPTED"]
            (algo,) = server.mock.futures.algo_orders.values()
            assert (algo.order_type, algo.stop_price) == ("STOP_MARKET", Decimal("39000"))
            assert stop.venue_order_id == str(algo.algo_id)
            take = make_order(
                gw, ids, "BTCUSDT", SELL, OrderType.TAKE_PROFIT_LIMIT, "0.01",
                price="42000.0", trigger="42000.0",
            )  # fmt: skip
            assert statuses((await gw.place(take)).records) == ["SUBMITTED", "ACCEPTED"]
            out = await gw.cancel(stop)
            assert statuses(out.records) == ["PENDING_CANCEL", "CANCELED"]
            server.mock.faults.error_after_accept = 1
            unknown = make_order(
                gw, ids, "BTCUSDT", BUY, OrderType.STOP_MARKET, "0.01", trigger="41000.0"
            )
            out = await gw.place(unknown)
            assert statuses(out.records) == ["SUBMITTED", "UNKNOWN", "ACCEPTED"]
            assert (
                sum(1 for o in server.mock.futures.algo_orders.values() if o.stop_price == 41000)
                == 1
            )
            out = await gw.query(take)
            assert out.records == [] and take.status is OrderStatus.ACCEPTED

    run(scenario())


def test_hedge_mode_sends_position_sides(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    async def scenario() -> None:
        async with gateway(server, "futures") as gw:
            await gw.set_position_mode(True)
            buy = make_order(gw, ids, "BTCUSDT", BUY, MARKET, "0.01")
            assert statuses((await gw.place(buy)).records)[-1] == "FILLED"
            close = make_order(
                gw, ids, "BTCUSDT", SELL, MARKET, "0.01", flags=OrderFlag.REDUCE_ONLY
            )
            assert statuses((await gw.place(close)).records)[-1] == "FILLED"
            sides = [o.position_side for o in server.mock.futures.orders.values()]
            assert sides == ["LONG", "LONG"]
            assert server.mock.futures.account.position("BTCUSDT", "LONG").amount == 0

    run(scenario())
