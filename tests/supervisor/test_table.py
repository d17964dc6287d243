"""The heartbeat table: layout, the child's beat, the supervisor's view, bad tables."""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

import posix_ipc
import pytest

from qk.supervisor import (
    Heartbeat,
    HeartbeatError,
    HeartbeatTable,
    ProcessState,
    SessionBusyError,
    layout,
)
from qk.supervisor.table import HEADER_DTYPE, SLOT_DTYPE


def test_numpy_dtypes_match_the_documented_layout() -> None:
    assert HEADER_DTYPE.itemsize == layout.HEADER_SIZE
    assert SLOT_DTYPE.itemsize == layout.SLOT_SIZE
    assert SLOT_DTYPE.fields is not None
    assert SLOT_DTYPE.fields["last_beat_ns"][1] == layout.SLOT_LAST_BEAT_NS
    assert layout.SLOT_LAST_BEAT_NS % 8 == 0  # one aligned store: never torn
    assert {name: SLOT_DTYPE.fields[name][1] for name in SLOT_DTYPE.names or ()} == {
        "name": layout.SLOT_NAME,
        "pid": layout.SLOT_PID,
        "state": layout.SLOT_STATE,
        "flags": layout.SLOT_FLAGS,
        "start_ns": layout.SLOT_START_NS,
        "spawned_ns": layout.SLOT_SPAWNED_NS,
        "last_beat_ns": layout.SLOT_LAST_BEAT_NS,
        "restarts": layout.SLOT_RESTARTS,
        "exit_code": layout.SLOT_EXIT_CODE,
    }


def test_a_beat_in_the_child_api_is_what_the_supervisor_reads(session: str) -> None:
    table = HeartbeatTable.create(session, ["feed", "strategy:momentum"])
    try:
        with Heartbeat.attach(session, "strategy:momentum") as heartbeat:
            assert heartbeat.index == 1
            assert table.last_beat_ns(1) == 0
            before = time.monotonic_ns()
            heartbeat.beat()
            assert before <= table.last_beat_ns(1) <= time.monotonic_ns()
            heartbeat.beat_at(42)
            assert table.last_beat_ns(1) == 42 == heartbeat.last_beat_ns
            assert table.last_beat_ns(0) == 0
        table.mark_spawned(0, pid=1234, start_ns=5, spawned_ns=6)
        table.set_exit(0, -9)
        table.set_restarts(0, 2)
        snapshot = HeartbeatTable.read(session)
        assert snapshot.session == session
        assert snapshot.supervisor_alive
        feed = snapshot.slots[0]
        assert (feed.name, feed.pid, feed.state, feed.restarts, feed.exit_code) == (
            "feed",
            1234,
            ProcessState.STARTING,
            2,
            -9,
        )
        assert snapshot.slots[1].exit_code is None
        assert snapshot.slots[1].beat_age_s(1_000_000_042) == pytest.approx(1.0)
    finally:
        table.close()
        assert HeartbeatTable.unlink(session)
    assert not HeartbeatTable.unlink(session)


def test_heartbeat_errors_name_the_session_and_process(session: str) -> None:
    with pytest.raises(HeartbeatError, match=f"session '{session}'"):
        Heartbeat.attach(session, "feed")
    table = HeartbeatTable.create(session, ["feed"])
    try:
        with pytest.raises(HeartbeatError, match="no slot for process 'risk'"):
            Heartbeat.attach(session, "risk")
        with pytest.raises(KeyError, match="no process 'risk'"):
            table.index("risk")
        assert table.index("feed") == 0
    finally:
        table.close()


def test_a_segment_that_is_not_a_table_is_refused(session: str) -> None:
    shm = posix_ipc.SharedMemory(layout.table_name(session), posix_ipc.O_CREX, size=4096)
    with mmap.mmap(shm.fd, 4096) as block:
        block[:8] = b"NOTATABL"
    shm.close_fd()
    with pytest.raises(HeartbeatError, match="not a heartbeat table"):
        Heartbeat.attach(session, "feed")


def test_create_refuses_duplicate_and_bad_names(session: str) -> None:
    with pytest.raises(ValueError, match="duplicate process names"):
        HeartbeatTable.create(session, ["a", "a"])
    with pytest.raises(ValueError, match="invalid session name"):
        HeartbeatTable.create("bad/session", ["a"])


def test_from_environment_needs_a_process_name(
    session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QK_PROCESS", raising=False)
    assert Heartbeat.from_environment() is None
    table = HeartbeatTable.create(session, ["feed"])
    try:
        monkeypatch.setenv("QK_SESSION", session)
        monkeypatch.setenv("QK_PROCESS", "feed")
        heartbeat = Heartbeat.from_environment()
        assert heartbeat is not None and heartbeat.index == 0
        heartbeat.close()
    finally:
        table.close()


def test_a_table_whose_owner_released_it_is_taken_over_and_wiped(session: str) -> None:
    table = HeartbeatTable.create(session, ["old-one", "old-two", "old-three"])
    table.set_restarts(2, 9)
    table.close()  # what the kernel does to the lock when a supervisor dies
    fresh = HeartbeatTable.create(session, ["new"])
    try:
        snapshot = HeartbeatTable.read(session)
        assert [s.name for s in snapshot.slots] == ["new"]
        assert snapshot.slots[0].restarts == 0
        segment = Path(f"/dev/shm/qk.{session}.supervisor")
        assert segment.stat().st_size == layout.table_size(1)
    finally:
        fresh.close()


def test_a_held_table_refuses_a_second_owner_naming_the_holder(session: str) -> None:
    table = HeartbeatTable.create(session, ["feed"])
    try:
        with pytest.raises(SessionBusyError, match=f"supervised by pid {os.getpid()}"):
            HeartbeatTable.create(session, ["feed"])
        assert HeartbeatTable.read(session).slots[0].name == "feed"
    finally:
        table.close()
