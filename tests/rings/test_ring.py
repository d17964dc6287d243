"""Single-process specification of the ring: geometry, attach validation, policies, life cycle."""

from __future__ import annotations

import mmap
import struct

import numpy as np
import posix_ipc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.rings import (
    BackPressure,
    Ring,
    RingClosed,
    RingExistsError,
    RingLayoutError,
    RingNotFoundError,
    RingTimeout,
    segment_name,
)


def record(seq: int, size: int = 64) -> bytes:
    """A slot-sized record that carries its own sequence number twice, so a torn copy shows."""
    head = struct.pack("<QQ", seq, seq ^ 0xA5A5A5A5A5A5A5A5)
    return head + bytes([seq & 0xFF]) * (size - len(head))


def seq_of(raw: bytes) -> int:
    seq, check = struct.unpack_from("<QQ", raw)
    assert check == seq ^ 0xA5A5A5A5A5A5A5A5, "torn record"
    assert raw[16:] == bytes([seq & 0xFF]) * (len(raw) - 16), "torn record body"
    return int(seq)


@pytest.fixture
def ring(shm_name: str):
    r = Ring.create(shm_name, slot_size=64, capacity=8)
    yield r
    r.close()
    r.unlink()


class TestGeometry:
    @pytest.mark.parametrize("capacity", [0, 1, 3, 100])
    def test_create_when_capacity_not_power_of_two_then_raises(
        self, shm_name: str, capacity: int
    ) -> None:
        with pytest.raises(ValueError, match="power of two"):
            Ring.create(shm_name, slot_size=64, capacity=capacity)

    @pytest.mark.parametrize("slot_size", [0, 7, 65])
    def test_create_when_slot_size_not_multiple_of_8_then_raises(
        self, shm_name: str, slot_size: int
    ) -> None:
        with pytest.raises(ValueError, match="multiple of 8"):
            Ring.create(shm_name, slot_size=slot_size, capacity=8)

    def test_create_when_name_invalid_then_raises(self) -> None:
        with pytest.raises(ValueError, match="invalid ring name"):
            segment_name("../etc/passwd")

    def test_create_twice_then_exists_error_and_replace_works(
        self, ring: Ring, shm_name: str
    ) -> None:
        with pytest.raises(RingExistsError, match="already exists"):
            Ring.create(shm_name, slot_size=64, capacity=8)
        fresh = Ring.create(shm_name, slot_size=128, capacity=4, replace=True)
        assert fresh.slot_size == 128 and fresh.capacity == 4
        fresh.close()


class TestAttachValidation:
    def test_attach_when_missing_then_not_found(self, shm_name: str) -> None:
        with pytest.raises(RingNotFoundError, match="does not exist"):
            Ring.attach(shm_name)

    def test_attach_when_schema_hash_differs_then_layout_error(self, shm_name: str) -> None:
        r = Ring.create(shm_name, slot_size=64, capacity=8, schema_hash=0xABC)
        with pytest.raises(RingLayoutError, match="schema"):
            Ring.attach(shm_name, schema_hash=0xABD)
        ok = Ring.attach(shm_name, schema_hash=0xABC, slot_size=64, capacity=8)
        ok.close()
        r.close()

    def test_attach_when_slot_size_differs_then_layout_error(
        self, ring: Ring, shm_name: str
    ) -> None:
        with pytest.raises(RingLayoutError, match="128"):
            Ring.attach(shm_name, slot_size=128)

    def test_attach_when_capacity_differs_then_layout_error(
        self, ring: Ring, shm_name: str
    ) -> None:
        with pytest.raises(RingLayoutError, match=r"8 slots"):
            Ring.attach(shm_name, capacity=16)

    def test_attach_when_not_a_ring_then_wrong_magic(self, shm_name: str) -> None:
        shm = posix_ipc.SharedMemory(segment_name(shm_name), posix_ipc.O_CREX, size=8192)
        shm.close_fd()
        with pytest.raises(RingLayoutError, match="wrong magic"):
            Ring.attach(shm_name)

    def test_attach_when_version_differs_then_layout_error(self, ring: Ring, shm_name: str) -> None:
        shm = posix_ipc.SharedMemory(segment_name(shm_name))
        with mmap.mmap(shm.fd, shm.size) as m:
            struct.pack_into("<I", m, 8, 99)
        shm.close_fd()
        with pytest.raises(RingLayoutError, match="version 99"):
            Ring.attach(shm_name)


