"""The ring across real processes: exactly-once in-order delivery, wrap-around, slow and killed
consumers, lossy gap accounting, and clean-up after a crashed session."""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing as mp
import os
import random
import signal
import struct
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.rings import (
    BackPressure,
    ConsumerBusyError,
    Ring,
    RingClosed,
    WaitStrategy,
    cleanup_stale,
    list_rings,
)

CTX = mp.get_context("fork")
SLOT = 64
MAGIC = 0xA5A5A5A5A5A5A5A5


def make_record(seq: int) -> bytes:
    head = struct.pack("<QQ", seq, seq ^ MAGIC)
    return head + bytes([seq & 0xFF]) * (SLOT - 16)


def check_record(raw: memoryview | bytes) -> int:
    seq, check = struct.unpack_from("<QQ", raw)
    if check != seq ^ MAGIC or bytes(raw[16:SLOT]) != bytes([seq & 0xFF]) * (SLOT - 16):
        raise AssertionError(f"torn or overwritten record at claimed seq {seq}")
    return int(seq)


def shared_array(n: int, dtype: str = "<i8") -> np.ndarray:
    """An array in anonymous shared memory, visible to forked children."""
    size = max(np.dtype(dtype).itemsize * n, 1)
    return np.frombuffer(mmap.mmap(-1, size), dtype=dtype)[:n]


def producer_main(name: str, total: int, batches: list[int], pace_every: int) -> None:
    ring = Ring.attach(name)
    p = ring.producer()
    seq = 0
    i = 0
    while seq < total:
        n = min(batches[i % len(batches)], total - seq)
        i += 1
        block = b"".join(make_record(s) for s in range(seq, seq + n))
        if n == 1:
            p.write(block, timeout=10)
        else:
            p.write_batch(block, timeout=10)
        seq += n
        if pace_every and i % pace_every == 0:
            time.sleep(0.0005)
    ring.close()  # marks the ring closed: consumers drain, then see RingClosed


def consumer_main(
    name: str,
    cname: str,
    policy: int,
    batch: int,
    slow_every: int,
    order: np.ndarray,
    count: np.ndarray,
    progress: np.ndarray,
    gaps_out: np.ndarray,
    auto_commit: bool,
    wait: int = int(WaitStrategy.SPIN_THEN_BLOCK),
) -> None:
    """Read until the ring closes; log each sequence in read order and count each one."""
    ring = Ring.attach(name)
    c = ring.consumer(
        cname, BackPressure(policy), WaitStrategy(wait), start="earliest", auto_commit=auto_commit
    )
    buf = np.zeros(SLOT * batch, np.uint8)
    view = memoryview(buf)
    k = int(progress[0])
    reads = 0
    with contextlib.suppress(RingClosed):  # the producer closed the ring: all read
        while True:
            n = c.read_batch(buf, timeout=10)
            if n == 0:
                raise AssertionError("consumer starved for 10 s")
            for j in range(n):
                seq = check_record(view[j * SLOT : (j + 1) * SLOT])
                order[k] = seq
                count[seq] += 1
                k += 1
            progress[0] = k
            if not auto_commit:
                c.commit()
            reads += 1
            if slow_every and reads % slow_every == 0:
                time.sleep(0.001)
    gaps_out[0] = c.gaps
    ring.close()


