"""``qk-bench backtest``: the deterministic backtest's throughput and memory.

Over 1,000,000 seeded synthetic BTCUSDT trades (``random_walk_trades``, 20 a second, ~13.9 hours of
market; ``--quick``: 200,000), with the deployment of ``configs/momentum_sim.toml`` (fees, 1 bp
slippage, 5 ms latency, a drawdown limit):

* ``backtest_bar_strategy_ticks_per_s``: ``strategies/momentum.py`` on 1-minute bars, the whole
  ``run_backtest`` (bar schedule, OMS, equity curve) timed; median of three runs;
* ``backtest_tick_strategy_ticks_per_s``: a strategy whose Python ``on_tick`` counts trades and
  keeps the last price, called for every trade (it also gets the bars); median of three runs;
* ``backtest_tick_raw_loop_ticks_per_s``: the floor for that strategy, in the same run: a bare
  Python ``for`` loop handing every record of the array to the same ``on_tick``, and
  ``backtest_tick_overhead_ratio`` = raw loop / tick strategy (what the engine adds per trade);
* ``backtest_peak_rss_mb``: peak resident memory of a fresh process that builds the trades and
  runs the bar strategy over them (the trade array alone is 72 MB);
* ``backtest_reference_ticks_per_s``: the baseline, in the same run: the same bar strategy driven
  the obvious way, every trade through ``OrderManager.process_record`` and the aggregator's
  ``on_trade`` (``qk.backtest.reference.run_per_record``, timed over the first 100,000 trades; ``--quick``: 20,000), and
  ``backtest_speedup_vs_reference`` = bar strategy / reference.

The fast path and the reference give identical results (``tests/backtest/test_fast_path.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from qk.backtest import run_backtest
from qk.backtest.reference import run_per_record
from qk.marketdata.sim import SIM_BTCUSDT, random_walk_trades
from qk.strategy import Deployment, Strategy, load_descriptor

TRADES = 1_000_000
QUICK_TRADES = 200_000
SEED = 7
INTERVAL_MS = 50.0
MAX_LOTS = 5_000


class TickCounter(Strategy):
    """Trivial per-trade work: count trades and keep the last price."""

    def on_start(self) -> None:
        self.count = 0
        self.last = 0

    def on_tick(self, trade: np.void) -> None:
        self.count += 1
        self.last = trade["price"]


def _config() -> Path:
    for root in (Path(__file__).resolve().parents[1], Path.cwd()):
        path = root / "configs" / "momentum_sim.toml"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "configs/momentum_sim.toml: run qk-bench backtest from the project root"
    )


def _trades(count: int) -> npt.NDArray[np.void]:
    return random_walk_trades(
        SIM_BTCUSDT, count, seed=SEED, mean_interval_ms=INTERVAL_MS, max_lots=MAX_LOTS
    )


def _rate(deployment: Deployment, trades: npt.NDArray[np.void], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_backtest(deployment, trades)
        rates.append(len(trades) / (time.perf_counter() - start))
    return statistics.median(rates)


def _raw_tick_rate(trades: npt.NDArray[np.void], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        counter = TickCounter.__new__(TickCounter)
        counter.on_start()
        hook = counter.on_tick
        start = time.perf_counter()
        for record in trades:
            hook(record)
        rates.append(len(trades) / (time.perf_counter() - start))
    return statistics.median(rates)


def _reference_rate(deployment: Deployment, trades: npt.NDArray[np.void]) -> float:
    start = time.perf_counter()
    run_per_record(deployment, trades)
    return len(trades) / (time.perf_counter() - start)


_RSS_CHILD = """
import resource, sys
from pathlib import Path
from qk.bench.backtest import _trades, _quiet
from qk.backtest import run_backtest
from qk.strategy import load_descriptor
_quiet()
run_backtest(load_descriptor(Path(sys.argv[1])), _trades(int(sys.argv[2])))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_mb(config: Path, count: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(config), str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[-1]) / 1024  # ru_maxrss is KiB on Linux


def _quiet() -> None:
    """Strategy log lines would dominate: keep warnings only."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run(quick: bool) -> dict[str, float]:
    """Measure; ``quick`` runs 200k trades and fewer repeats."""
    _quiet()
    count = QUICK_TRADES if quick else TRADES
    repeats = 1 if quick else 3
    config = _config()
    bar_deployment = load_descriptor(config)
    tick_deployment: Any = dataclasses.replace(
        bar_deployment, strategy_class=TickCounter, params=TickCounter.Params()
    )
    trades = _trades(count)
    bar_rate = _rate(bar_deployment, trades, repeats)
    tick_rate = _rate(tick_deployment, trades, repeats)
    raw_tick_rate = _raw_tick_rate(trades, repeats)
    reference = _reference_rate(bar_deployment, trades[: count // 10])
    return {
        "backtest_bar_strategy_ticks_per_s": bar_rate,
        "backtest_tick_strategy_ticks_per_s": tick_rate,
        "backtest_tick_raw_loop_ticks_per_s": raw_tick_rate,
        "backtest_tick_overhead_ratio": raw_tick_rate / tick_rate,
        "backtest_reference_ticks_per_s": reference,
        "backtest_speedup_vs_reference": bar_rate / reference,
        "backtest_peak_rss_mb": _peak_rss_mb(config, count),
    }
