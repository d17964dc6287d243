"""With helper H7's MarketReplay attached, its trades feed the matching engines of the same server."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from qk.venues.binance.mock.server import MockBinanceServer, MockConfig
from tests.venues.binance.mock.conftest import KEY, SECRET

market = pytest.importorskip("qk.venues.binance.mock.market")


def test_replay_trades_reach_the_matching_engine_and_market_routes_coexist() -> None:
    replay = market.MarketReplay(market.Market.SPOT, ("BTCUSDT",))
    server = MockBinanceServer(MockConfig(api_key=KEY, api_secret=SECRET), replay=replay)
    with server:
        server.call(
            lambda: replay.push_trade("BTCUSDT", "40000.00", "0.5", ts_ms=1_700_000_000_000)
        )
        assert server.call(lambda: server.mock.spot.engine.last_price("BTCUSDT")) == Decimal(
            "40000.00"
        )
        assert server.call(lambda: server.mock.spot.engine.liquidity("BTCUSDT")) == Decimal("0.5")
        depth = requests.get(server.base_url + "/api/v3/depth?symbol=BTCUSDT", timeout=5)
        assert depth.status_code == 200
        assert requests.get(server.base_url + "/api/v3/time", timeout=5).json()["serverTime"] > 0
