"""``qk-bench ring``: round-trip latency and throughput of the shared-memory ring across processes,
with ``multiprocessing.Queue`` and ``multiprocessing.Pipe`` measured in the same run as baselines.

Every figure comes from two real processes. Latency is a ping-pong of 64-byte records through the
Python API (``write`` / ``read_into``): the parent stamps ``perf_counter_ns`` before writing the
ping and after reading the pong. Throughput is timed in the consumer from its first record to its
last.

* ``ring_rtt_*``: the two processes pinned to different cores, busy-spin waits (each owns a core).
* ``ring_rtt_blocking_p50_us``: both pinned to the same core, spin-then-block waits with no spin
  budget (spinning only delays the peer that shares the core).
* ``ring_records_per_s`` / ``ring_batch_records_per_s``: default spin-then-block waits, different
  cores; per-record calls, then 256-record batches.

Each figure is the median over three independent runs (fresh process pairs).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from qk.rings import BackPressure, Ring, WaitStrategy

CTX = mp.get_context("fork")
RECORD = 64
BATCH = 256


# The CPUs this run may use, read once before anything is pinned (a forked child inherits its
# parent's pinning, so it must not read its own affinity to choose a core).
CPUS = sorted(os.sched_getaffinity(0))


def _pin(cpu: int) -> None:
    os.sched_setaffinity(0, {CPUS[cpu % len(CPUS)]})


def _unpin() -> None:
    os.sched_setaffinity(0, CPUS)


def _percentiles(samples_ns: np.ndarray) -> dict[str, float]:
    us = samples_ns / 1000.0
    return {
        "p50": float(np.percentile(us, 50)),
        "p99": float(np.percentile(us, 99)),
        "p999": float(np.percentile(us, 99.9)),
    }


def _spawn(target: Callable[..., None], *args: Any) -> mp.process.BaseProcess:
    proc = CTX.Process(target=target, args=args, daemon=True)
    proc.start()
    return proc


def _finish(proc: mp.process.BaseProcess) -> None:
    proc.join(60)
    if proc.is_alive():
        proc.kill()
        raise RuntimeError("benchmark peer did not finish")


# ---- ring ping-pong ------------------------------------------------------------------------------


def _ring_pong(ping: str, pong: str, n: int, cpu: int, wait: int, spins: int) -> None:
    _pin(cpu)
    rin, rout = Ring.attach(ping), Ring.attach(pong)
    c = rin.consumer("pong", BackPressure.BLOCK, WaitStrategy(wait), spins=spins, start="earliest")
    p = rout.producer(WaitStrategy(wait), spins)
    buf = bytearray(RECORD)
    for _ in range(n):
        c.read_into(buf)
        p.write(buf)
    rin.close()
    rout.close()


def ring_rtt(n: int, same_core: bool, wait: WaitStrategy, spins: int) -> np.ndarray:
    """Round-trip samples in ns through two rings between two processes."""
    tag = uuid.uuid4().hex[:8]
    ping = Ring.create(f"bench-ping-{tag}", slot_size=RECORD, capacity=1024)
    pong = Ring.create(f"bench-pong-{tag}", slot_size=RECORD, capacity=1024)
    try:
        _pin(0)
        c = pong.consumer("ping", BackPressure.BLOCK, wait, spins=spins, start="earliest")
        peer = _spawn(_ring_pong, ping.name, pong.name, n, 0 if same_core else 1, int(wait), spins)
        p = ping.producer(wait, spins)
        msg = bytes(RECORD)
        buf = bytearray(RECORD)
        samples = np.empty(n, np.int64)
        clock = time.perf_counter_ns
        for i in range(n):
            t0 = clock()
            p.write(msg)
            c.read_into(buf)
            samples[i] = clock() - t0
        _finish(peer)
        return samples[n // 10 :]  # drop the warm-up tenth
    finally:
        for r in (ping, pong):
            r.close()
            r.unlink()
        _unpin()


# ---- ring throughput -----------------------------------------------------------------------------


def _ring_drain(name: str, n: int, batch: int, cpu: int, out: Connection) -> None:
    _pin(cpu)
    ring = Ring.attach(name)
    c = ring.consumer("sink", start="earliest")
    got = 0
    if batch == 1:
        buf = bytearray(RECORD)
        c.read_into(buf)
        t0 = time.perf_counter_ns()
        got = 1
        read_into = c.read_into
        while got < n:
            read_into(buf)
            got += 1
    else:
        arr = np.empty(RECORD * batch, np.uint8)
        got = c.read_batch(arr)
        t0 = time.perf_counter_ns()
        read_batch = c.read_batch
        while got < n:
            got += read_batch(arr)
    elapsed = time.perf_counter_ns() - t0
    out.send((got - (1 if batch == 1 else 0), elapsed))
    ring.close()


def ring_throughput(n: int, batch: int) -> float:
    """Records per second from one process to another, per-record (batch=1) or batched."""
    name = f"bench-tput-{uuid.uuid4().hex[:8]}"
    ring = Ring.create(name, slot_size=RECORD, capacity=1 << 14)
    recv, send = CTX.Pipe(duplex=False)
    try:
        _pin(0)
        sink = _spawn(_ring_drain, name, n, batch, 1, send)
        while not ring.consumers():
            time.sleep(0.001)
        p = ring.producer()
        if batch == 1:
            msg = bytes(RECORD)
            write = p.write
            for _ in range(n):
                write(msg)
        else:
            block = np.zeros(RECORD * batch, np.uint8)
            write_batch = p.write_batch
            for _ in range(n // batch):
                write_batch(block)
        count, elapsed = recv.recv()
        _finish(sink)
        return float(count) / (elapsed / 1e9)
    finally:
        ring.close()
        ring.unlink()
        _unpin()


# ---- baselines -----------------------------------------------------------------------------------


def _queue_pong(q_in: Any, q_out: Any, n: int) -> None:
    _pin(1)
    for _ in range(n):
        q_out.put(q_in.get())


def queue_rtt(n: int) -> np.ndarray:
    q_in, q_out = CTX.Queue(), CTX.Queue()
    peer = _spawn(_queue_pong, q_in, q_out, n)
    _pin(0)
    msg = bytes(RECORD)
    samples = np.empty(n, np.int64)
    for i in range(n):
        t0 = time.perf_counter_ns()
        q_in.put(msg)
        q_out.get()
        samples[i] = time.perf_counter_ns() - t0
    _finish(peer)
    _unpin()
    return samples[n // 10 :]


def _pipe_pong(conn: Connection, n: int) -> None:
    _pin(1)
    for _ in range(n):
        conn.send_bytes(conn.recv_bytes())


def pipe_rtt(n: int) -> np.ndarray:
    a, b = CTX.Pipe()
    peer = _spawn(_pipe_pong, b, n)
    _pin(0)
    msg = bytes(RECORD)
    samples = np.empty(n, np.int64)
    for i in range(n):
        t0 = time.perf_counter_ns()
        a.send_bytes(msg)
        a.recv_bytes()
        samples[i] = time.perf_counter_ns() - t0
    _finish(peer)
    _unpin()
    return samples[n // 10 :]


def _queue_drain(q: Any, n: int, out: Connection) -> None:
    _pin(1)
    q.get()
    t0 = time.perf_counter_ns()
    for _ in range(n - 1):
        q.get()
    out.send((n - 1, time.perf_counter_ns() - t0))


def queue_throughput(n: int) -> float:
    q = CTX.Queue()
    recv, send = CTX.Pipe(duplex=False)
    peer = _spawn(_queue_drain, q, n, send)
    _pin(0)
    msg = bytes(RECORD)
    for _ in range(n):
        q.put(msg)
    count, elapsed = recv.recv()
    _finish(peer)
    _unpin()
    return float(count) / (elapsed / 1e9)


# ---- suite ---------------------------------------------------------------------------------------


def _median_of_runs(runs: int, measure: Callable[[], np.ndarray]) -> dict[str, float]:
    """Percentiles of each of ``runs`` fresh process pairs, then the median of each across runs.

    One run can land on a noisy stretch of a shared machine; the median of a few independent runs
    (each a new pair of processes, as pyperf does) is the figure that repeats.
    """
    per_run = [_percentiles(measure()) for _ in range(runs)]
    return {key: float(np.median([r[key] for r in per_run])) for key in per_run[0]}


def _median(runs: int, measure: Callable[[], float]) -> float:
    return float(np.median([measure() for _ in range(runs)]))


def timed_read_overshoot_us(timeout_s: float = 0.0002, reads: int = 50) -> float:
    """Median time past ``timeout_s`` that a timed read of an empty ring takes to give up, µs
    (how precisely a process that must also do other work can bound its wait)."""
    name = f"qkbench-timed-{os.getpid()}"
    with Ring.create(name, slot_size=64, capacity=64) as ring:
        consumer = ring.consumer("timed", wait=WaitStrategy.SPIN_THEN_BLOCK)
        over = []
        for _ in range(reads):
            start = time.perf_counter()
            consumer.read(timeout=timeout_s)
            over.append((time.perf_counter() - start - timeout_s) * 1e6)
    return float(np.median(over))


def run(quick: bool = False) -> dict[str, float]:
    """Run the suite; ``quick`` keeps it well under a minute."""
    scale = 1 if quick else 5
    runs = 3
    spin = _median_of_runs(
        runs,
        lambda: ring_rtt(20_000 * scale, same_core=False, wait=WaitStrategy.BUSY_SPIN, spins=0),
    )
    blocking = _median_of_runs(
        runs,
        lambda: ring_rtt(5_000 * scale, same_core=True, wait=WaitStrategy.SPIN_THEN_BLOCK, spins=0),
    )
    metrics = {
        "ring_rtt_p50_us": spin["p50"],
        "ring_rtt_p99_us": spin["p99"],
        "ring_rtt_p999_us": spin["p999"],
        "ring_rtt_blocking_p50_us": blocking["p50"],
        "ring_rtt_blocking_p99_us": blocking["p99"],
        "ring_records_per_s": _median(runs, lambda: ring_throughput(1_000_000 * scale, 1)),
        "ring_batch_records_per_s": _median(
            runs, lambda: ring_throughput(BATCH * 20_000 * scale, BATCH)
        ),
        "queue_rtt_p50_us": _median_of_runs(runs, lambda: queue_rtt(2_000 * scale))["p50"],
        "queue_records_per_s": _median(runs, lambda: queue_throughput(50_000 * scale)),
        "pipe_rtt_p50_us": _median_of_runs(runs, lambda: pipe_rtt(5_000 * scale))["p50"],
        "ring_timed_read_overshoot_us": timed_read_overshoot_us(),
    }
    metrics["ring_vs_queue_rtt_ratio"] = metrics["queue_rtt_p50_us"] / metrics["ring_rtt_p50_us"]
    metrics["ring_vs_queue_records_ratio"] = (
        metrics["ring_records_per_s"] / metrics["queue_records_per_s"]
    )
    return metrics
