"""``feed:sim``: the simulated venue's live feed, paced in market time, into ring ``md``.

Trades come from the seeded random walk (``qk.marketdata.sim``), generated in chunks that
continue each other (price and time), or from a recording (``--data``). A trade is published
when the wall clock reaches its market time divided by the speed-up (``--speed``; 0 publishes as
fast as the ring takes them). Each published trade gets ``seq`` = its position in the feed,
``corr_id`` = position + 1 (the correlation id everything it causes carries) and ``ts_recv`` =
the wall time it was published.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from qk.instruments import Instrument
from qk.marketdata.sim import DEFAULT_START_NS, random_walk_trades
from qk.runtime.node import POLL_S, Node, write_report
from qk.runtime.plan import SessionPlan, plan_from_environment
from qk.runtime.wire import RingWriter, open_bell
from qk.schemas.fixed import from_raw
from qk.strategy import load_descriptor

__all__ = ["PROCESS", "main", "trade_chunks"]

PROCESS: Final = "feed:sim"
CHUNK: Final = 4096
_MAX_BATCH: Final = 1024


def trade_chunks(plan: SessionPlan, instrument: Instrument) -> Iterator[npt.NDArray[np.void]]:
    """The feed's trades, chunk after chunk, without a limit for the random walk.

    Same plan, same trades: chunk ``k`` of seed ``s`` is the walk seeded ``s * 65536 + k``,
    starting at the previous chunk's last price and time, its venue trade ids continuing.
    """
    if plan.data is not None:
        from qk.backtest.cli import load_trades

        deployment = load_descriptor(plan.descriptor)
        yield load_trades(deployment, Path(plan.data), round_values=plan.data_round)
        return
    price = "50000"
    start_ns = DEFAULT_START_NS
    index = 0
    while True:
        chunk = random_walk_trades(
            instrument,
            CHUNK,
            seed=plan.seed * 65_536 + index,
            start_price=price,
            start_ns=start_ns,
            mean_interval_ms=plan.interval_ms,
        )
        # Each chunk numbers its trades from 1; the venue's ids go on rising (the aggregator
        # drops a trade id it has seen as a duplicate).
        chunk["venue_trade_id"] += np.uint64(index * CHUNK)
        yield chunk
        price = str(from_raw(int(chunk["price"][-1]), instrument.price_precision))
        start_ns = int(chunk["ts_event"][-1])
        index += 1


def _limited(chunks: Iterator[npt.NDArray[np.void]], limit: int) -> Iterator[npt.NDArray[np.void]]:
    left = limit
    for chunk in chunks:
        if limit:
            if left <= 0:
                return
            chunk = chunk[:left]
            left -= len(chunk)
        yield chunk


def run_feed(node: Node, plan: SessionPlan) -> int:
    """Publish trades until stopped or the source ends; close ``md``. Returns trades published."""
    deployment = load_descriptor(plan.descriptor)
    instrument = deployment.instruments[0]
    writer = RingWriter(plan.md, beat=node.beat, bell=open_bell(plan.oms_bell))
    published = 0
    first_ts: int | None = None
    wall0 = 0.0
    try:
        for chunk in _limited(trade_chunks(plan, instrument), plan.records):
            ts = chunk["ts_event"]
            done = 0
            while done < len(chunk) and not node.stopping:
                node.beat()
                if first_ts is None:
                    first_ts, wall0 = int(ts[0]), time.monotonic()
                if plan.speed > 0:
                    elapsed_ns = (time.monotonic() - wall0) * plan.speed * 1e9
                    due = int(np.searchsorted(ts, first_ts + elapsed_ns, "right"))
                else:
                    due = len(chunk)
                due = min(due, done + _MAX_BATCH)
                if due <= done:
                    wait = (int(ts[done]) - first_ts) / (plan.speed * 1e9) - (
                        time.monotonic() - wall0
                    )
                    time.sleep(min(max(wait, 0.0), POLL_S))
                    continue
                batch = chunk[done:due].copy()
                positions = np.arange(published, published + len(batch), dtype=np.uint64)
                batch["seq"] = positions
                batch["corr_id"] = positions + np.uint64(1)
                batch["ts_recv"] = time.time_ns()
                writer.write_slots(batch)
                published += len(batch)
                done = due
            if node.stopping:
                break
    finally:
        writer.close()
    write_report(plan.report_path(PROCESS), {"published": published})
    node.log.info("feed.closed", published=published, stopped=node.stopping)
    return published


def main() -> int:
    """Entry of the feed process (``qk.runtime.feed:main``)."""
    node = Node(PROCESS)
    run_feed(node, plan_from_environment())
    return 0
