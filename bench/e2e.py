"""``qk-bench e2e``: tick -> order latency through the paper pipeline, against the same pipeline
wired with ``multiprocessing.Queue`` in the same run.

Ring pipeline: a real ``qk start``-style session (supervisor, feed, aggregator, strategy host, OMS,
WAL writer; spin-then-block waits, unpinned) running :class:`qk.bench.e2e_strategy.TickTrader`. A
tap in this process reads ``md`` and ``exec`` (lossy consumers) and takes, per order, the wall time
it read the order's first OrderUpdate minus the wall time the feed published the trade the order was
decided on (the trade's ``ts_recv``; the update carries the trade's ``corr_id``).

Queue pipeline: the same components' cores (``BarStage``, ``StrategyHost``, ``OmsCore``) in four
processes (feed, aggregator, strategy, OMS) joined by ``multiprocessing.Queue`` (one record per
message, pickled bytes), the OMS sending ``(trade ts_recv, order)`` back to this process. No WAL
writer and no fills back to the strategy: the queue wiring carries only the forward path, which flatters
it.

Keys: ``e2e_p50_us``, ``e2e_p99_us``, ``e2e_p999_us``, ``e2e_samples``, ``e2e_queue_p50_us``,
``e2e_queue_p99_us``, ``e2e_queue_samples``, ``e2e_queue_over_ring_p50`` (how many times slower the
queue wiring is at the median). No per-stage keys yet: the processes do not stamp their own times.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from qk.rings import BackPressure, Ring, RingNotFoundError
from qk.runtime.aggregator import bar_stage
from qk.runtime.feed import trade_chunks
from qk.runtime.oms_process import OmsCore
from qk.runtime.plan import SessionPlan
from qk.runtime.session import SessionOptions, start_session
from qk.runtime.strategy_host import StrategyHost
from qk.schemas import as_record, dtype_of
from qk.schemas.enums import RecordType
from qk.strategy import load_descriptor

_DESCRIPTOR = """
mode = "paper"

[strategy]
class = "qk.bench.e2e_strategy:TickTrader"
id = 5

[market]
venue = "SIM"
instruments = ["BTCUSDT"]
timeframes = ["1s"]

[account]
capital = "1000000"
currency = "USDT"

[models]
latency = "0"

