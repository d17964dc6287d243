"""``qk mock-venue binance``: arguments, fault flags, serving and replaying the fixture tape."""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import pytest

from qk.venues.binance.mock.cli import MockVenueArgumentError, build_server, register, serve
from qk.venues.binance.mock.data import MockDataError
from qk.venues.binance.mock.faults import FaultSpecError
from qk.venues.binance.mock.server import MockBinanceServer
from tests.venues.binance.mock.conftest import FIXTURES


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser.parse_args(["mock-venue", "binance", *argv])


def test_arguments_build_a_configured_server() -> None:
    args = _parse(
        "--port",
        "0",
        "--api-key",
        "k" * 64,
        "--api-secret",
        "s" * 64,
        "--fault",
        "delay=5",
        "--fault",
        "error-after-accept=2",
        "--fault",
        "duplicate",
    )
    server = build_server(args)
    assert server.mock.config.api_key == "k" * 64
    faults = server.mock.faults
    assert (faults.delay_ms, faults.error_after_accept, faults.duplicate_events) == (5, 2, True)
    assert callable(args.func)


def test_key_without_secret_is_refused() -> None:
    with pytest.raises(MockVenueArgumentError, match="--api-key and --api-secret"):
        build_server(_parse("--api-key", "k" * 64))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("delay=soon", "integer"),
        ("duplicate=1", "takes no value"),
        ("error-status=404", "out of range"),
    ],
)
def test_bad_fault_spec_is_named(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        build_server(_parse("--fault", spec))


def test_missing_data_dir_is_named(tmp_path: object) -> None:
    with pytest.raises(MockDataError, match="not a directory"):
        build_server(_parse("--data", "/nonexistent/fixtures"))


def test_register_shares_an_existing_mock_venue_parser() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    venues = sub.add_parser("mock-venue").add_subparsers(dest="venue", required=True)
    venues.add_parser("other")
    register(sub)
    assert parser.parse_args(["mock-venue", "binance"]).venue == "binance"
    assert parser.parse_args(["mock-venue", "other"]).venue == "other"


def test_serve_prints_urls_and_replays_the_fixture_tape() -> None:
    args = _parse("--data", str(FIXTURES), "--speed", "0")
    seen: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()

        async def ready(server: MockBinanceServer, lines: list[str]) -> None:
            seen["lines"] = lines
            async with (
                aiohttp.ClientSession() as session,
                session.get(server.base_url + "/api/v3/ping") as resp,
            ):
                seen["ping"] = await resp.json()
            for _ in range(200):
                if server.mock.spot.engine.last_price("BTCUSDT") is not None:
                    break
                await asyncio.sleep(0.01)
            seen["last"] = server.mock.spot.engine.last_price("BTCUSDT")
            stop.set()

        await serve(args, stop, ready)

    asyncio.run(main())
    assert seen["ping"] == {}
    lines = seen["lines"]
    assert (
        isinstance(lines, list)
        and any("/api" in line for line in lines)
        and any("/ws-api/v3" in line for line in lines)
    )
    assert seen["last"] is not None


def test_serve_streams_the_replayed_tape_when_market_streams_exist() -> None:
    pytest.importorskip("qk.venues.binance.mock.market")
    args = _parse("--data", str(FIXTURES), "--speed", "1")
    seen: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()

        async def ready(server: MockBinanceServer, lines: list[str]) -> None:
            seen["lines"] = lines
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(server.ws_url + "/ws/btcusdt@trade") as ws,
            ):
                message = await ws.receive_json(timeout=10)
            seen["message"] = message
            seen["engine_price"] = server.mock.spot.engine.last_price("BTCUSDT")
            stop.set()

        await serve(args, stop, ready)

    asyncio.run(main())
    message = seen["message"]
    assert isinstance(message, dict) and message["e"] == "trade" and message["s"] == "BTCUSDT"
    assert seen["engine_price"] is not None  # the same tape feeds the matching engine
    assert any("market streams" in line for line in seen["lines"])  # type: ignore[attr-defined]
