"""``aggregator``: trades from ``md`` → the trades and the bars they publish → ring ``bars``.

Per trade, in ring order: the TradeEvent itself, then every bar that trade published (the
per-record path of :class:`qk.bars.BarAggregator`, one aggregator per instrument with the
deployment's timeframes and the backtest's feed rules). That is the order in which the in-process
engine delivers ``on_tick`` and ``on_bar``, so a strategy sees the same interleaving. A bar gets
the ``corr_id`` of the trade that published it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from qk.bars import BarAggregator
from qk.runtime.node import POLL_S, DrainClock, Node, write_report
from qk.runtime.plan import SessionPlan, plan_from_environment
from qk.runtime.wire import RingReader, RingWriter
from qk.schemas import dtype_of
from qk.strategy import load_descriptor

__all__ = ["CONSUMER", "PROCESS", "BarStage", "main"]

PROCESS: Final = "aggregator"
CONSUMER: Final = "aggregator"
_TRADE: Final = dtype_of("TradeEvent")


class BarStage:
    """The aggregator's work on one batch of trades, with no rings (replay runs it too)."""

    def __init__(self, aggregators: dict[int, BarAggregator]) -> None:
        self.aggregators = aggregators
        self.bars = 0

    def process(self, trades: npt.NDArray[np.void]) -> list[npt.NDArray[np.void] | np.void]:
        """The records to publish for ``trades``: each trade followed by the bars it published."""
        out: list[npt.NDArray[np.void] | np.void] = []
        for trade in trades:
            out.append(trade)
            agg = self.aggregators.get(int(trade["instrument_id"]))
            if agg is None:
                continue
            if agg.on_trade(
                int(trade["ts_event"]),
                int(trade["ts_recv"]),
                int(trade["price"]),
                int(trade["quantity"]),
                int(trade["venue_trade_id"]),
            ):
                bars = agg.take_bars()
                bars["corr_id"] = trade["corr_id"]
                out.extend(bars)
                self.bars += len(bars)
        return out


def bar_stage(plan: SessionPlan) -> BarStage:
    """The session's aggregators: one per deployed instrument, the deployment's timeframes."""
    deployment = load_descriptor(plan.descriptor)
    return BarStage(
        {
            i.instrument_id: BarAggregator(deployment.timeframes, instrument_id=i.instrument_id)
            for i in deployment.instruments
        }
    )


def run_aggregator(node: Node, plan: SessionPlan) -> None:
    """Aggregate until ``md`` is closed and drained (or stopping and it went quiet)."""
    stage = bar_stage(plan)
    reader = RingReader(plan.md, CONSUMER)
    writer = RingWriter(plan.bars, beat=node.beat)
    drain = DrainClock()
    try:
        while not reader.closed:
            node.beat()
            slots = reader.poll_slots(POLL_S)
            if len(slots) == 0:
                if node.stopping and drain.expired:
                    break
                continue
            drain.progressed()
            writer.write(stage.process(slots.view(_TRADE).reshape(-1)))
    finally:
        writer.close()
        reader.close()
    write_report(plan.report_path(PROCESS), {"trades": reader.read, "bars": stage.bars})
    node.log.info("aggregator.closed", trades=reader.read, bars=stage.bars)


def main() -> int:
    """Entry of the aggregator process (``qk.runtime.aggregator:main``)."""
    node = Node(PROCESS)
    run_aggregator(node, plan_from_environment())
    return 0
