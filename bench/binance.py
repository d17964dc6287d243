"""``qk-bench binance``: Binance market data through the feed client, against the mock on loopback.

The mock (:mod:`qk.venues.binance.mock.market`) runs in a child process and, once the feed has
connected, sends a pre-rendered run of messages as fast as its websocket writer goes: BTCUSDT
trades around the recorded 2021-01-08 prices and top-of-book moves, each move being a
``depthUpdate`` and a ``bookTicker`` (three trades per move: 60 % trades, 20 % depth, 20 %
bookTicker). The parent process runs :class:`qk.venues.binance.feed.BinanceFeed` with a sink that
keeps the records, and times from its first message to its last.

* ``binance_ws_msgs_per_s``: the mixed run, messages per second from the socket into canonical
  records (TradeEvent, QuoteEvent, DepthEvent of the local book's top 10 after every diff).
* ``binance_ws_trade_msgs_per_s``: trades only.
* ``binance_ws_recv_only_msgs_per_s``: a bare ``websockets`` client that only receives the same
  mixed run: the ceiling that loopback, the mock's writer and the library set.
* ``binance_ws_baseline_msgs_per_s``: the baseline, in the same run on the same messages with no
  socket: ``json.loads`` and a dict-based conversion (exact decimals, a dict book).
* ``binance_ws_vs_baseline``: the first over the last.

* ``binance_order_rtt_p50_us``: order round trip, intent → ack: the median time of
  ``BinanceGateway.place`` (filter check, SUBMITTED, signing, ``POST /api/v3/order`` to the mock in
  another process on loopback, the FULL answer mapped into OrderUpdate records) over IOC limit
  orders that the mock answers at once (EXPIRED: no liquidity). At least 200 orders.
* ``binance_order_ping_p50_us``: the baseline, in the same run against the same mock: the median
  round trip of a bare aiohttp ``GET /api/v3/ping`` on a keep-alive session.
* ``binance_order_rtt_vs_ping``: the first over the second.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import time
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import websockets

from qk.instruments import Instrument
from qk.schemas.enums import AssetClass, InstrumentKind, Venue
from qk.venues.binance.feed import BinanceFeed, FeedConfig
from qk.venues.binance.mock.market import (
    Market,
    MarketReplay,
    MarketServer,
    ReplayEvent,
    ReplayEventKind,
)
from qk.venues.binance.streams import StreamKind, stream_name

__all__ = ["run"]

SYMBOL = "BTCUSDT"
INSTRUMENT = Instrument(
    instrument_id=1,
    venue=Venue.BINANCE,
    symbol=SYMBOL,
    asset_class=AssetClass.CRYPTO,
    kind=InstrumentKind.SPOT,
    tick_size=Decimal("0.01"),
    lot_size=Decimal("0.000001"),
    price_precision=2,
    size_precision=6,
    currency="USDT",
)
MIXED = (StreamKind.TRADE, StreamKind.BOOK_TICKER, StreamKind.DEPTH_100MS)
TRADES = (StreamKind.TRADE,)


def _events(count: int, with_quotes: bool, seed: int = 1) -> list[ReplayEvent]:
    rng = np.random.default_rng(seed)
    mid = 3_943_250  # cents
    ts = 1_610_064_000_278
    events: list[ReplayEvent] = []
    while len(events) < count:
        ts += int(rng.integers(0, 20))
        mid += int(rng.integers(-3, 4))
        for _ in range(3):
            price = Decimal(mid + int(rng.integers(-2, 3))).scaleb(-2)
            qty = Decimal(int(rng.integers(1, 500_000))).scaleb(-6)
            events.append(
                ReplayEvent(
                    ts, SYMBOL, ReplayEventKind.TRADE, (price, qty, bool(rng.integers(0, 2)), None)
                )
            )
        if with_quotes:
            bid = Decimal(mid - 1 - int(rng.integers(0, 3))).scaleb(-2)
            ask = Decimal(mid + 1 + int(rng.integers(0, 3))).scaleb(-2)
            sizes = [Decimal(int(v)).scaleb(-6) for v in rng.integers(1, 3_000_000, size=2)]
            events.append(
                ReplayEvent(ts, SYMBOL, ReplayEventKind.QUOTE, (bid, sizes[0], ask, sizes[1]))
            )
    return events


def _streams(kinds: tuple[StreamKind, ...]) -> list[str]:
    return [stream_name(SYMBOL, kind) for kind in kinds]


def _serve(pipe: Connection, count: int) -> None:
    """The child: render the runs, serve, and send a run each time the parent asks."""

    async def main() -> None:
        replay = MarketReplay(Market.SPOT, [SYMBOL])
        replay.push_quote(SYMBOL, "39432.49", "1", "39432.51", "1")
        runs = {
            "mixed": replay.render(_events(count * 3 // 5, True), _streams(MIXED)),
            "trades": replay.render(_events(count, False, seed=2), _streams(TRADES)),
        }
        async with MarketServer(replay) as server:
            pipe.send((server.port, {name: run for name, run in runs.items()}))
            loop = asyncio.get_running_loop()
            while True:
                name = await loop.run_in_executor(None, pipe.recv)
                if name is None:
                    return
                await _until(lambda: len(replay.sessions) == 1)
                replay.send_raw(runs[name])
                pipe.send(len(runs[name]))

    asyncio.run(main())


async def _until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark: timed out waiting for the mock or the feed")
        await asyncio.sleep(0.001)


async def _through_feed(
    pipe: Connection, port: int, name: str, kinds: tuple[StreamKind, ...]
) -> float:
    url = f"ws://127.0.0.1:{port}"
    records: list[np.ndarray] = []
    config = FeedConfig(
        symbols=(SYMBOL,), streams=kinds, ws_url=url, rest_url=f"http://127.0.0.1:{port}"
    )
    feed = BinanceFeed(config, [INSTRUMENT], records.append)
    task = asyncio.create_task(feed.run())
    try:
        await _until(
            lambda: feed.stats.connections == 1 and (not feed.books or feed.books[SYMBOL].is_valid)
        )
        base = feed.stats.messages
        pipe.send(name)
        total: int = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await _until(lambda: feed.stats.messages > base)
        started = time.perf_counter()
        first = feed.stats.messages
        await _until(lambda: feed.stats.messages >= base + total, timeout=120.0)
        elapsed = time.perf_counter() - started
    finally:
        feed.stop()
        await task
    if feed.stats.malformed or feed.stats.trade_gaps or feed.stats.depth_resyncs:
        raise RuntimeError(f"benchmark: the feed reported problems: {feed.stats}")
    return (base + total - first) / elapsed


async def _recv_only(pipe: Connection, port: int) -> float:
    url = f"ws://127.0.0.1:{port}/stream?streams={'/'.join(_streams(MIXED))}"
    async with websockets.connect(url, compression=None, max_queue=None, ping_interval=None) as ws:
        pipe.send("mixed")
        total: int = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await ws.recv(decode=False)
        started = time.perf_counter()
        for _ in range(total - 1):
            await ws.recv(decode=False)
        return (total - 1) / (time.perf_counter() - started)


def _baseline(messages: list[str]) -> float:
    """``json.loads`` and plain dicts, exact decimals: what a straightforward client does."""
    scale_p = Decimal(10) ** INSTRUMENT.price_precision
    scale_q = Decimal(10) ** INSTRUMENT.size_precision
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    out: list[dict[str, Any]] = []
    started = time.perf_counter()
    for message in messages:
        wrapper = json.loads(message)
        data = wrapper["data"]
        stream = wrapper["stream"]
        if stream.endswith("@trade"):
            out.append(
                {
                    "instrument_id": 1,
                    "ts_event": data["T"] * 1_000_000,
                    "ts_recv": time.time_ns(),
                    "price": int(Decimal(data["p"]) * scale_p),
                    "quantity": int(Decimal(data["q"]) * scale_q),
                    "trade_id": data["t"],
                    "aggressor": 2 if data["m"] else 1,
                }
            )
        elif stream.endswith("@bookTicker"):
            out.append(
                {
                    "instrument_id": 1,
                    "ts_recv": time.time_ns(),
                    "bid": int(Decimal(data["b"]) * scale_p),
                    "bid_size": int(Decimal(data["B"]) * scale_q),
                    "ask": int(Decimal(data["a"]) * scale_p),
                    "ask_size": int(Decimal(data["A"]) * scale_q),
                    "update_id": data["u"],
                }
            )
        else:
            for side, key in ((bids, "b"), (asks, "a")):
                for price, qty in data[key]:
                    p = int(Decimal(price) * scale_p)
                    q = int(Decimal(qty) * scale_q)
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)
            out.append(
                {
                    "instrument_id": 1,
                    "ts_recv": time.time_ns(),
                    "bids": sorted(bids.items(), reverse=True)[:10],
                    "asks": sorted(asks.items())[:10],
                    "update_id": data["u"],
                }
            )
        if len(out) > 4096:
            out.clear()
    return len(messages) / (time.perf_counter() - started)


def _serve_orders(pipe: Connection) -> None:
    """Child process: the mock Binance (REST) with order-count limits out of the way."""
    from qk.venues.binance.mock.server import MockBinanceServer, MockConfig

    async def main() -> None:
        server = MockBinanceServer(
            MockConfig(api_key=_KEY, api_secret=_SECRET, spot_weight_per_minute=10**9)
        )
        await server.start()
        limits = server.mock.limiters["spot"].config
        limits.orders_per_10s = limits.orders_long = 10**9
        pipe.send(server.port)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await server.stop()

    asyncio.run(main())


_KEY = "benchKey" + "0" * 56
_SECRET = "benchSecret" + "0" * 53


async def _order_rtts(port: int, orders: int) -> tuple[list[float], list[float]]:
    import aiohttp

    from qk.orders import ClientOrderIdGenerator, Order
    from qk.schemas.enums import OrderType, Side, TimeInForce
    from qk.venues.binance.gateway import BinanceGateway
    from qk.venues.binance.instruments import SymbolRegistry
    from qk.venues.binance.ratelimit import DAY_MS, RateLimits
    from qk.venues.binance.rest import BinanceRestClient, RestConfig

    base = f"http://127.0.0.1:{port}"
    config = RestConfig(
        _KEY, _SECRET, spot_url=base, spot_limits=RateLimits(10**9, 10**9, 10**9, DAY_MS)
    )
    pings: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(orders + 20):
            started = time.perf_counter()
            async with session.get(base + "/api/v3/ping") as resp:
                await resp.read()
            pings.append(time.perf_counter() - started)
    rtts: list[float] = []
    async with BinanceRestClient(config) as rest:
        await rest.sync_time("spot")
        registry = SymbolRegistry("spot")
        gateway = BinanceGateway(rest, registry)
        await gateway.refresh_instruments()
        instrument = next(i for i in registry.instruments() if i.symbol == SYMBOL)
        registry.add_instrument(instrument)
        ids = ClientOrderIdGenerator(1)
        for index in range(orders + 20):  # the first 20 warm the connection up
            order = Order(
                client_order_id=ids.next(),
                instrument_id=instrument.instrument_id,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=100,  # 0.001 BTC
                price=3_900_000,  # 39000.00 USDT
                time_in_force=TimeInForce.IOC,
            )
            started = time.perf_counter()
            outcome = await gateway.place(order)
            elapsed = time.perf_counter() - started
            if outcome.error is not None or not order.is_terminal:
                raise RuntimeError(f"benchmark order {index} did not complete: {outcome.error}")
            if index >= 20:
                rtts.append(elapsed)
    return rtts, pings[20:]


def _order_round_trip(quick: bool) -> dict[str, float]:
    orders = 200 if quick else 2000
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve_orders, args=(child,), daemon=True)
    server.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("benchmark: the order mock did not start")
        port = parent.recv()
        rtts, pings = asyncio.run(_order_rtts(port, orders))
        parent.send(None)
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    rtt = statistics.median(rtts) * 1e6
    ping = statistics.median(pings) * 1e6
    return {
        "binance_order_rtt_p50_us": rtt,
        "binance_order_ping_p50_us": ping,
        "binance_order_rtt_vs_ping": rtt / ping,
    }


def run(quick: bool) -> dict[str, float]:
    """Run the suite.

    Args:
        quick: Fewer messages and repeats (CI mode, well under 30 s).

    Returns:
        The metrics named in the module docstring.
    """
    count = 30_000 if quick else 200_000
    repeats = 1 if quick else 3
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(child, count), daemon=True)
    server.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("benchmark: the mock did not start")
        port, runs = parent.recv()

        async def measure() -> dict[str, list[float]]:
            results: dict[str, list[float]] = {"mixed": [], "trades": [], "recv": []}
            for _ in range(repeats):
                results["mixed"].append(await _through_feed(parent, port, "mixed", MIXED))
                results["trades"].append(await _through_feed(parent, port, "trades", TRADES))
                results["recv"].append(await _recv_only(parent, port))
            return results

        results = asyncio.run(measure())
        baseline = statistics.median(_baseline(runs["mixed"]) for _ in range(repeats))
        parent.send(None)
    finally:
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
    mixed = statistics.median(results["mixed"])
    return {
        "binance_ws_msgs_per_s": mixed,
        "binance_ws_trade_msgs_per_s": statistics.median(results["trades"]),
        "binance_ws_recv_only_msgs_per_s": statistics.median(results["recv"]),
        "binance_ws_baseline_msgs_per_s": baseline,
        "binance_ws_vs_baseline": mixed / baseline,
        **_order_round_trip(quick),
    }
