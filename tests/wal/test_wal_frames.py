"""Frame encoding, walking and seeking in C."""

from __future__ import annotations

import numpy as np
import pytest

from qk.wal import _frames
from tests.wal.conftest import make_records


def test_batch_encoding_equals_frame_by_frame_encoding() -> None:
    records = make_records(50, 64)
    batch = np.zeros(50 * 96, np.uint8)
    count, end, max_ts = _frames.encode_records(
        batch, 0, len(batch), records.reshape(-1), 64, 10, 3, 500, 16
    )
    single = np.zeros(50 * 96, np.uint8)
    offset = 0
    for i in range(50):
        ts = int(records[i, 16:24].view(np.int64)[0])
        offset = _frames.encode_frame(
            single, offset, records[i].tobytes(), 10 + i, ts, 3 << 48 | 500 + i
        )
    assert (count, end) == (50, offset)
    assert max_ts == 1_000 + 49
    assert bytes(batch) == bytes(single)


def test_batch_encoding_stops_before_the_frame_that_does_not_fit() -> None:
    out = np.zeros(1000, np.uint8)
    count, end, _ = _frames.encode_records(
        out, 0, 1000, make_records(20, 64).reshape(-1), 64, 1, 0, 0
    )
    assert (count, end) == (10, 960)


def test_walk_reports_every_field_and_stops_at_the_end() -> None:
    out = np.zeros(4096, np.uint8)
    offset = 0
    for seq in range(1, 6):
        offset = _frames.encode_frame(
            out, offset, bytes([seq]) * seq, seq, seq * 100, 7 << 48 | seq
        )
    arrays = [np.zeros(10, t) for t in (np.uint64, np.int64, np.uint64, np.uint64, np.uint32)]
    status, count, stop, next_seq, *_ = _frames.walk(out, 0, 4096, 1, 2**64 - 1, -1, True, *arrays)
    assert (status, count, stop, next_seq) == (_frames.WALK_END, 5, offset, 6)
    seq, ts, key, off, length = arrays
    assert seq[:5].tolist() == [1, 2, 3, 4, 5]
    assert ts[:5].tolist() == [100, 200, 300, 400, 500]
    assert (key[:5] >> np.uint64(48)).tolist() == [7] * 5
    assert [bytes(out[o : o + n]) for o, n in zip(off[:5], length[:5], strict=True)] == [
        bytes([s]) * s for s in range(1, 6)
    ]


def test_walk_stops_at_max_seq_and_at_a_seal() -> None:
    out = np.zeros(4096, np.uint8)
    offset = 0
    for seq in range(1, 4):
        offset = _frames.encode_frame(out, offset, b"abc", seq)
    _frames.encode_seal(out, offset, 4, 77)
    status, count, *_ = _frames.walk(out, 0, 4096, 1, 2)
    assert (status, count) == (_frames.WALK_LIMIT, 2)
    status, count, stop, _, seal_seq, seal_ts, _ = _frames.walk(out, 0, 4096, 1)
    assert (status, count, stop, seal_seq, seal_ts) == (_frames.WALK_SEALED, 3, offset, 4, 77)


def test_walk_detects_a_flipped_bit_and_a_sequence_gap() -> None:
    out = np.zeros(4096, np.uint8)
    a = _frames.encode_frame(out, 0, b"first", 1)
    b = _frames.encode_frame(out, a, b"second", 3)
    assert _frames.walk(out, 0, 4096, 1)[:3] == (_frames.WALK_BAD_SEQ, 1, a)
    out[a + 33] ^= 0x10
    assert _frames.walk(out, 0, 4096, 1)[:3] == (_frames.WALK_BAD_CRC, 1, a)
    assert _frames.walk(out, 0, b - 1, 0, verify=False)[:3] == (_frames.WALK_BAD_LENGTH, 1, a)


def test_seek_finds_first_frame_at_or_after_a_seq_or_a_time() -> None:
    out = np.zeros(8192, np.uint8)
    offsets = []
    offset = 0
    times = [50, 10, 70, 30, 90]
    for i, ts in enumerate(times):
        offsets.append(offset)
        offset = _frames.encode_frame(out, offset, b"x" * (i + 1), i + 1, ts)
    assert _frames.seek(out, 0, 8192, 3, False) == (_frames.WALK_LIMIT, offsets[2], 3)
    assert _frames.seek(out, 0, 8192, 60, True) == (_frames.WALK_LIMIT, offsets[2], 3)
    assert _frames.seek(out, 0, 8192, 91, True) == (_frames.WALK_END, offset, 6)


def test_last_nonzero_and_gather() -> None:
    buf = np.zeros(100, np.uint8)
    assert _frames.last_nonzero(buf, 0, 100) == 0
    buf[37] = 1
    assert _frames.last_nonzero(buf, 0, 100) == 38
    assert _frames.last_nonzero(buf, 40, 100) == 40
    out = np.zeros(2 * 4, np.uint8)
    _frames.gather(buf, np.array([36, 0], np.uint64), np.array([3, 2], np.uint32), out, 4)
    assert out.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


def test_bad_input_is_rejected_with_a_clear_error() -> None:
    out = np.zeros(128, np.uint8)
    with pytest.raises(ValueError, match="whole number"):
        _frames.encode_records(out, 0, 128, bytes(65), 64, 1, 0, 0)
    with pytest.raises(ValueError, match="16 bits"):
        _frames.encode_records(out, 0, 128, bytes(64), 64, 1, 70000, 0)
    with pytest.raises(ValueError, match="no room"):
        _frames.encode_frame(out, 120, b"payload", 1)
    with pytest.raises(ValueError, match="seq starts at 1"):
        _frames.encode_frame(out, 0, b"payload", 0)
