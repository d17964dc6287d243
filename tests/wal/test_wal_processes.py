"""Real processes: a writer SIGKILLed at random points, and a tailer following a live writer."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qk.wal import DurableMark, MarkError, WalReader, WalTailer, WalWriter, WriterOptions, recover
from tests.wal.conftest import payload_for

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, time
    from qk.wal import WalWriter, WriterOptions
    from tests.wal.conftest import payload_for

    directory, name, total, segment_size, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    options = WriterOptions(segment_size=segment_size, group_commit_interval_s=0.001, group_commit_bytes=8192)
    with WalWriter(directory, name=name, options=options) as writer:
        seq = writer.next_seq
        while total <= 0 or seq <= total:
            for _ in range(1 + seq % 17):
                writer.append(payload_for(seq), ts_event=seq, stream=1, stream_seq=seq)
                seq += 1
            writer.poll()
            if pause:
                time.sleep(pause)
    """
)


def start_writer(
    directory: Path, name: str, total: int, segment_size: int, pause: float
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            str(directory),
            name,
            str(total),
            str(segment_size),
            str(pause),
        ],
        cwd=ROOT,
    )


def attach_when_ready(name: str, process: subprocess.Popen[bytes]) -> DurableMark:
    deadline = time.monotonic() + 30
    while True:
        try:
            return DurableMark.attach(name)
        except MarkError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


@pytest.mark.parametrize("seed", range(6))
def test_a_sigkilled_writer_loses_nothing_that_was_durable(
    tmp_path: Path, shm_name: str, seed: int
) -> None:
    rng = random.Random(seed)
    directory = tmp_path / "wal"
    writer = start_writer(directory, shm_name, 0, rng.choice([8192, 65536]), 0.0)
    mark = attach_when_ready(shm_name, writer)
    try:
        mark.wait(rng.randint(1, 3000), timeout=30)
        time.sleep(rng.random() * 0.05)
        durable_seen = mark.durable
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        mark.close()

    report = recover(directory)

    assert durable_seen <= report.last_seq
    with WalReader(directory) as reader:
        records = list(reader.records())
    assert [r.seq for r in records] == list(range(1, report.last_seq + 1))
    assert all(r.payload == payload_for(r.seq) and r.ts_event == r.seq for r in records)
    # A restarted writer continues right after the last record kept.
    with WalWriter(directory, options=WriterOptions(segment_size=8192)) as restarted:
        assert restarted.append(b"after") == report.last_seq + 1


def test_a_tailer_in_another_process_reads_a_live_log_in_order(
    tmp_path: Path, shm_name: str
) -> None:
    directory = tmp_path / "wal"
    total = 5000
    writer = start_writer(directory, shm_name, total, 8192, 0.0005)
    try:
        attach_when_ready(shm_name, writer).close()
        seen: list[int] = []
        with WalTailer(directory, name=shm_name) as tailer:
            while len(seen) < total:
                batch = tailer.read(timeout=30)
                assert batch is not None, f"stalled after {len(seen)} records"
                for record in batch.iter_records():
                    assert record.payload == payload_for(record.seq)
                    seen.append(record.seq)
        assert seen[:total] == list(range(1, total + 1))
        assert writer.wait(timeout=60) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def test_a_tailer_without_the_mark_follows_by_crc(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    with WalWriter(directory, options=WriterOptions(segment_size=8192)) as writer:
        tailer = WalTailer(directory, start_seq=50)
        for seq in range(1, 201):
            writer.append(payload_for(seq))
            if seq % 40 == 0:
                writer.flush()
        writer.flush()
        seqs = [r.seq for r in tailer.records(timeout=0.2)]
        tailer.close()
    assert seqs == list(range(50, 201))