class TestBlocking:
    def test_read_when_empty_then_none_after_timeout(self, ring: Ring) -> None:
        c = ring.consumer("c")
        assert c.read(timeout=0) is None
        assert c.read(timeout=0.01) is None

    def test_write_when_blocking_consumer_full_ring_behind_then_times_out_without_overwriting(
        self, ring: Ring
    ) -> None:
        p = ring.producer()
        c = ring.consumer("c")
        for i in range(8):
            p.write(record(i))
        with pytest.raises(RingTimeout):
            p.write(record(8), timeout=0)
        with pytest.raises(RingTimeout):
            p.write(record(8), timeout=0.01)
        assert [seq_of(c.read(0) or b"") for _ in range(8)] == list(range(8))
        assert p.write(record(8), timeout=0) == 8

    def test_record_larger_than_slot_then_value_error(self, ring: Ring) -> None:
        with pytest.raises(ValueError, match="does not fit"):
            ring.producer().write(b"x" * 65)

    def test_short_record_is_zero_padded(self, ring: Ring) -> None:
        p = ring.producer()
        c = ring.consumer("c")
        for _ in range(8):
            p.write(b"\xff" * 64)
            c.read(0)
        p.write(b"cd")  # lands on slot 0 again, over a 0xff record
        assert c.read(0) == b"cd" + bytes(62)

    def test_closed_ring_drains_then_raises_closed(self, ring: Ring, shm_name: str) -> None:
        reader = Ring.attach(shm_name)
        c = reader.consumer("c")
        p = ring.producer()
        p.write(record(0))
        ring.close()
        assert seq_of(c.read(timeout=1) or b"") == 0
        with pytest.raises(RingClosed):
            c.read(timeout=1)
        reader.close()

    def test_consumer_name_in_use_by_live_process_then_busy(
        self, ring: Ring, shm_name: str
    ) -> None:
        ring.consumer("c")
        other = Ring.attach(shm_name)
        try:
            # Same process, same name: re-attach is allowed (a restart inside one process).
            again = other.consumer("c")
            assert again.index == 0
        finally:
            other.close()

    def test_release_consumer_stops_gating_the_producer(self, ring: Ring) -> None:
        p = ring.producer()
        c = ring.consumer("c")
        for i in range(8):
            p.write(record(i))
        ring.release_consumer(c)
        p.write(record(8), timeout=0)
        assert ring.consumers() == []

    def test_producer_recreated_in_same_process_continues_the_sequence(self, ring: Ring) -> None:
        ring.producer().write(record(0))
        assert ring.producer().write(record(1)) == 1

    def test_earliest_consumer_sees_records_still_in_ring(self, ring: Ring) -> None:
        p = ring.producer()
        for i in range(5):
            p.write(record(i))
        c = ring.consumer("late", start="earliest")
        assert [seq_of(c.read(0) or b"") for _ in range(5)] == list(range(5))
        latest = ring.consumer("latest")
        assert latest.read(0) is None and latest.position == 5

    def test_manual_commit_redelivers_uncommitted_reads(self, ring: Ring, shm_name: str) -> None:
        p = ring.producer()
        c = ring.consumer("c", auto_commit=False)
        for i in range(4):
            p.write(record(i))
        buf = np.zeros(64 * 4, np.uint8)
        assert c.read_batch(buf, timeout=0) == 4
        assert c.committed == 0 and c.position == 4
        c.seek(c.committed)  # what a restarted consumer does: resume from the committed cursor
        assert c.read_batch(buf, timeout=0) == 4
        c.commit()
        assert c.committed == 4

    def test_seek_bounds(self, ring: Ring) -> None:
        p = ring.producer()
        c = ring.consumer("c")
        for i in range(3):
            p.write(record(i))
        with pytest.raises(ValueError, match="only 3 records"):
            c.seek(4)
        c.seek(3)
        assert c.read(0) is None

    def test_batch_with_structured_records(self, ring: Ring) -> None:
        dtype = np.dtype([("seq", "<u8"), ("price", "<i8")])
        recs = np.zeros(5, dtype)
        recs["seq"] = np.arange(5)
        recs["price"] = np.arange(5) * 100
        p = ring.producer()
        c = ring.consumer("c")
        assert p.write_batch(recs) == 0
        out = np.zeros(
            8,
            np.dtype(
                {
                    "names": ["seq", "price"],
                    "formats": ["<u8", "<i8"],
                    "offsets": [0, 8],
                    "itemsize": 64,
                }
            ),
        )
        assert c.read_batch(out, timeout=0) == 5
        assert out["price"][:5].tolist() == [0, 100, 200, 300, 400]

    def test_batch_larger_than_ring_when_no_consumer_lags(self, ring: Ring) -> None:
        p = ring.producer()
        block = b"".join(record(i) for i in range(20))
        assert p.write_batch(block) == 0
        assert ring.published == 20

    def test_batch_that_is_not_whole_records_then_error(self, ring: Ring) -> None:
        with pytest.raises(ValueError, match="whole number"):
            ring.producer().write_batch(b"x" * 65)