[risk]
max_orders_per_window = 1000000
rate_window_ns = 1_000_000_000
"""

_SPEED = 20.0
_INTERVAL_MS = 50.0


def _percentiles(samples: list[float], prefix: str) -> dict[str, float]:
    if not samples:
        return {f"{prefix}_samples": 0.0}
    array = np.asarray(samples) / 1e3
    out = {
        f"{prefix}_p50_us": float(np.percentile(array, 50)),
        f"{prefix}_p99_us": float(np.percentile(array, 99)),
        f"{prefix}_samples": float(len(array)),
    }
    if prefix == "e2e":
        out["e2e_p999_us"] = float(np.percentile(array, 99.9))
    return out


def _attach(name: str, timeout: float) -> Ring:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Ring.attach(name)
        except RingNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _ring_pipeline(folder: Path, duration: float) -> list[float]:
    descriptor = folder / "e2e.toml"
    descriptor.write_text(_DESCRIPTOR)
    session = f"bench-e2e-{os.getpid()}"
    thread = threading.Thread(
        target=start_session,
        args=(SessionOptions(descriptor=descriptor, session=session, root=folder / "sessions",
                             speed=_SPEED, interval_ms=_INTERVAL_MS, duration=duration),),
    )  # fmt: skip
    thread.start()
    md = _attach(f"{session}.md", 30)
    exec_ = _attach(f"{session}.exec", 30)
    md_tap = md.consumer("bench.tap", BackPressure.LOSSY, start="earliest")
    exec_tap = exec_.consumer("bench.tap", BackPressure.LOSSY, start="earliest")
    md_buf = np.zeros((1024, md.slot_size), np.uint8)
    exec_buf = np.zeros((256, exec_.slot_size), np.uint8)
    published: dict[int, int] = {}
    seen: set[int] = set()
    samples: list[float] = []
    trade = dtype_of("TradeEvent")
    while thread.is_alive():
        try:
            count = md_tap.read_batch(md_buf, timeout=0)
            if count:
                trades = md_buf[:count].view(trade).reshape(-1)
                published.update(
                    zip(trades["corr_id"].tolist(), trades["ts_recv"].tolist(), strict=True)
                )
            count = exec_tap.read_batch(exec_buf, timeout=0.0005)
        except EOFError:
            break
        now = time.time_ns()
        for slot in exec_buf[:count]:
            rec = as_record(slot)[0]
            if int(rec["type"]) != RecordType.ORDER_UPDATE:
                continue
            order = int(rec["client_order_id"])
            sent = published.get(int(rec["corr_id"]))
            if order not in seen and sent is not None:
                seen.add(order)
                samples.append(now - sent)
    md.close()
    exec_.close()
    thread.join()
    return samples


def _q_feed(plan: SessionPlan, to_agg: Any, to_oms: Any, count: int) -> None:
    deployment = load_descriptor(plan.descriptor)
    trades = next(trade_chunks(plan, deployment.instruments[0]))[:count]
    ts = trades["ts_event"]
    wall0, ts0 = time.monotonic(), int(ts[0])
    for i in range(len(trades)):
        wait = (int(ts[i]) - ts0) / (_SPEED * 1e9) - (time.monotonic() - wall0)
        if wait > 0:
            time.sleep(wait)
        record = trades[i : i + 1].copy()
        record["seq"] = i
        record["corr_id"] = i + 1
        record["ts_recv"] = time.time_ns()
        raw = record.tobytes()
        to_agg.put(raw)
        to_oms.put(("md", raw))
    to_agg.put(None)
    to_oms.put(None)


def _q_agg(plan: SessionPlan, inbox: Any, out: Any) -> None:
    stage = bar_stage(plan)
    trade = dtype_of("TradeEvent")
    while (raw := inbox.get()) is not None:
        for record in stage.process(np.frombuffer(raw, trade)):
            out.put(np.asarray(record).tobytes())
    out.put(None)


def _q_strategy(plan: SessionPlan, inbox: Any, out: Any) -> None:
    deployment = load_descriptor(plan.descriptor)
    host = StrategyHost(deployment, lambda record: out.put(("intent", record.tobytes())))
    host.start()
    while (raw := inbox.get()) is not None:
        host.on_market(as_record(np.frombuffer(raw, np.uint8)).copy())
    out.put(None)


def _q_oms(plan: SessionPlan, inbox: Any, out: Any) -> None:
    deployment = load_descriptor(plan.descriptor)
    sent: dict[int, int] = {}
    seen: set[int] = set()

    def sink(record: Any) -> None:
        rec = np.asarray(record).reshape(-1)[0]
        if int(rec["type"]) == RecordType.ORDER_UPDATE and int(rec["client_order_id"]) not in seen:
            seen.add(int(rec["client_order_id"]))
            out.put(sent.get(int(rec["corr_id"]), 0))

    core = OmsCore(deployment, sink)
    core.start()
    pending: list[Any] = []
    ended = 0
    while ended < 2:
        message = inbox.get()
        if message is None:
            ended += 1
            continue
        kind, raw = message
        record = as_record(np.frombuffer(raw, np.uint8)).copy()
        if kind == "md":
            sent[int(record[0]["corr_id"])] = int(record[0]["ts_recv"])
            core.on_trades(record)
        else:
            pending.append(record)
        while pending and int(pending[0][0]["corr_id"]) <= core.md_done:
            core.on_intent(pending.pop(0))
    out.put(None)


def _queue_pipeline(folder: Path, count: int) -> list[float]:
    descriptor = folder / "e2e-queue.toml"
    descriptor.write_text(_DESCRIPTOR)
    plan = SessionPlan(
        session="benchq", session_dir=str(folder), wal_dir=str(folder / "wal"),
        descriptor=str(descriptor), strategy_ids=(5,), speed=_SPEED, interval_ms=_INTERVAL_MS,
    )  # fmt: skip
    ctx = mp.get_context("fork")
    to_agg, to_strategy, to_oms, results = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(target=_q_oms, args=(plan, to_oms, results)),
        ctx.Process(target=_q_strategy, args=(plan, to_strategy, to_oms)),
        ctx.Process(target=_q_agg, args=(plan, to_agg, to_strategy)),
        ctx.Process(target=_q_feed, args=(plan, to_agg, to_oms, count)),
    ]
    for proc in procs:
        proc.start()
    samples: list[float] = []
    while (sent := results.get()) is not None:
        if sent:
            samples.append(time.time_ns() - sent)
    for proc in procs:
        proc.join()
    return samples


def run(quick: bool) -> dict[str, float]:
    """Both wirings; returns the keys in the module docstring."""
    duration = 12.0 if quick else 30.0
    trades = int((duration - 5) * _SPEED * 1000 / _INTERVAL_MS)
    with tempfile.TemporaryDirectory(prefix="qk-bench-e2e-") as tmp:
        folder = Path(tmp)
        ring = _ring_pipeline(folder, duration)
        queue = _queue_pipeline(folder, trades)
    metrics = {**_percentiles(ring, "e2e"), **_percentiles(queue, "e2e_queue")}
    if ring and queue:
        metrics["e2e_queue_over_ring_p50"] = metrics["e2e_queue_p50_us"] / metrics["e2e_p50_us"]
    return metrics
