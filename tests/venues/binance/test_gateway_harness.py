"""Shared set-up for the gateway, REST and user-data tests: the mock on a thread, our client on
the test's own event loop, and a clock both sides can share when a test must skip time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from qk.orders import ClientOrderIdGenerator, Order
from qk.schemas.enums import OrderFlag, OrderType, Side, TimeInForce
from qk.schemas.fixed import to_raw
from qk.venues.binance.gateway import BinanceGateway
from qk.venues.binance.instruments import SymbolRegistry
from qk.venues.binance.mock.server import MockBinanceServer, MockConfig
from qk.venues.binance.rest import BinanceRestClient, RestConfig

KEY = "gwKey" + "C" * 59
SECRET = "gwSecret" + "D" * 56
BALANCES = {"USDT": Decimal(1_000_000), "BTC": Decimal(100), "ETH": Decimal(1000)}


class FakeClock:
    """A wall clock that only moves when told; its sleep moves it (for mock and client alike)."""

    def __init__(self) -> None:
        # Half a second past a minute boundary, so windows are predictable.
        self.ns = (time.time_ns() // 60_000_000_000) * 60_000_000_000 + 500_000_000
        self.slept: list[float] = []

    def now_ns(self) -> int:
        return self.ns

    def ms(self) -> int:
        return self.ns // 1_000_000

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.ns += int(seconds * 1e9)
        await asyncio.sleep(0)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a test coroutine with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, 30))


def mock_config(**kwargs: Any) -> MockConfig:
    kwargs.setdefault("spot_balances", BALANCES)
    return MockConfig(api_key=KEY, api_secret=SECRET, **kwargs)


def rest_config(server: MockBinanceServer, **kwargs: Any) -> RestConfig:
    return RestConfig(
        api_key=KEY,
        api_secret=SECRET,
        spot_url=server.base_url,
        futures_url=server.base_url,
        **{"timeout_s": 3.0, **kwargs},
    )


@asynccontextmanager
async def gateway(
    server: MockBinanceServer,
    market: Literal["spot", "futures"],
    *,
    clock: FakeClock | None = None,
    rest_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> AsyncIterator[BinanceGateway]:
    """A gateway on ``market`` of the mock, with every exchangeInfo symbol as an instrument."""
    timing: dict[str, Any] = {}
    if clock is not None:
        timing = {"now_ns": clock.now_ns, "sleep": clock.sleep}
    rest = BinanceRestClient(rest_config(server, **(rest_kwargs or {})), **timing)
    async with rest:
        await rest.sync_time(market, samples=1)
        registry = SymbolRegistry(market, now_ns=timing.get("now_ns", time.time_ns))
        gw = BinanceGateway(rest, registry, **timing, **kwargs)
        await gw.refresh_instruments()
        for instrument in registry.instruments():
            registry.add_instrument(instrument)
        yield gw


def instrument_id(gw: BinanceGateway, symbol: str) -> int:
    return gw.registry.by_symbol(symbol).instrument_id


def make_order(
    gw: BinanceGateway,
    ids: ClientOrderIdGenerator,
    symbol: str,
    side: Side,
    order_type: OrderType,
    quantity: str,
    *,
    price: str | None = None,
    trigger: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    flags: OrderFlag | None = None,
) -> Order:
    inst = gw.registry.instrument(instrument_id(gw, symbol))
    return Order(
        client_order_id=ids.next(),
        instrument_id=inst.instrument_id,
        side=side,
        order_type=order_type,
        quantity=to_raw(quantity, inst.size_precision),
        price=to_raw(price, inst.price_precision) if price else 0,
        trigger_price=to_raw(trigger, inst.price_precision) if trigger else 0,
        time_in_force=tif,
        flags=flags if flags is not None else OrderFlag(0),
        ts_init=time.time_ns(),
    )


def statuses(records: list[npt.NDArray[np.void]]) -> list[str]:
    """Status names of the OrderUpdate records, in order."""
    from qk.schemas.enums import OrderStatus

    return [
        OrderStatus(int(r["status"][0])).name for r in records if "status" in (r.dtype.names or ())
    ]


def fills(records: list[npt.NDArray[np.void]]) -> list[npt.NDArray[np.void]]:
    """The FillEvent records."""
    return [r for r in records if "trade_id" in (r.dtype.names or ())]