class TestLossy:
    @settings(max_examples=60, deadline=None)
    @given(
        capacity_log2=st.integers(1, 5),
        plan=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 10)), min_size=1, max_size=12),
    )
    def test_gap_counter_equals_exactly_what_was_missed(
        self, capacity_log2: int, plan: list[tuple[int, int]]
    ) -> None:
        import uuid

        name = f"test-lossy-{uuid.uuid4().hex[:10]}"
        r = Ring.create(name, slot_size=64, capacity=1 << capacity_log2)
        try:
            p = r.producer()
            c = r.consumer("tap", policy=BackPressure.LOSSY)
            seen: list[int] = []
            written = 0
            buf = np.zeros(64 * 3, np.uint8)
            for writes, reads in plan:
                for _ in range(writes):
                    p.write(record(written))
                    written += 1
                for _ in range(reads):
                    n = c.read_batch(buf, timeout=0)
                    seen.extend(seq_of(bytes(buf[i * 64 : (i + 1) * 64])) for i in range(n))
            while (n := c.read_batch(buf, timeout=0)) > 0:
                seen.extend(seq_of(bytes(buf[i * 64 : (i + 1) * 64])) for i in range(n))
            assert seen == sorted(set(seen)), "a lossy consumer still reads in order, once"
            assert c.gaps == written - len(seen)
            assert c.gaps == len(set(range(written)) - set(seen))
        finally:
            r.close()
            r.unlink()


class TestDetachAndResume:
    def test_clean_close_keeps_a_blocking_consumer_and_its_cursor_for_a_resume(
        self, ring: Ring, shm_name: str
    ) -> None:
        p = ring.producer()
        reader = Ring.attach(shm_name)
        c = reader.consumer("wal")
        tap = reader.consumer("tap", policy=BackPressure.LOSSY)
        for i in range(3):
            p.write(record(i))
        c.read(0)
        tap.read(0)
        reader.close()
        (kept,) = ring.consumers()
        assert (kept.name, kept.pid, kept.alive, kept.cursor) == ("wal", 0, False, 1)
        # Still gating: the producer may only run a ring ahead of the detached cursor.
        for i in range(3, 9):
            p.write(record(i))
        with pytest.raises(RingTimeout):
            p.write(record(9), timeout=0)
        again = Ring.attach(shm_name)
        resumed = again.consumer("wal")
        assert seq_of(resumed.read(0) or b"") == 1
        again.close()

    def test_producer_reopens_a_ring_it_closed(self, shm_name: str) -> None:
        first = Ring.create(shm_name, slot_size=64, capacity=8)
        first.producer().write(record(0))
        first.close()
        second = Ring.attach(shm_name)
        assert second.closed
        assert second.producer().write(record(1)) == 1
        assert not second.closed
        second.close()


def test_creator_with_block_unlinks_on_clean_exit_attacher_does_not(shm_name: str) -> None:
    from pathlib import Path

    segment = Path(f"/dev/shm/qk.{shm_name}")
    with Ring.create(shm_name, slot_size=64, capacity=8) as owner:
        with Ring.attach(shm_name) as other:
            other.consumer("c")
        assert segment.exists()
        owner.producer().write(record(0))
    assert not segment.exists()
