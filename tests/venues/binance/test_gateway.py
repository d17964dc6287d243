"""Spot gateway against the mock: order types x outcomes, unknown outcomes, cancel-replace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from qk.orders import ClientOrderIdGenerator, OrderStatus
from qk.orders.records import fill_from_record
from qk.schemas.enums import (
    LiquiditySide,
    OrderFlag,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from qk.venues.binance.gateway import BinanceGateway, reject_reason_of
from qk.venues.binance.instruments import FilterViolation, SymbolRegistry
from qk.venues.binance.mock.server import MockBinance, MockBinanceServer
from qk.venues.binance.rest import BinanceOutcomeUnknown, BinanceRestClient, RestConfig
from qk.venues.binance.userdata import ExecutionUpdate
from tests.venues.binance.test_gateway_harness import (
    KEY,
    SECRET,
    FakeClock,
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
        yield srv


@pytest.fixture
def ids() -> ClientOrderIdGenerator:
    return ClientOrderIdGenerator(strategy_id=7)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def trade(server: MockBinanceServer, price: str, qty: str) -> None:
    server.push_trade("BTCUSDT", price, qty, now_ms())


def venue_orders(server: MockBinanceServer, client_id: str) -> int:
    return sum(1 for o in server.mock.spot.orders.values() if o.client_order_id == client_id)


def test_limit_taker_fills_from_the_full_response(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40000.00")
            out = await gw.place(order)
            assert out.error is None
            assert statuses(out.records) == ["SUBMITTED", "ACCEPTED", "FILLED"]
            (record,) = fills(out.records)
            fill = fill_from_record(record)
            assert (fill.price, fill.quantity) == (4_000_000, 1000)
            assert fill.fee == 1000 and fill.fee_currency == "BTC"  # 0.1 % of 0.01 BTC
            assert fill.liquidity is LiquiditySide.TAKER
            assert record["ts_event"][0] > 0 and record["ts_recv"][0] > 0
            assert order.venue_order_id.isdigit()
            assert venue_orders(server, order.client_order_id.to_text()) == 1

    run(scenario())


def test_partial_fill_rests_then_ioc_expires_after_partial(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            gtc = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "1", price="40000.00")
            out = await gw.place(gtc)
            assert statuses(out.records) == ["SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED"]
            assert gtc.filled_quantity == 50_000 and gtc.leaves_quantity == 50_000
            trade(server, "40000.00", "0.3")
            ioc = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "1", price="40000.00", tif=TimeInForce.IOC
            )
            out = await gw.place(ioc)
            assert statuses(out.records) == [
                "SUBMITTED",
                "ACCEPTED",
                "PARTIALLY_FILLED",
                "EXPIRED",
            ]
            assert ioc.status is OrderStatus.EXPIRED and ioc.filled_quantity == 30_000

    run(scenario())


def test_fok_expires_unfilled_and_market_fills(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            fok = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "1", price="40000.00", tif=TimeInForce.FOK
            )
            out = await gw.place(fok)
            assert statuses(out.records) == ["SUBMITTED", "ACCEPTED", "EXPIRED"]
            assert fok.filled_quantity == 0
            market = make_order(gw, ids, "BTCUSDT", SELL, MARKET, "0.001")
            out = await gw.place(market)
            assert statuses(out.records)[-1] == "FILLED"
            assert len(fills(out.records)) == 1

    run(scenario())


def test_resting_order_is_cancelled_and_a_second_cancel_is_refused_locally(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            assert statuses((await gw.place(order)).records) == ["SUBMITTED", "ACCEPTED"]
            out = await gw.cancel(order)
            assert statuses(out.records) == ["PENDING_CANCEL", "CANCELED"]
            sent = gw.rest.requests_sent
            again = await gw.cancel(order)
            assert again.records == [] and isinstance(again.error, ValueError)
            assert gw.rest.requests_sent == sent

    run(scenario())


def test_post_only_would_take_is_rejected_and_resting_post_only_is_accepted(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            taking = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40001.00", flags=OrderFlag.POST_ONLY
            )
            out = await gw.place(taking)
            assert statuses(out.records) == ["SUBMITTED", "REJECTED"]
            assert taking.reject_reason is RejectReason.POST_ONLY_WOULD_TAKE
            assert taking.venue_error_code == -2010
            resting = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00", flags=OrderFlag.POST_ONLY
            )
            assert statuses((await gw.place(resting)).records) == ["SUBMITTED", "ACCEPTED"]
            (venue,) = [
                o
                for o in server.mock.spot.orders.values()
                if o.client_order_id == resting.client_order_id.to_text()
            ]
            assert venue.order_type == "LIMIT_MAKER"

    run(scenario())


def test_insufficient_balance_is_a_typed_reject(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "90", price="40000.00")
            out = await gw.place(order)
            assert statuses(out.records) == ["SUBMITTED", "REJECTED"]
            assert order.reject_reason is RejectReason.INSUFFICIENT_FUNDS

    run(scenario())


def test_stop_limit_triggers_and_query_books_its_fill(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            stop = make_order(
                gw,
                ids,
                "BTCUSDT",
                SELL,
                OrderType.STOP_LIMIT,
                "0.01",
                price="38990.00",
                trigger="39000.00",
            )
            assert statuses((await gw.place(stop)).records) == ["SUBMITTED", "ACCEPTED"]
            (venue,) = [
                o
                for o in server.mock.spot.orders.values()
                if o.client_order_id == stop.client_order_id.to_text()
            ]
            assert (venue.order_type, venue.stop_price) == ("STOP_LOSS_LIMIT", Decimal("39000"))
            take_profit = make_order(
                gw,
                ids,
                "BTCUSDT",
                SELL,
                OrderType.TAKE_PROFIT_LIMIT,
                "0.01",
                price="41000.00",
                trigger="41000.00",
            )
            assert statuses((await gw.place(take_profit)).records) == ["SUBMITTED", "ACCEPTED"]
            trade(server, "38990.00", "1")
            out = await gw.query(stop)
            assert statuses(out.records)[-1] == "FILLED"
            assert stop.events[-1].reconciliation

    run(scenario())


def test_query_books_a_maker_fill_with_its_liquidity(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            await gw.place(order)
            trade(server, "38999.00", "1")
            out = await gw.query(order)
            assert statuses(out.records) == ["FILLED"]
            (record,) = fills(out.records)
            assert fill_from_record(record).liquidity is LiquiditySide.MAKER
            assert (await gw.query(order)).records == []  # nothing new: no duplicate records

    run(scenario())


def test_unsupported_fields_and_filter_breaches_are_denied_before_sending(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            sent = gw.rest.requests_sent
            day = make_order(
                gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40000.00", tif=TimeInForce.DAY
            )
            stop_market = make_order(
                gw, ids, "BTCUSDT", SELL, OrderType.STOP_MARKET, "0.01", trigger="39000.00"
            )
            small = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.0001", price="40000.00")
            for order, needle in (
                (day, "DAY"),
                (stop_market, "STOP_LOSS"),
                (small, "MIN_NOTIONAL"),
            ):
                out = await gw.place(order)
                assert statuses(out.records) == ["DENIED"], needle
                assert needle in str(out.error)
            out = await gw.place(
                make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "9001", price="40000.00")
            )
            assert isinstance(out.error, FilterViolation)
            assert out.error.filter == "LOT_SIZE" and out.error.venue_code == -1013
            assert gw.rest.requests_sent == sent
            assert not server.mock.spot.orders

    run(scenario())


def test_5xx_after_accept_goes_unknown_and_is_resolved_by_one_query(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            server.mock.faults.error_after_accept = 2
            resting = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            out = await gw.place(resting)
            assert isinstance(out.error, BinanceOutcomeUnknown)
            assert out.error.http_status == 503 and out.error.code == -1007
            assert statuses(out.records) == ["SUBMITTED", "UNKNOWN", "ACCEPTED"]
            assert resting.events[-1].reconciliation
            taker = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40000.00")
            out = await gw.place(taker)
            assert statuses(out.records) == ["SUBMITTED", "UNKNOWN", "ACCEPTED", "FILLED"]
            assert len(fills(out.records)) == 1
            for order in (resting, taker):
                assert venue_orders(server, order.client_order_id.to_text()) == 1
            assert len(server.mock.spot.orders) == 2

    run(scenario())


def test_timeout_stays_unknown_until_a_query_finds_the_order(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot", rest_kwargs={"timeout_s": 0.2}) as gw:
            server.mock.faults.delay_ms = 500
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            out = await gw.place(order)
            assert statuses(out.records) == ["SUBMITTED", "UNKNOWN", "UNKNOWN"]
            assert order.status is OrderStatus.UNKNOWN
            server.mock.faults.delay_ms = 0
            out = await gw.resolve_unknown(order)
            assert statuses(out.records) == ["ACCEPTED"]
            assert venue_orders(server, order.client_order_id.to_text()) == 1

    run(scenario())


def test_order_that_never_arrived_is_rejected_after_the_grace() -> None:
    """A venue that answers 503 to the submit and -2013 to every query: the order is queried
    (never resent) until the grace has passed, then REJECTED as never arrived."""
    exchange = MockBinance(mock_config())
    hits = {"POST": 0, "GET": 0}

    async def new_order(_request: web.Request) -> web.Response:
        hits["POST"] += 1
        return web.json_response({"code": -1007, "msg": "Timeout"}, status=503)

    async def query_order(_request: web.Request) -> web.Response:
        hits["GET"] += 1
        return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)

    async def info(_request: web.Request) -> web.Response:
        return web.json_response(exchange.exchange_info("spot", {}))

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/api/v3/order", new_order)
        app.router.add_get("/api/v3/order", query_order)
        app.router.add_get("/api/v3/exchangeInfo", info)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        clock = FakeClock()
        config = RestConfig(KEY, SECRET, spot_url=f"http://127.0.0.1:{port}")
        try:
            async with BinanceRestClient(config) as rest:
                registry = SymbolRegistry("spot")
                gw = BinanceGateway(
                    rest,
                    registry,
                    now_ns=clock.now_ns,
                    sleep=clock.sleep,
                    unknown_grace_s=2.0,
                    poll_interval_s=0.5,
                )
                await gw.refresh_instruments()
                for instrument in registry.instruments():
                    registry.add_instrument(instrument)
                order = make_order(
                    gw,
                    ClientOrderIdGenerator(3),
                    "BTCUSDT",
                    BUY,
                    LIMIT,
                    "0.01",
                    price="39000.00",
                )
                out = await gw.place(order)
        finally:
            await runner.cleanup()
        assert statuses(out.records) == ["SUBMITTED", "UNKNOWN", "REJECTED"]
        assert order.reject_reason is RejectReason.UNKNOWN_ORDER
        assert order.venue_error_code == -2013 and order.events[-1].reconciliation
        assert hits["POST"] == 1
        assert hits["GET"] == 5  # at 0, 0.5, 1.0, 1.5 and 2.0 s after the submit
        assert clock.slept == [0.5] * 4

    run(scenario())


def test_cancel_replace_swaps_orders_and_a_failed_cancel_sends_no_new_order(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            old = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            await gw.place(old)
            new = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39100.00")
            out = await gw.cancel_replace(old, new)
            assert out.error is None
            assert old.status is OrderStatus.CANCELED
            assert new.status is OrderStatus.ACCEPTED
            assert statuses(out.records) == ["PENDING_CANCEL", "SUBMITTED", "CANCELED", "ACCEPTED"]
            trade(server, "39000.00", "1")  # fills `new` (39100) on the venue, unseen by us
            newer = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39200.00")
            out = await gw.cancel_replace(new, newer)
            assert new.status is OrderStatus.FILLED  # learnt by the query after the failure
            assert newer.status is OrderStatus.REJECTED and newer.venue_error_code == -2022
            assert venue_orders(server, newer.client_order_id.to_text()) == 0

    run(scenario())


@pytest.mark.parametrize(
    ("code", "msg", "reason"),
    [
        (-1013, "Filter failure: PRICE_FILTER", RejectReason.INVALID_PRICE),
        (-1013, "Filter failure: NOTIONAL", RejectReason.MIN_NOTIONAL),
        (-1013, "Filter failure: LOT_SIZE", RejectReason.INVALID_QUANTITY),
        (-1111, "Parameter 'price' has too much precision.", RejectReason.INVALID_PRICE),
        (-2010, "Duplicate order sent.", RejectReason.DUPLICATE_CLIENT_ORDER_ID),
        (
            -2010,
            "Account has insufficient balance for requested action.",
            RejectReason.INSUFFICIENT_FUNDS,
        ),
        (
            -5022,
            "Due to the order could not be executed as maker",
            RejectReason.POST_ONLY_WOULD_TAKE,
        ),
        (-2022, "ReduceOnly Order is rejected.", RejectReason.REDUCE_ONLY_WOULD_INCREASE),
        (-9999, "something new", RejectReason.VENUE),
    ],
)
def test_reject_reasons_from_binance_codes(code: int, msg: str, reason: RejectReason) -> None:
    assert reject_reason_of(code, msg) is reason


def test_place_refuses_an_order_twice(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            await gw.place(order)
            with pytest.raises(ValueError, match="only an INITIALIZED order"):
                await gw.place(order)
            assert gw.order(order.client_order_id.to_text()) is order

    run(scenario())


def test_rate_limited_submit_is_rejected_without_reaching_the_venue(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    async def scenario() -> None:
        async with gateway(server, "spot", rest_kwargs={"max_429_retries": 0}) as gw:
            server.mock.faults.force_429 = 1
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            out = await gw.place(order)
            assert statuses(out.records) == ["SUBMITTED", "REJECTED"]
            assert order.reject_reason is RejectReason.RATE_LIMITED
            assert not server.mock.spot.orders

    run(scenario())


def test_rules_are_refreshed_only_when_stale(server: MockBinanceServer) -> None:
    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            sent = gw.rest.requests_sent
            assert await gw.refresh_if_stale() is False
            assert gw.rest.requests_sent == sent
            assert await gw.refresh_if_stale(max_age_s=0) is True
            assert gw.rest.requests_sent == sent + 1
            assert gw.rest.limits["spot"].limits.weight_per_minute == 6000

    run(scenario())


def test_user_updates_are_idempotent_and_unbookable_fills_are_reported(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            order = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            await gw.place(order)
            venue_id = int(order.venue_order_id)

            def update(exec_type: str, status: str, qty: str, price: str, trade_id: int) -> Any:
                return ExecutionUpdate(
                    "spot", "BTCUSDT", order.client_order_id.to_text(), venue_id, exec_type,
                    status, "LIMIT", "BUY", Decimal(qty), Decimal(price), Decimal(qty),
                    trade_id, Decimal("0.00001"), "BTC", True, 1_700_000_000_001,
                    1_700_000_000_000,
                )  # fmt: skip

            assert gw.on_user_update(update("TRADE", "FILLED", "0.01", "38999.005", 77)) == []
            assert "cannot be booked" in gw.errors[-1]
            booked = gw.on_user_update(update("TRADE", "FILLED", "0.01", "38999.00", 78))
            assert statuses(booked) == ["FILLED"] and len(fills(booked)) == 1
            assert booked[0]["ts_event"][0] == 1_700_000_000_000 * 1_000_000
            assert gw.on_user_update(update("TRADE", "FILLED", "0.01", "38999.00", 78)) == []
            assert gw.on_user_update(update("NEW", "NEW", "0", "0", -1)) == []  # overtaken
            other = update("NEW", "NEW", "0", "0", -1)
            stranger = ExecutionUpdate(
                **{**_fields(other), "client_order_id": "web_1", "venue_order_id": 999_999}
            )
            assert gw.on_user_update(stranger) == []  # not one of ours

    run(scenario())


def _fields(update: ExecutionUpdate) -> dict[str, Any]:
    return {name: getattr(update, name) for name in ExecutionUpdate.__slots__}


def test_finished_orders_can_be_forgotten(
    server: MockBinanceServer, ids: ClientOrderIdGenerator
) -> None:
    trade(server, "40000.00", "0.5")

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            filled = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="40000.00")
            resting = make_order(gw, ids, "BTCUSDT", BUY, LIMIT, "0.01", price="39000.00")
            await gw.place(filled)
            await gw.place(resting)
            assert gw.forget_finished() == 1
            assert gw.orders() == [resting]
            with pytest.raises(KeyError):
                gw.order(filled.client_order_id.to_text())

    run(scenario())
