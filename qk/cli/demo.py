"""``qk demo``: the embedded default session of the Foundation.

A simulated trade feed publishes TradeEvent records into a shared-memory ring; the WAL writer runs
as its own process, consumes the ring and group-commits the log; then the log is replayed and every
record compared, byte for byte, with what the feed published. The report says what went through,
how fast, and whether the replay matched. (Later issues make this a backtest and a paper session.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson

from qk.instruments import InstrumentMaster
from qk.marketdata.sim import SIM_BTCUSDT, random_walk_trades
from qk.rings import Ring, cleanup_stale
from qk.schemas import SCHEMA_HASH, dtype_of
from qk.schemas.fixed import from_raw
from qk.wal import DurableMark, WalReader

SLOT_SIZE = 128
FEED_BATCH = 512
MD_STREAM = 1


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo measured; written to ``report.json``."""

    records: int
    instrument: str
    first_ts_event: int
    last_ts_event: int
    open: str
    high: str
    low: str
    close: str
    vwap: str
    volume: str
    feed_records_per_s: float
    wal_durable_seq: int
    wal_segments: int
    wal_bytes: int
    replay_records_per_s: float
    replay_matches: bool
    wal_dir: str


def run_demo(out: Path, records: int = 200_000, seed: int = 7) -> DemoReport:
    """Run the demo session into ``out`` (replacing a previous demo there) and return its report."""
    session = f"demo-{int(time.time() * 1e6) % 10**10}"
    wal_dir = out / "wal"
    if wal_dir.exists():
        shutil.rmtree(wal_dir)
    wal_dir.mkdir(parents=True)
    cleanup_stale(prefix="qk.demo-")

    trades = random_walk_trades(SIM_BTCUSDT, records, seed=seed)
    master = InstrumentMaster.create(session, [SIM_BTCUSDT], replace=True)
    ring = Ring.create(
        f"{session}.md",
        slot_size=SLOT_SIZE,
        capacity=1 << 14,
        schema_hash=SCHEMA_HASH,
        stream_id=MD_STREAM,
        replace=True,
    )
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qk.wal.service",
            "--dir",
            str(wal_dir),
            "--name",
            session,
            "--ring",
            f"{ring.name}:{MD_STREAM}",
            "--stop-when-closed",
        ],
    )
    try:
        _wait_for(lambda: bool(ring.consumers()) or writer.poll() is not None, 30, "WAL writer")
        if writer.poll() is not None:
            raise RuntimeError(f"the WAL writer exited early with code {writer.returncode}")
        feed_rate = _publish(ring, trades)
        ring.close()  # closed ring: the writer drains it, syncs and exits
        if writer.wait(timeout=120) != 0:
            raise RuntimeError(f"the WAL writer failed with exit code {writer.returncode}")
        with DurableMark.attach(session) as mark:
            durable = mark.durable
        replayed, replay_rate = _replay(wal_dir, trades.dtype.itemsize)
    finally:
        if writer.poll() is None:
            writer.terminate()
            writer.wait(10)
        ring.close()
        ring.unlink()
        master.close()
        master.unlink()
        DurableMark.unlink(session)

    matches = replayed.shape == trades.shape and replayed.tobytes() == trades.tobytes()
    report = _summarise(trades, durable, wal_dir, feed_rate, replay_rate, matches)
    (out / "report.json").write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2))
    return report


def _publish(ring: Ring, trades: np.ndarray) -> float:
    """Publish the trades in batches as a feed would: stamp receive time, write, next batch."""
    producer = ring.producer()
    t0 = time.perf_counter()
    for start in range(0, len(trades), FEED_BATCH):
        batch = trades[start : start + FEED_BATCH]
        batch["ts_recv"] = time.time_ns()
        producer.write_batch(batch, timeout=30)
    return len(trades) / max(time.perf_counter() - t0, 1e-9)


def _replay(wal_dir: Path, record_size: int) -> tuple[np.ndarray, float]:
    """Every TradeEvent in the log, in log order, and the replay rate."""
    dtype = dtype_of("TradeEvent")
    parts = []
    t0 = time.perf_counter()
    with WalReader(wal_dir) as reader:
        for batch in reader.batches():
            parts.append(batch.records(record_size).view(dtype).ravel())
    elapsed = time.perf_counter() - t0
    out = np.concatenate(parts) if parts else np.zeros(0, dtype)
    return out, len(out) / max(elapsed, 1e-9)


def _summarise(
    trades: np.ndarray,
    durable: int,
    wal_dir: Path,
    feed_rate: float,
    replay_rate: float,
    matches: bool,
) -> DemoReport:
    p, q = SIM_BTCUSDT.price_precision, SIM_BTCUSDT.size_precision
    prices = trades["price"].astype(object)
    quantities = trades["quantity"].astype(object)
    notional = int(np.sum(prices * quantities))  # exact: Python ints
    volume = int(np.sum(quantities))
    vwap = (Decimal(notional) / Decimal(volume) / Decimal(10) ** p).quantize(Decimal(1).scaleb(-p))
    segments = sorted(wal_dir.glob("*.wal"))
    return DemoReport(
        records=len(trades),
        instrument=f"{SIM_BTCUSDT.symbol}.{SIM_BTCUSDT.venue.name}",
        first_ts_event=int(trades["ts_event"][0]),
        last_ts_event=int(trades["ts_event"][-1]),
        open=str(from_raw(int(trades["price"][0]), p)),
        high=str(from_raw(int(trades["price"].max()), p)),
        low=str(from_raw(int(trades["price"].min()), p)),
        close=str(from_raw(int(trades["price"][-1]), p)),
        vwap=str(vwap),
        volume=str(from_raw(volume, q)),
        feed_records_per_s=round(feed_rate, 1),
        wal_durable_seq=durable,
        wal_segments=len(segments),
        wal_bytes=sum(s.stat().st_size for s in segments),
        replay_records_per_s=round(replay_rate, 1),
        replay_matches=matches,
        wal_dir=str(wal_dir),
    )


def _wait_for(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not start within {timeout:.0f}s")
        time.sleep(0.005)
