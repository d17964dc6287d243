"""Recovery: a damaged tail is truncated, saved to quarantine, and reported; nothing else is lost."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from qk.wal import (
    SegmentHeaderError,
    WalDirectoryError,
    WalReader,
    WalWriter,
    WriterOptions,
    recover,
)
from qk.wal._frames import frame_size
from qk.wal.segment import SEGMENT_HEADER_SIZE, segment_name
from tests.wal.conftest import payload_for

SMALL = WriterOptions(segment_size=16384, prepare_ahead=False)


def build_log(directory: Path, count: int, payload_length: int | None = None) -> list[bytes]:
    payloads = [
        payload_for(seq) if payload_length is None else bytes([seq % 256]) * payload_length
        for seq in range(1, count + 1)
    ]
    with WalWriter(directory, options=SMALL) as writer:
        for seq, payload in enumerate(payloads, start=1):
            assert writer.append(payload, ts_event=seq) == seq
    return payloads


def frame_offsets(directory: Path) -> list[tuple[Path, int, int]]:
    """(segment path, frame offset, seq) of every frame."""
    found = []
    with WalReader(directory) as reader:
        for batch in reader.batches():
            path = directory / segment_name(batch.segment_index)
            for seq, off in zip(batch.seq.tolist(), batch.offset.tolist(), strict=True):
                found.append((path, off - 32, seq))
    return found


def read_all(directory: Path) -> list[bytes]:
    with WalReader(directory) as reader:
        return [record.payload for record in reader.records()]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    directory = tmp_path_factory.mktemp("pristine") / "wal"
    return directory, build_log(directory, 40, payload_length=61)


@pytest.mark.parametrize("mode", ["zero_from", "truncate_at", "flip"])
def test_damage_to_the_last_record_at_every_byte_offset_drops_only_that_record(
    pristine: tuple[Path, list[bytes]], tmp_path: Path, mode: str
) -> None:
    source, payloads = pristine
    path, last_offset, last_seq = frame_offsets(source)[-1]
    assert last_seq == len(payloads)
    covered = 32 + 61  # header + payload: the bytes the CRC (or the length word) protects
    for k in range(frame_size(61)):
        directory = tmp_path / f"{mode}-{k}"
        shutil.copytree(source, directory)
        target = directory / path.name
        with open(target, "r+b") as handle:
            size = os.fstat(handle.fileno()).st_size
            at = last_offset + k
            if mode == "zero_from":
                original = os.pread(handle.fileno(), size - at, at)
                os.pwrite(handle.fileno(), bytes(size - at), at)
                changed = any(original[: covered - k])
            elif mode == "truncate_at":
                original = os.pread(handle.fileno(), size - at, at)
                os.ftruncate(handle.fileno(), at)
                changed = any(original[: covered - k])
            else:
                byte = os.pread(handle.fileno(), 1, at)[0]
                os.pwrite(handle.fileno(), bytes([byte ^ 0x40]), at)
                changed = k < covered

        report = recover(directory)

        recovered = read_all(directory)
        if changed:
            assert recovered == payloads[:-1], (mode, k)
            assert report.last_seq == len(payloads) - 1
            if mode == "flip":
                assert len(report.dropped) == 1, k
            for dropped in report.dropped:
                assert dropped.offset == last_offset
                assert dropped.last_good_seq == len(payloads) - 1
                assert dropped.length == len(dropped.quarantine_path.read_bytes()) > 0
        else:
            assert recovered == payloads, (mode, k)
            assert report.last_seq == len(payloads)
        # Recovery leaves a log a writer continues without a gap.
        with WalWriter(directory, options=SMALL) as writer:
            assert writer.append(b"next") == report.last_seq + 1
        assert read_all(directory)[-1] == b"next"


def test_a_corrupt_middle_record_keeps_everything_before_and_quarantines_the_rest(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "wal"
    payloads = build_log(directory, 30)
    frames = frame_offsets(directory)
    path, offset, seq = frames[-10]
    assert path == frames[-1][0]
    with open(path, "r+b") as handle:
        original = os.pread(handle.fileno(), 16384, 0)
        os.pwrite(handle.fileno(), b"\xee", offset + 40)

    report = recover(directory)

    assert read_all(directory) == payloads[: seq - 1]
    assert report.last_seq == seq - 1
    [dropped] = report.dropped
    assert (dropped.offset, dropped.last_good_seq) == (offset, seq - 1)
    assert "CRC" in dropped.reason
    saved = dropped.quarantine_path.read_bytes()
    expected = bytearray(original[offset : offset + len(saved)])
    expected[40] = 0xEE
    assert saved == bytes(expected)
    end_of_last_payload = frames[-1][1] + 32 + len(payloads[-1])
    assert end_of_last_payload - offset <= len(saved) <= end_of_last_payload + 8 - offset


def test_damage_in_an_earlier_segment_with_verify_all_drops_every_later_segment(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "wal"
    payloads = build_log(directory, 400)
    frames = frame_offsets(directory)
    first_segment = frames[0][0]
    in_first = [f for f in frames if f[0] == first_segment]
    path, offset, seq = in_first[len(in_first) // 2]
    with open(path, "r+b") as handle:
        os.pwrite(handle.fileno(), b"\x99", offset + 9)

    report = recover(directory, verify_all=True)

    assert read_all(directory) == payloads[: seq - 1]
    assert report.dropped[0].offset == offset
    assert all(d.reason == "follows damage in an earlier segment" for d in report.dropped[1:])
    assert len(report.dropped) == len({f[0] for f in frames})
    assert [p.name for p in sorted(directory.glob("*.wal"))] == [first_segment.name]


def test_a_clean_log_recovers_with_an_empty_report(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    payloads = build_log(directory, 100)
    report = recover(directory)
    assert report.clean
    assert report.last_seq == 100
    assert read_all(directory) == payloads


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WalDirectoryError, match="does not exist"):
        recover(tmp_path / "nope")
    with pytest.raises(WalDirectoryError, match="does not exist"):
        WalWriter(tmp_path / "nope", create=False)


def test_a_wrong_magic_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    build_log(directory, 3)
    with open(directory / segment_name(0), "r+b") as handle:
        os.pwrite(handle.fileno(), b"NOTAWAL!", 0)
    with pytest.raises(SegmentHeaderError, match="wrong magic"):
        recover(directory)


def test_a_damaged_segment_header_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    build_log(directory, 3)
    with open(directory / segment_name(0), "r+b") as handle:
        os.pwrite(handle.fileno(), struct.pack("<Q", 99), 24)
    with pytest.raises(SegmentHeaderError, match="CRC mismatch"):
        recover(directory)


def test_a_missing_middle_segment_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    build_log(directory, 400)
    (directory / segment_name(1)).unlink()
    with pytest.raises(WalDirectoryError, match="segment 1 is missing"):
        recover(directory)


def test_recovery_of_a_log_cut_inside_the_first_frame_leaves_an_empty_log(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    build_log(directory, 1)
    os.truncate(directory / segment_name(0), SEGMENT_HEADER_SIZE + 10)
    report = recover(directory)
    assert report.last_seq == 0
    assert read_all(directory) == []