def join_all(procs: list[mp.process.BaseProcess], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.1, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            raise AssertionError(f"{proc.name} did not finish in {timeout}s")
        assert proc.exitcode == 0, f"{proc.name} exited with {proc.exitcode}"


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    capacity_log2=st.integers(2, 7),
    total=st.integers(1, 3000),
    producer_batches=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    consumer_batches=st.lists(st.integers(1, 64), min_size=2, max_size=3),
    slow=st.integers(0, 5),
    wait=st.sampled_from([WaitStrategy.SPIN_THEN_BLOCK, WaitStrategy.SPIN_THEN_YIELD]),
)
def test_blocking_consumers_read_every_record_once_in_order(
    capacity_log2: int,
    total: int,
    producer_batches: list[int],
    consumer_batches: list[int],
    slow: int,
    wait: WaitStrategy,
) -> None:
    name = f"test-mp-{uuid.uuid4().hex[:10]}"
    ring = Ring.create(name, slot_size=SLOT, capacity=1 << capacity_log2)
    try:
        consumers = []
        logs = []
        for idx, batch in enumerate(consumer_batches):
            order, count = shared_array(total), shared_array(total)
            progress, gaps = shared_array(1), shared_array(1)
            # The first consumer is the slow one when `slow` is set: the producer must wait for it.
            args = (
                name,
                f"c{idx}",
                int(BackPressure.BLOCK),
                batch,
                slow if idx == 0 else 0,
                order,
                count,
                progress,
                gaps,
                idx % 2 == 0,
                int(wait),
            )
            consumers.append(CTX.Process(target=consumer_main, args=args, name=f"consumer{idx}"))
            logs.append((order, count, progress, gaps))
        for proc in consumers:
            proc.start()
        _wait_for_consumers(ring, len(consumers))
        producer = CTX.Process(
            target=producer_main, args=(name, total, producer_batches, 0), name="producer"
        )
        producer.start()
        join_all([producer, *consumers])
        for order, count, progress, gaps in logs:
            assert int(progress[0]) == total
            assert order.tolist() == list(range(total))
            assert (count == 1).all()
            assert int(gaps[0]) == 0
    finally:
        ring.close()
        ring.unlink()


def test_busy_spin_consumer_on_shared_cores_still_reads_everything() -> None:
    total = 500
    name = f"test-spin-{uuid.uuid4().hex[:10]}"
    ring = Ring.create(name, slot_size=SLOT, capacity=16)
    try:
        logs = (shared_array(total), shared_array(total), shared_array(1), shared_array(1))
        spinner = CTX.Process(
            target=consumer_main,
            name="spinner",
            args=(
                name,
                "spin",
                int(BackPressure.BLOCK),
                4,
                0,
                *logs,
                True,
                int(WaitStrategy.BUSY_SPIN),
            ),
        )
        spinner.start()
        _wait_for_consumers(ring, 1)
        producer = CTX.Process(target=producer_main, args=(name, total, [3], 0), name="producer")
        producer.start()
        join_all([producer, spinner])
        assert logs[0][:total].tolist() == list(range(total))
    finally:
        ring.close()
        ring.unlink()


def _wait_for_consumers(ring: Ring, n: int) -> None:
    deadline = time.monotonic() + 20
    while len(ring.consumers()) < n:
        if time.monotonic() > deadline:
            raise AssertionError("consumers did not register")
        time.sleep(0.001)


