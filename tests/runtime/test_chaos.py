"""A session stopped by ``--duration`` (the SIGTERM path), with chaos: the WAL writer and then the
strategy host are SIGKILLed mid-session. The supervisor restarts each; the log still holds every
record of every ring exactly once; the restarted strategy rebuilds itself from the log and sends no
intent twice, so the whole session still replays to the byte."""

from __future__ import annotations

import os
import signal
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from qk.runtime.replay import replay_session
from qk.runtime.session import SessionOptions, start_session
from qk.schemas.enums import OrderAction, RecordType
from qk.supervisor import layout
from qk.supervisor.heartbeat import HeartbeatError, find_slot, open_table
from tests.runtime.conftest import (
    ALTERNATING,
    descriptor,
    leftovers,
    plan_of,
    records,
    wal_streams,
)

pytestmark = pytest.mark.timeout(120)


def _pid(session: str, process: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            block = open_table(session)
        except HeartbeatError:
            time.sleep(0.05)
            continue
        try:
            index = find_slot(block, process)
            (pid,) = struct.unpack_from("<i", block, layout.slot_offset(index) + layout.SLOT_PID)
        finally:
            block.close()
        if pid > 0:
            return int(pid)
        time.sleep(0.05)
    pytest.fail(f"{process} of {session} never started")


def test_duration_stop_with_sigkilled_wal_writer_and_strategy(
    tmp_path: Path, session_name: str
) -> None:
    outcome: dict[str, Any] = {}
    path = descriptor(tmp_path, ALTERNATING)

    def run() -> None:
        outcome.update(
            start_session(
                SessionOptions(
                    descriptor=path,
                    session=session_name,
                    root=tmp_path / "sessions",
                    # Slow enough that a restarted strategy catches up on a loaded 2-core
                    # machine before the stop: a backlog in `bars` would hold the aggregator.
                    speed=100,
                    duration=12,
                )
            )
        )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        _pid(session_name, "feed:sim")  # the whole pipeline is up
        time.sleep(1.0)
        victim = _pid(session_name, "wal")
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.5)
        strategy = _pid(session_name, "strategy:1")
        os.kill(strategy, signal.SIGKILL)
    finally:
        thread.join()
    assert outcome["exit_code"] == 0
    assert outcome["restarts"]["wal"] == 1
    assert victim in outcome["pids"]["wal"] and len(outcome["pids"]["wal"]) == 2
    assert outcome["restarts"]["strategy:1"] == 1
    assert strategy in outcome["pids"]["strategy:1"] and len(outcome["pids"]["strategy:1"]) == 2
    plan = plan_of(tmp_path / "sessions" / session_name)
    streams = wal_streams(plan.wal_dir)
    reports = outcome["processes"]
    published = {
        plan.md.stream: reports["feed:sim"]["published"],
        plan.bars.stream: reports["aggregator"]["trades"] + reports["aggregator"]["bars"],
        plan.exec.stream: reports["oms:sim"]["exec_published"],
        plan.intents(1).stream: reports["strategy:1"]["intents"],
    }
    for stream, count in published.items():
        seqs = [seq for seq, _ in streams.get(stream, [])]
        assert seqs == list(range(count)), f"stream {stream}: {len(seqs)} frames for {count}"
    assert leftovers(session_name) == []
    # The feed was stopped, not exhausted; everything it published was processed downstream.
    assert outcome["fills"] > 0
    assert reports["feed:sim"]["published"] > 2 * 4096  # several chunks of the random walk
    bars = records(streams[plan.bars.stream])
    last_bar = max(int(r["corr_id"]) for r in bars if int(r["type"]) == RecordType.BAR_EVENT)
    assert last_bar > reports["feed:sim"]["published"] - 100  # bars to the end, across chunks
    assert reports["strategy:1"]["intents"] > reports["strategy:1"]["intents_rebuilt"]
    assert reports["aggregator"]["trades"] == reports["feed:sim"]["published"]
    assert reports["oms:sim"]["md_processed"] == reports["feed:sim"]["published"]
    assert reports["strategy:1"]["positions"] == reports["oms:sim"]["positions"]
    assert reports["strategy:1"]["equity"] == reports["oms:sim"]["equity"]
    # No intent was sent twice: every NEW client order id is new, and the OMS saw no duplicate.
    assert reports["oms:sim"]["duplicate_intents"] == 0
    intents = records(streams[plan.intents(1).stream])
    ids = [int(r["client_order_id"]) for r in intents if int(r["action"]) == OrderAction.NEW]
    assert len(ids) == len(set(ids))
    result = replay_session(Path(plan.wal_dir))
    assert result.matches, [str(d) for d in result.differences]
