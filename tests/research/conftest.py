"""Descriptors and tapes for the research tests: momentum on 1-second bars, so a few thousand
trades give hundreds of bars and dozens of crosses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qk.marketdata.sim import SIM_BTCUSDT, random_walk_trades
from qk.strategy import Deployment, load_descriptor

MOMENTUM = Path(__file__).resolve().parents[2] / "strategies" / "momentum.py"

BASE_RISK = """
[risk]
max_order_quantity = "0.05"
max_position = "0.05"
max_orders_per_window = 10
rate_window_ns = 2_000_000_000
max_drawdown = "0.2"
"""


def descriptor_text(models: str = "", risk: str = BASE_RISK, strategy: str = "") -> str:
    """A momentum descriptor trading SIM BTCUSDT on 1s bars."""
    reference = strategy or f"{MOMENTUM}:Momentum"
    return f"""
mode = "backtest"
[strategy]
class = "{reference}"
id = 1
[strategy.params]
fast = 3
slow = 8
quantity = "0.01"
timeframe_ns = 1_000_000_000
[market]
venue = "SIM"
instruments = ["BTCUSDT"]
timeframes = ["1s"]
[account]
capital = "10000"
currency = "USDT"
[models]
{models}
{risk}
"""


@pytest.fixture
def make_deployment(tmp_path: Path) -> Callable[..., Deployment]:
    """Write a descriptor (see :func:`descriptor_text`) and load it."""
    counter = iter(range(1_000_000))

    def make(models: str = "", risk: str = BASE_RISK, strategy: str = "") -> Deployment:
        path = tmp_path / f"deployment{next(counter)}.toml"
        path.write_text(descriptor_text(models, risk, strategy))
        return load_descriptor(path)

    return make


def tape(count: int = 3_000, seed: int = 1) -> npt.NDArray[np.void]:
    """Seeded synthetic trades: 150 ms apart on average, up to 0.015 BTC each (so a 0.01 BTC
    order often fills in part), 3 bps volatility per trade."""
    return random_walk_trades(
        SIM_BTCUSDT, count, seed=seed, mean_interval_ms=150.0, max_lots=1_500,
        volatility_bps=3.0,
    )  # fmt: skip
