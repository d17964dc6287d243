"""The obvious backtest loop: every trade through the whole per-record path.

``run_backtest`` must give exactly what this gives; it only does the work in another order
(docs/backtest.md, "How it is fast"). Kept as the oracle of ``tests/backtest/test_fast_path.py``
and as the baseline of ``qk-bench backtest``; it runs a few thousand trades a second.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from qk.backtest.engine import (
    BacktestResult,
    EquityPoint,
    _finish,
    _point,
    _result,
    _wire,
    session_starts,
)
from qk.bars import FeedConfig
from qk.strategy import Deployment

__all__ = ["run_per_record"]


def run_per_record(
    deployment: Deployment,
    trades: npt.NDArray[np.void],
    *,
    params: Mapping[str, object] | None = None,
    feed: FeedConfig | None = None,
) -> BacktestResult:
    """Run the deployment trade by trade: a day start when a trade reaches it, then
    ``OrderManager.process_record``, then the aggregator's ``on_trade`` and the bars it
    publishes, then an equity point after them. Same arguments and result as ``run_backtest``."""
    wiring = _wire(deployment, trades, params, feed)
    manager, sid = wiring.manager, wiring.strategy_id
    equity: list[EquityPoint] = []
    delivered = 0
    ts = trades["ts_event"]
    starts = session_starts(wiring.deployment.venue, int(ts[0]), int(ts[-1]))
    manager.start()
    for record in trades:
        ts_event = int(record["ts_event"])
        while starts and starts[0] <= ts_event:
            manager.start_session(starts.pop(0))
        manager.process_record(record)
        agg = wiring.aggregators[int(record["instrument_id"])]
        waiting = agg.on_trade(
            ts_event, int(record["ts_recv"]), int(record["price"]), int(record["quantity"]),
            int(record["venue_trade_id"]),
        )  # fmt: skip
        if waiting:
            for bar in agg.take_bars():
                manager.process_bar(bar)
                delivered += 1
            equity.append(_point(manager, sid, ts_event))
    delivered += _finish(wiring)
    equity.append(_point(manager, sid, int(ts[-1])))
    return _result(wiring, trades, equity, delivered)
