"""``qk-bench wal``: WAL append throughput, durable latency under group commit, replay throughput.

Every figure is measured in one run next to its baseline (a bare 4 KiB pwrite + fdatasync into a
pre-zeroed file), because these machines are shared and noisy: compare ratios, not absolute times.

- ``wal_append_records_per_s`` / ``wal_append_mb_per_s``: 64-byte records through the batch API
  (``append_records``, blocks of 4096 records, as the ring-consuming writer stages them), with group
  commit at 1 ms, i.e. including every pwrite and fdatasync. MB/s counts record bytes.
- ``wal_append_zero_filled_records_per_s``: the batch figure with segments prepared by writing
  zeros (``WriterOptions(zero_fill=True)``) instead of ``posix_fallocate``.
- ``wal_append_single_records_per_s``: the same through the per-record ``append`` API.
- ``wal_durable_p50_us`` / ``p99`` / ``p999``: time from ``append`` of a record to the durable mark
  covering it being published, under a steady stream of records and 1 ms group commit.
- ``wal_replay_records_per_s``: batch replay of the appended log with CRC verification, gathering
  the payloads into a record array.
- ``wal_replay_single_records_per_s``: per-record replay (``WalReader.records()``).
- ``wal_baseline_pwrite_fdatasync_4k_p50_us`` / ``p99``: the disk's commit floor.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from qk.wal import WalReader, WalWriter, WriterOptions

RECORD = 64


def _records(count: int) -> np.ndarray:
    out = np.zeros((count, RECORD), np.uint8)
    out[:, 16:24] = np.arange(count, dtype=np.int64).view(np.uint8).reshape(count, 8)
    out[:, 32:] = 0x5A
    return out.reshape(-1)


def _append_batch(directory: Path, total: int, zero_fill: bool = False) -> tuple[float, int]:
    block_records = 4096
    block = _records(block_records)
    options = WriterOptions(group_commit_interval_s=0.001, zero_fill=zero_fill)
    with WalWriter(directory, options=options) as writer:
        start = time.perf_counter()
        done = 0
        while done < total:
            writer.append_records(block, RECORD, stream=1, first_stream_seq=done)
            writer.poll()
            done += block_records
        writer.sync()
        elapsed = time.perf_counter() - start
    return elapsed, done


def _append_single(directory: Path, total: int) -> float:
    payload = bytes(_records(1))
    with WalWriter(directory, options=WriterOptions(group_commit_interval_s=0.001)) as writer:
        start = time.perf_counter()
        for i in range(total):
            writer.append(payload, ts_event=i, stream=2, stream_seq=i)
            if i & 255 == 0:
                writer.poll()
        writer.sync()
        return time.perf_counter() - start


def _durable_latency(directory: Path, samples: int, gap_s: float) -> np.ndarray:
    """Append one record every ``gap_s``; latency = durable publish time - append time."""
    payload = bytes(_records(1))
    appended = np.zeros(samples + 1, np.int64)
    published = np.zeros(samples + 1, np.int64)
    with WalWriter(directory, options=WriterOptions(group_commit_interval_s=0.001)) as writer:
        writer.wait_prepared()  # steady state: the next segment is ready long before it is needed
        durable = writer.durable_seq
        base = writer.next_seq
        next_at = time.perf_counter_ns()
        i = 0
        while i < samples or writer.durable_seq < base + samples - 1:
            now = time.perf_counter_ns()
            if i < samples and now >= next_at:
                seq = writer.append(payload, ts_event=now)
                appended[seq - base] = time.perf_counter_ns()
                next_at = now + int(gap_s * 1e9)
                i += 1
            new = writer.poll()
            if new > durable:
                t = time.perf_counter_ns()
                published[durable + 1 - base : new + 1 - base] = t
                durable = new
    return (published[:samples] - appended[:samples]) / 1e3


def _replay(directory: Path) -> tuple[float, float, int]:
    with WalReader(directory) as reader:
        start = time.perf_counter()
        count = 0
        for batch in reader.batches(max_records=65536):
            rows = batch.records(RECORD)
            count += rows.shape[0]
        batch_elapsed = time.perf_counter() - start
        start = time.perf_counter()
        single = 0
        for _ in reader.records():
            single += 1
            if single >= 300_000:
                break
        single_elapsed = time.perf_counter() - start
    return batch_elapsed, single_elapsed / single, count


def _baseline(directory: Path, samples: int) -> np.ndarray:
    path = directory / "baseline.bin"
    size = 4096 * samples
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        zeros = bytes(1 << 20)
        for off in range(0, size, len(zeros)):
            os.pwrite(fd, zeros[: size - off], off)
        os.fsync(fd)
        block = b"\x5a" * 4096
        out = np.empty(samples)
        for i in range(samples):
            start = time.perf_counter_ns()
            os.pwrite(fd, block, i * 4096)
            os.fdatasync(fd)
            out[i] = (time.perf_counter_ns() - start) / 1e3
        return out
    finally:
        os.close(fd)
        path.unlink()


def run(quick: bool) -> dict[str, float]:
    """Run the WAL benchmarks; ``quick`` keeps the whole suite well under 30 s."""
    total = 2_000_000 if quick else 10_000_000
    single_total = 300_000 if quick else 1_000_000
    samples = 3_000 if quick else 20_000
    root = Path(tempfile.mkdtemp(prefix="qk-bench-wal-", dir=os.environ.get("QK_BENCH_DIR")))
    try:
        metrics: dict[str, float] = {}
        baseline = _baseline(root, 500 if quick else 2000)
        metrics["wal_baseline_pwrite_fdatasync_4k_p50_us"] = float(np.percentile(baseline, 50))
        metrics["wal_baseline_pwrite_fdatasync_4k_p99_us"] = float(np.percentile(baseline, 99))

        elapsed, appended = _append_batch(root / "batch", total)
        metrics["wal_append_records_per_s"] = appended / elapsed
        metrics["wal_append_mb_per_s"] = appended * RECORD / elapsed / 1e6

        elapsed, appended = _append_batch(root / "zero-filled", total // 2, zero_fill=True)
        metrics["wal_append_zero_filled_records_per_s"] = appended / elapsed
        shutil.rmtree(root / "zero-filled", ignore_errors=True)

        metrics["wal_append_single_records_per_s"] = single_total / _append_single(
            root / "single", single_total
        )

        latency = _durable_latency(root / "durable", samples, 0.0002)
        metrics["wal_durable_p50_us"] = float(np.percentile(latency, 50))
        metrics["wal_durable_p99_us"] = float(np.percentile(latency, 99))
        metrics["wal_durable_p999_us"] = float(np.percentile(latency, 99.9))

        batch_elapsed, per_record_s, replayed = _replay(root / "batch")
        metrics["wal_replay_records_per_s"] = replayed / batch_elapsed
        metrics["wal_replay_single_records_per_s"] = 1.0 / per_record_s
        metrics["wal_durable_p99_over_baseline_p99"] = (
            metrics["wal_durable_p99_us"] / metrics["wal_baseline_pwrite_fdatasync_4k_p99_us"]
        )
        return metrics
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for key, value in sorted(run(quick=True).items()):
        print(f"{key:44s} {value:>16,.3f}")
