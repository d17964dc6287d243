"""Every spot order type the gateway maps x the outcomes the mock can give it.

Market state for every case: a last trade of BTCUSDT at 40000.00 for 0.5 (ETHBTC at 0.030000 for
5), so takers fill at that price up to that quantity. ``after`` runs a trade through the venue and
then queries the order, the way a reconciliation would see it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from qk.instruments import Instrument
from qk.orders import ClientOrderIdGenerator
from qk.schemas.enums import AssetClass, InstrumentKind, OrderType, Side, TimeInForce, Venue
from qk.venues.binance.mock.server import MockBinanceServer
from tests.venues.binance.test_gateway_harness import (
    gateway,
    make_order,
    mock_config,
    run,
    statuses,
)

BUY, SELL = Side.BUY, Side.SELL
T = OrderType
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
ETHBTC = Instrument(
    instrument_id=99,
    venue=Venue.BINANCE,
    symbol="ETHBTC",
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.000001"),
    lot_size=Decimal("0.001"),
    price_precision=6,
    size_precision=3,
    currency="BTC",
    base_currency="ETH",
)

# (id, symbol, side, type, qty, price, trigger, tif, trade after (price, qty) or None, statuses)
CASES = [
    ("market-fill", "BTCUSDT", BUY, T.MARKET, "0.01", None, None, GTC, None,
     ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("market-partial-expire", "BTCUSDT", BUY, T.MARKET, "1", None, None, GTC, None,
     ["SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "EXPIRED"]),
    ("market-reject-balance", "BTCUSDT", SELL, T.MARKET, "110", None, None, GTC, None,
     ["SUBMITTED", "REJECTED"]),
    ("limit-accept-then-maker-fill", "BTCUSDT", SELL, T.LIMIT, "0.01", "40100.00", None, GTC,
     ("40200.00", "1"), ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("limit-ioc-expire-unfilled", "BTCUSDT", BUY, T.LIMIT, "0.01", "39000.00", None, IOC, None,
     ["SUBMITTED", "ACCEPTED", "EXPIRED"]),
    ("limit-fok-fill", "BTCUSDT", BUY, T.LIMIT, "0.4", "40000.00", None, FOK, None,
     ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("stop-limit-reject-would-trigger", "BTCUSDT", SELL, T.STOP_LIMIT, "0.01", "40500.00",
     "40500.00", GTC, None, ["SUBMITTED", "REJECTED"]),
    ("stop-limit-trigger-partial", "BTCUSDT", SELL, T.STOP_LIMIT, "0.02", "39500.00",
     "39500.00", GTC, ("39500.00", "0.005"), ["SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED"]),
    ("take-profit-limit-trigger-fill", "BTCUSDT", SELL, T.TAKE_PROFIT_LIMIT, "0.01", "40500.00",
     "40500.00", GTC, ("40500.00", "1"), ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("take-profit-limit-reject", "BTCUSDT", SELL, T.TAKE_PROFIT_LIMIT, "0.01", "39500.00",
     "39500.00", GTC, None, ["SUBMITTED", "REJECTED"]),
    ("stop-market-trigger-fill", "ETHBTC", SELL, T.STOP_MARKET, "1", None, "0.029000", GTC,
     ("0.028900", "5"), ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("take-profit-market-trigger-fill", "ETHBTC", SELL, T.TAKE_PROFIT_MARKET, "1", None,
     "0.031000", GTC, ("0.031000", "5"), ["SUBMITTED", "ACCEPTED", "FILLED"]),
    ("take-profit-market-accept", "ETHBTC", BUY, T.TAKE_PROFIT_MARKET, "1", None, "0.029000",
     GTC, None, ["SUBMITTED", "ACCEPTED"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[MockBinanceServer]:
    with MockBinanceServer(mock_config()) as srv:
        yield srv


def _reset_market(server: MockBinanceServer) -> None:
    ts = time.time_ns() // 1_000_000
    server.push_trade("BTCUSDT", "40000.00", "0.5", ts)
    server.push_trade("ETHBTC", "0.030000", "5", ts)


@pytest.mark.parametrize(
    ("case", "symbol", "side", "order_type", "qty", "price", "trigger", "tif", "after", "want"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_spot_order_type_outcome(
    server: MockBinanceServer,
    case: str,
    symbol: str,
    side: Side,
    order_type: OrderType,
    qty: str,
    price: str | None,
    trigger: str | None,
    tif: TimeInForce,
    after: tuple[str, str] | None,
    want: list[str],
) -> None:
    _reset_market(server)

    async def scenario() -> None:
        async with gateway(server, "spot") as gw:
            gw.registry.add_instrument(ETHBTC)
            ids = ClientOrderIdGenerator(1 + [c[0] for c in CASES].index(case))
            order = make_order(
                gw, ids, symbol, side, order_type, qty, price=price, trigger=trigger, tif=tif
            )
            out = await gw.place(order)
            got = statuses(out.records)
            if after is not None:
                server.push_trade(symbol, after[0], after[1], time.time_ns() // 1_000_000)
                got += statuses((await gw.query(order)).records)
            assert got == want
            if order.is_open:
                cancelled = await gw.cancel(order)
                assert statuses(cancelled.records) == ["PENDING_CANCEL", "CANCELED"]
            venue = [
                o
                for o in server.mock.spot.orders.values()
                if o.client_order_id == order.client_order_id.to_text()
            ]
            assert len(venue) == (0 if want[-1] == "REJECTED" else 1)

    run(scenario())