@pytest.mark.parametrize("seed", range(4))
def test_consumer_sigkilled_mid_stream_resumes_from_its_cursor_and_nothing_is_lost(
    seed: int,
) -> None:
    rng = random.Random(seed)
    total = 20_000
    batch = 16
    name = f"test-kill-{uuid.uuid4().hex[:10]}"
    ring = Ring.create(name, slot_size=SLOT, capacity=64)
    try:
        first = (shared_array(total), shared_array(total), shared_array(1), shared_array(1))
        victim = CTX.Process(
            target=consumer_main,
            name="victim",
            args=(name, "wal", int(BackPressure.BLOCK), batch, 1, *first, False),
        )
        victim.start()
        _wait_for_consumers(ring, 1)
        producer = CTX.Process(
            target=producer_main, args=(name, total, [1, 7, 33], 0), name="producer"
        )
        producer.start()
        # Let it get somewhere, then kill it without warning.
        deadline = time.monotonic() + 20
        target = rng.randint(100, total // 2)
        while int(first[2][0]) < target and time.monotonic() < deadline:
            time.sleep(0.0002)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        read_before_kill = int(first[2][0])
        committed = next(c for c in ring.consumers() if c.name == "wal").cursor
        # The producer is held back by the dead consumer: nothing it has not read is overwritten.
        assert ring.published <= committed + ring.capacity
        assert committed <= read_before_kill <= committed + batch

        second = (shared_array(total), shared_array(total), shared_array(1), shared_array(1))
        restarted = CTX.Process(
            target=consumer_main,
            name="restarted",
            args=(name, "wal", int(BackPressure.BLOCK), batch, 0, *second, False),
        )
        restarted.start()
        join_all([producer, restarted])

        # First incarnation: an in-order prefix; everything below its committed cursor exactly once.
        assert first[0][:read_before_kill].tolist() == list(range(read_before_kill))
        assert (first[1][:committed] == 1).all()
        # Restarted incarnation: resumes exactly at the committed cursor, reads the rest once, in order.
        n2 = int(second[2][0])
        assert second[0][:n2].tolist() == list(range(committed, total))
        assert (second[1][:committed] == 0).all() and (second[1][committed:] == 1).all()
    finally:
        ring.close()
        ring.unlink()


def test_lossy_consumer_in_another_process_counts_exactly_what_it_missed() -> None:
    total = 30_000
    name = f"test-lossy-{uuid.uuid4().hex[:10]}"
    ring = Ring.create(name, slot_size=SLOT, capacity=32)
    try:
        logs = (shared_array(total), shared_array(total), shared_array(1), shared_array(1))
        tap = CTX.Process(
            target=consumer_main,
            name="tap",
            args=(name, "tap", int(BackPressure.LOSSY), 8, 1, *logs, True),
        )
        tap.start()
        _wait_for_consumers(ring, 1)
        producer = CTX.Process(target=producer_main, args=(name, total, [50], 0), name="producer")
        producer.start()
        join_all([producer, tap])
        n = int(logs[2][0])
        seen = logs[0][:n].tolist()
        assert seen == sorted(set(seen))
        assert int(logs[3][0]) == total - n  # gaps == records never delivered
        assert n < total, "the slow tap should have been overrun at least once"
        assert (logs[1][logs[1] > 0] == 1).all()
    finally:
        ring.close()
        ring.unlink()


def _create_and_die(name: str) -> None:
    Ring.create(name, slot_size=SLOT, capacity=8)
    os.kill(os.getpid(), signal.SIGKILL)


def test_cleanup_stale_removes_segments_of_a_crashed_session_only() -> None:
    crashed = f"test-stale-{uuid.uuid4().hex[:10]}"
    alive = f"test-alive-{uuid.uuid4().hex[:10]}"
    proc = CTX.Process(target=_create_and_die, args=(crashed,))
    proc.start()
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    keep = Ring.create(alive, slot_size=SLOT, capacity=8)
    try:
        assert crashed in set(list_rings())
        removed = cleanup_stale(prefix="qk.test-")
        assert crashed in removed
        assert alive not in removed
        assert not Path(f"/dev/shm/qk.{crashed}").exists()
        assert Path(f"/dev/shm/qk.{alive}").exists()
    finally:
        keep.close()
        keep.unlink()


def _hold(name: str, ready: Connection, release: Connection) -> None:
    ring = Ring.attach(name)
    ring.producer()
    ring.consumer("held")
    ready.send(True)
    release.recv()
    ring.close()


def test_consumer_and_producer_held_by_a_live_process_are_refused_then_taken_over_after_death() -> (
    None
):
    name = f"test-busy-{uuid.uuid4().hex[:10]}"
    ring = Ring.create(name, slot_size=SLOT, capacity=8)
    ready_r, ready_w = CTX.Pipe(duplex=False)
    release_r, _release_w = CTX.Pipe(duplex=False)
    holder = CTX.Process(target=_hold, args=(name, ready_w, release_r))
    holder.start()
    try:
        assert ready_r.poll(10) and ready_r.recv()
        with pytest.raises(ConsumerBusyError, match="live pid"):
            ring.consumer("held")
        with pytest.raises(ConsumerBusyError, match="already has a producer"):
            ring.producer()
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        # Its process is gone: the name and the producer role can be taken over.
        ring.producer().write(make_record(0))
        assert ring.consumer("held").position == 0
    finally:
        ring.close()
        ring.unlink()
