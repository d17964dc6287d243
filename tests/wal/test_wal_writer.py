"""The writer: rollover, group commit thresholds, the durable mark, the directory lock."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

import qk.wal.writer as writer_module
from qk.wal import DurableMark, WalLockedError, WalReader, WalWriter, WriterOptions
from qk.wal._frames import walk
from qk.wal.segment import SEGMENT_HEADER_SIZE, list_segments
from tests.wal.conftest import make_records, payload_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now


def test_rollover_seals_each_segment_and_replay_reads_across_them(tmp_path: Path) -> None:
    records = make_records(2000, 64)
    with WalWriter(tmp_path, options=WriterOptions(segment_size=8192)) as writer:
        last = writer.append_records(records, 64, stream=4, first_stream_seq=0)
        assert last == 2000
    segments = list_segments(tmp_path)
    assert len(segments) > 20
    first_seqs = [s.first_seq for s in segments]
    assert first_seqs == sorted(first_seqs) and first_seqs[0] == 1
    with WalReader(tmp_path) as reader:
        batches = list(reader.batches())
    got = np.concatenate([b.records(64) for b in batches])
    assert np.array_equal(got, records)
    assert np.concatenate([b.seq for b in batches]).tolist() == list(range(1, 2001))
    assert np.concatenate([b.stream_seq for b in batches]).tolist() == list(range(2000))


def test_group_commit_waits_for_the_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    options = WriterOptions(
        segment_size=65536, group_commit_interval_s=0.5, group_commit_bytes=1 << 30
    )
    with WalWriter(tmp_path, options=options, clock_ns=clock) as writer:
        writer.append(b"a")
        writer.poll()  # opened at this instant: the interval has not passed yet
        clock.now += 1
        seq = writer.append(b"b")
        writer.poll()
        assert writer.written_seq == seq
        durable_before = writer.durable_seq
        clock.now += 400_000_000
        writer.poll()
        assert writer.durable_seq == durable_before
        clock.now += 100_000_000
        writer.poll()
        assert writer.durable_seq == seq


def test_group_commit_syncs_when_the_byte_threshold_is_reached(tmp_path: Path) -> None:
    clock = FakeClock()
    options = WriterOptions(
        segment_size=1 << 20, group_commit_interval_s=3600, group_commit_bytes=8192
    )
    with WalWriter(tmp_path, options=options, clock_ns=clock) as writer:
        writer.append_records(make_records(80), 64, 0, 0)  # 80 * 96 = 7680 bytes
        writer.poll()
        assert (writer.written_seq, writer.durable_seq) == (80, 0)
        writer.append_records(make_records(6), 64, 0, 80)  # 8256 bytes
        writer.poll()
        assert writer.durable_seq == 86


def test_the_durable_mark_never_runs_ahead_of_fdatasync(
    tmp_path: Path, shm_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []  # highest seq in the file when each sync returned
    real_sync = os.fdatasync

    def recording_sync(fd: int) -> None:
        real_sync(fd)
        data = np.frombuffer(os.pread(fd, os.fstat(fd).st_size, 0), np.uint8)
        _, count, _, next_seq, seal_seq, *_ = walk(
            data, SEGMENT_HEADER_SIZE, len(data), 0, verify=True
        )
        synced.append(
            max(next_seq - 1 if count else 0, seal_seq - 1 if seal_seq else 0, *synced[-1:])
        )

    monkeypatch.setattr(writer_module, "_fdatasync", recording_sync)
    published: list[tuple[int, int]] = []
    options = WriterOptions(
        segment_size=16384, group_commit_interval_s=0.0002, group_commit_bytes=3000
    )
    with WalWriter(tmp_path, name=shm_name, options=options) as writer:
        assert writer.mark is not None
        real_publish = writer.mark.publish_durable

        def checking_publish(seq: int) -> None:
            published.append((seq, synced[-1] if synced else 0))
            real_publish(seq)

        monkeypatch.setattr(writer.mark, "publish_durable", checking_publish)
        rng = np.random.default_rng(7)
        for seq in range(1, 3001):
            writer.append(payload_for(seq), ts_event=seq)
            if rng.random() < 0.3:
                writer.poll()
        mark = DurableMark.attach(shm_name)
        writer.sync()
        assert mark.durable == 3000
        mark.close()
    assert len(published) > 10
    for seq, covered in published:
        assert seq <= covered


def test_durable_mark_wait_returns_when_published_and_times_out_otherwise(shm_name: str) -> None:
    owner = DurableMark.create(shm_name)
    waiter = DurableMark.attach(shm_name)
    try:
        assert waiter.wait(1, timeout=0.01) is False
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(waiter.wait(5, timeout=30)))
        thread.start()
        owner.publish_durable(3)
        owner.publish_durable(5)
        thread.join()
        assert result == [True]
        assert waiter.durable == 5 and waiter.writer_pid == os.getpid()
    finally:
        waiter.close()
        owner.close()


def test_a_second_writer_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    with WalWriter(tmp_path), pytest.raises(WalLockedError, match="locked"):
        WalWriter(tmp_path)


def test_bad_appends_are_rejected(tmp_path: Path) -> None:
    with WalWriter(tmp_path, options=WriterOptions(segment_size=8192)) as writer:
        with pytest.raises(ValueError, match="out of range"):
            writer.append(b"")
        with pytest.raises(ValueError, match="exceeds"):
            writer.append(bytes(9000))
        with pytest.raises(ValueError, match="stream"):
            writer.append(b"x", stream=1 << 16)
        with pytest.raises(ValueError, match="whole number"):
            writer.append_records(bytes(100), 64, 0, 0)
        assert writer.append(b"ok") == 1


def test_a_reopened_writer_continues_the_sequence(tmp_path: Path) -> None:
    with WalWriter(tmp_path, options=WriterOptions(segment_size=8192)) as writer:
        for seq in range(1, 200):
            writer.append(payload_for(seq))
    with WalWriter(tmp_path, options=WriterOptions(segment_size=8192)) as writer:
        assert writer.recovery.clean
        assert writer.append(payload_for(200)) == 200
    with WalReader(tmp_path) as reader:
        assert [r.payload for r in reader] == [payload_for(s) for s in range(1, 201)]
