"""``qk mock-venue binance``: serve the mock exchange on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from qk.venues.binance.mock.data import TRADES_CSV, MockDataError, RecordedTrade, load_trades_csv
from qk.venues.binance.mock.faults import Faults, parse_fault
from qk.venues.binance.mock.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    MockBinanceServer,
    MockConfig,
)

if TYPE_CHECKING:
    from qk.venues.binance.mock.market import MarketReplay

ReadyCallback = Callable[[MockBinanceServer, list[str]], Awaitable[None]]


class MockVenueArgumentError(ValueError):
    """Command-line arguments that do not fit together."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``mock-venue binance`` to the ``qk`` parser (sharing ``mock-venue`` if it exists)."""
    venues = _venue_subparsers(sub)
    parser = venues.add_parser(
        "binance", help="mock Binance spot + USD-M futures (REST, WebSocket API, user streams)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--api-key", default=None, help="API key the mock accepts")
    parser.add_argument("--api-secret", default=None, help="HMAC secret of that key")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="FIXTURE_DIR",
        help="fixture tree (tests/fixtures/binance layout): exchangeInfo and recorded trades to replay",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay speed of the recorded trades: 1 real time, 10 ten times faster, 0 unthrottled",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault: delay=MS, error-after-accept=N, error-status=CODE, 429=N, "
        "duplicate, reorder, drop-after=N (repeatable)",
    )
    parser.set_defaults(func=handle)


def _venue_subparsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    existing = sub.choices.get("mock-venue")
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    parser = sub.add_parser("mock-venue", help="serve a protocol-faithful mock venue on loopback")
    return parser.add_subparsers(dest="venue", required=True)


def build_server(args: argparse.Namespace, replay: MarketReplay | None = None) -> MockBinanceServer:
    """The server the arguments describe (not started), serving ``replay``'s streams if given."""
    if (args.api_key is None) != (args.api_secret is None):
        raise MockVenueArgumentError("--api-key and --api-secret must be given together")
    if args.speed < 0:
        raise MockVenueArgumentError(f"--speed must be >= 0, got {args.speed}")
    faults = Faults()
    for spec in args.fault:
        parse_fault(spec, faults)
    if args.data is not None and not args.data.is_dir():
        raise MockDataError(f"--data {args.data}: not a directory")
    config = MockConfig(
        api_key=args.api_key or DEFAULT_API_KEY,
        api_secret=args.api_secret or DEFAULT_API_SECRET,
        data_dir=args.data,
        faults=faults,
    )
    return MockBinanceServer(config, host=args.host, port=args.port, replay=replay)


def _market_replay() -> MarketReplay | None:
    """A spot BTCUSDT replay serving the market streams, when the market module is installed."""
    if importlib.util.find_spec("qk.venues.binance.mock.market") is None:
        return None
    from qk.venues.binance.mock.market import Market, MarketReplay

    return MarketReplay(Market.SPOT, ("BTCUSDT",))


def urls(server: MockBinanceServer) -> list[str]:
    """The base URLs a client needs, one per line of output."""
    lines = [
        f"spot REST      {server.base_url}/api      (python-binance: client.API_URL)",
        f"futures REST   {server.base_url}/fapi     (python-binance: client.FUTURES_URL)",
        f"spot user data {server.ws_url}/ws-api/v3  (userDataStream.subscribe.signature)",
        f"futures user   {server.ws_url}/ws/<listenKey>",
    ]
    if server.serves_market_streams:
        lines.append(f"market streams {server.ws_url}/ws/<stream>, {server.ws_url}/stream?streams=")
    return lines


async def serve(
    args: argparse.Namespace, stop: asyncio.Event, on_ready: ReadyCallback | None = None
) -> None:
    """Serve until ``stop`` is set, replaying ``--data`` trades into the engines and streams."""
    replay = _market_replay()
    server = build_server(args, replay)
    trades_path = args.data / TRADES_CSV if args.data is not None else None
    trades = (
        load_trades_csv(trades_path) if trades_path is not None and trades_path.exists() else []
    )
    await server.start()
    speed = args.speed if args.speed > 0 else None
    replay_task: asyncio.Task[object] | None = None
    if trades and replay is not None:
        from qk.venues.binance.mock.market import load_recorded_trades

        assert trades_path is not None
        replay.load(load_recorded_trades(trades_path, "BTCUSDT"))
        replay_task = asyncio.create_task(replay.run(speed))
    elif trades:
        replay_task = asyncio.create_task(_replay(server, trades, speed))
    try:
        if on_ready is not None:
            await on_ready(server, urls(server))
        await stop.wait()
    finally:
        if replay_task is not None:
            replay_task.cancel()
        await server.stop()


async def _replay(
    server: MockBinanceServer, trades: list[RecordedTrade], speed: float | None
) -> None:
    """Feed the engines directly (no market streams) at ``speed`` (None: unthrottled)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    first = trades[0].ts_ms
    for trade in trades:
        if speed is not None:
            delay = started + (trade.ts_ms - first) / 1000 / speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)
        server.mock.on_trade(trade.symbol, trade.price, trade.qty, trade.ts_ms, trade.trade_id)


def handle(args: argparse.Namespace) -> int:
    """Run the mock until Ctrl-C; prints the base URLs once it listens."""

    async def printed(server: MockBinanceServer, lines: list[str]) -> None:
        print(f"mock Binance listening on {server.base_url} (Ctrl-C to stop)")
        for line in lines:
            print(line)
        sys.stdout.flush()

    async def main() -> None:
        await serve(args, asyncio.Event(), printed)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return 0
    return 0
