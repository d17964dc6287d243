"""``qk-bench sweep``: parameter sets of the EMA-cross momentum strategy per second.

Both paths run ``configs/momentum_sim.toml`` over the same seeded synthetic trades
(``qk.backtest.cli.load_trades``: 1,000,000 trades, ``--quick`` 100,000), same parameter grid:

* ``sweep_vectorized_params_per_s``: the numba kernel (``qk.research.vectorized.evaluate``), all
  cores, 1,000 parameter sets in one call; the tape preparation (bars, once per tape) is not in
  this rate; JIT compilation is warmed up first.
* ``sweep_event_params_per_s``: the baseline, the event-driven ``run_backtest`` on one parameter
  set per process, one process per core, two sets per core.
* ``sweep_1000_params_seconds``: the issue's target, 1,000 parameter sets end to end through the
  vectorised path (tape preparation included): < 60 s on 2 cores over 1 M trades.
* ``sweep_vectorized_over_event``: the ratio of the two rates, measured in the same run.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.backtest.cli import load_trades
from qk.backtest.engine import run_backtest
from qk.strategy import Deployment, load_descriptor

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "momentum_sim.toml"
TRADES = 1_000_000
QUICK_TRADES = 100_000
PARAM_SETS = 1_000


def _grid(count: int) -> list[dict[str, object]]:
    # fast 2..41 x slow 45..69: 1,000 distinct sets, every one with fast < slow.
    sets: list[dict[str, object]] = [
        {"fast": f, "slow": s} for f in range(2, 42) for s in range(45, 70)
    ]
    return sets[:count]


_STATE: dict[str, Any] = {}


def _init(path: str, count: int) -> None:
    deployment = load_descriptor(path)
    _STATE["deployment"] = deployment
    _STATE["trades"] = load_trades(deployment, None, count=count)


def _one(params: dict[str, object]) -> int:
    deployment: Deployment = _STATE["deployment"]
    trades: npt.NDArray[np.void] = _STATE["trades"]
    return len(run_backtest(deployment, trades, params=params).orders)


def _event_rate(count: int, sets: list[dict[str, object]]) -> float:
    cpus = os.cpu_count() or 1
    work = sets[: 2 * cpus]
    # fork: the workers inherit nothing numba started (this runs before any kernel call).
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        cpus, context, initializer=_init, initargs=(str(CONFIG), count)
    ) as pool:
        list(pool.map(_one, work[:cpus]))  # every worker loaded its tape before timing
        start = time.perf_counter()
        list(pool.map(_one, work))
        elapsed = time.perf_counter() - start
    return len(work) / elapsed


def run(quick: bool) -> dict[str, float]:
    """Measure both paths on the same tape and grid; see the module docstring."""
    from qk.research.vectorized import evaluate, prepare_tape

    count = QUICK_TRADES if quick else TRADES
    sets = _grid(PARAM_SETS)
    event = _event_rate(count, sets)
    deployment = load_descriptor(CONFIG)
    trades = load_trades(deployment, None, count=count)
    evaluate(prepare_tape(deployment, trades[: min(count, 20_000)]), sets[:2])  # JIT warm-up
    start = time.perf_counter()
    tape = prepare_tape(deployment, trades)
    prepared = time.perf_counter()
    results = evaluate(tape, sets)
    done = time.perf_counter()
    refused = [r for r in results if isinstance(r, Exception)]
    if refused:
        raise RuntimeError(f"{len(refused)} parameter sets refused, first: {refused[0]}")
    vectorized = len(sets) / (done - prepared)
    return {
        "sweep_vectorized_params_per_s": vectorized,
        "sweep_event_params_per_s": event,
        "sweep_1000_params_seconds": (done - start) * PARAM_SETS / len(sets),
        "sweep_vectorized_over_event": vectorized / event,
        "sweep_trades": float(count),
    }
