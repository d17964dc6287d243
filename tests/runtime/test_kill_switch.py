"""The kill switch across processes: CLI → control ring → OMS, measured and checked in the WAL."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qk.rings import BackPressure, Ring, RingNotFoundError
from qk.runtime.control import ControlError, send_command
from qk.runtime.session import SessionOptions, start_session
from qk.schemas import as_record
from qk.schemas.enums import ControlCommandKind, OrderEventKind, OrderStatus, RecordType
from tests.runtime.conftest import KEEP_SUBMITTING, descriptor, plan_of, records, wal_streams

pytestmark = pytest.mark.timeout(120)

LATENCY_CEILING_S = 0.25
"""Generous for two loaded cores; the measured figure is printed (the target is 10 ms)."""


def _attach(name: str, timeout: float) -> Ring:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Ring.attach(name)
        except RingNotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _tap(ring: Ring) -> Any:
    consumer = ring.consumer("test.tap", BackPressure.LOSSY, start="earliest")
    buffer = np.zeros((256, ring.slot_size), np.uint8)

    def read(timeout: float) -> list[np.void]:
        count = consumer.read_batch(buffer, timeout=timeout)
        return [as_record(slot)[0] for slot in buffer[:count]]

    return read


def test_kill_switch_cancels_every_open_order_and_denies_the_rest(
    tmp_path: Path, session_name: str
) -> None:
    deployment = descriptor(tmp_path, KEEP_SUBMITTING)
    root = tmp_path / "sessions"
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome.update(
            start_session(
                SessionOptions(
                    descriptor=deployment, session=session_name, root=root, speed=100, duration=11
                )
            )
        )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        ring = _attach(f"{session_name}.exec", 30)
        read = _tap(ring)
        accepted = 0
        deadline = time.monotonic() + 40
        while accepted < 8:
            assert time.monotonic() < deadline, "orders never reached the venue"
            accepted += sum(
                1
                for r in read(0.05)
                if int(r["type"]) == RecordType.ORDER_UPDATE
                and int(r["status"]) == OrderStatus.ACCEPTED
            )
        start = time.perf_counter()
        command_id = send_command(session_name, ControlCommandKind.KILL_SWITCH)
        sent = time.perf_counter()
        done = None
        while done is None:
            assert time.perf_counter() - start < 5, "the OMS never acknowledged the kill switch"
            for r in read(0.001):
                if (
                    int(r["type"]) == RecordType.CONTROL_COMMAND
                    and int(r["command_id"]) == command_id
                ):
                    done = time.perf_counter()
        latency = done - start
        time.sleep(1.0)  # the strategy keeps submitting against the switch
        resume_id = send_command(session_name, ControlCommandKind.RESUME_TRADING)
        resumed = False
        deadline = time.monotonic() + 5
        while not resumed:
            assert time.monotonic() < deadline, "the OMS never acknowledged the release"
            resumed = any(
                int(r["type"]) == RecordType.CONTROL_COMMAND and int(r["command_id"]) == resume_id
                for r in read(0.01)
            )
        time.sleep(1.0)
        print(
            f"kill switch: command -> all cancelled, new orders refused: {latency * 1e3:.2f} ms (sending {(sent - start) * 1e3:.2f} ms)"
        )
        ring.close()
    finally:
        thread.join()
    assert outcome["exit_code"] == 0
    assert latency < LATENCY_CEILING_S

    plan = plan_of(root / session_name)
    exec_records = records(wal_streams(plan.wal_dir)[plan.exec.stream])
    echo = next(
        i for i, r in enumerate(exec_records)
        if int(r["type"]) == RecordType.CONTROL_COMMAND and int(r["command_id"]) == command_id
    )  # fmt: skip
    release = next(
        i for i, r in enumerate(exec_records)
        if int(r["type"]) == RecordType.CONTROL_COMMAND and int(r["command_id"]) == resume_id
    )  # fmt: skip
    before, after = exec_records[:echo], exec_records[echo + 1 : release]
    # Released: the strategy's next orders reach the venue again.
    assert any(
        int(r["type"]) == RecordType.ORDER_UPDATE and int(r["status"]) == OrderStatus.ACCEPTED
        for r in exec_records[release + 1 :]
    )
    status: dict[int, int] = {}
    for r in before:
        if int(r["type"]) == RecordType.ORDER_UPDATE:
            status[int(r["client_order_id"])] = int(r["status"])
    # Nothing works any more when the acknowledgement is published.
    working = {OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
               OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_MODIFY}  # fmt: skip
    assert not [(oid, s) for oid, s in status.items() if s in working]
    assert sum(1 for s in status.values() if s == OrderStatus.CANCELED) >= 8
    # The strategy kept submitting; every later order was denied, none accepted.
    later = [r for r in after if int(r["type"]) == RecordType.ORDER_UPDATE]
    assert later, "the strategy stopped submitting"
    assert all(int(r["client_order_id"]) not in status for r in later)
    assert all(int(r["status"]) == OrderStatus.DENIED for r in later)
    assert not [r for r in later if int(r["event"]) == OrderEventKind.ACCEPTED]
    assert outcome["processes"]["oms:sim"]["kill_switch_engaged"] is False


def test_command_to_a_session_that_is_not_running(session_name: str) -> None:
    with pytest.raises(ControlError, match="not running"):
        send_command(session_name, ControlCommandKind.KILL_SWITCH)
