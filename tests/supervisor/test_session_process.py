"""A supervisor running in its own process: SIGTERM, ``qk stop``, ``qk status``, SIGKILL."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qk.process import is_alive
from qk.supervisor import HeartbeatError, HeartbeatTable, ProcessState, SessionBusyError
from qk.supervisor.cli import NoSessionError, register
from tests.supervisor.conftest import ROOT, wait_for


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    return parser.parse_args(argv)


def run_cli(*argv: str) -> int:
    args = parse(*argv)
    code: int = args.func(args)
    return code


def table_exists(session: str) -> bool:
    return Path(f"/dev/shm/qk.{session}.supervisor").exists()


def all_running(session: str) -> bool:
    try:
        snapshot = HeartbeatTable.read(session)
    except HeartbeatError:
        return False
    return all(slot.state is ProcessState.RUNNING for slot in snapshot.slots)


@pytest.fixture
def session_process(session: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / "events.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.supervisor.session_main", session, str(log)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: all_running(session) or proc.poll() is not None, what="all children running")
    assert proc.poll() is None, "the supervisor process exited during start-up"
    yield proc, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def child_pids(log: Path) -> list[int]:
    return [
        int(line.split()[2]) for line in log.read_text().splitlines() if line.startswith("start")
    ]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_stops_children_in_reverse_order_unlinks_the_table_and_exits_0(
    session: str, session_process: tuple[subprocess.Popen[bytes], Path], signum: signal.Signals
) -> None:
    proc, log = session_process
    pids = child_pids(log)

    proc.send_signal(signum)

    assert proc.wait(timeout=30) == 0
    events = [line.split()[:2] for line in log.read_text().splitlines()]
    assert events == [
        ["start", "a"],
        ["start", "b"],
        ["start", "c"],
        ["intake", "supervisor"],
        ["stop", "c"],
        ["stop", "b"],
        ["stop", "a"],
        ["cleanup", "supervisor"],
    ]
    assert not table_exists(session)
    assert not any(is_alive(pid) for pid in pids)


def test_qk_status_lists_processes_and_qk_stop_stops_the_session(
    session: str,
    session_process: tuple[subprocess.Popen[bytes], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc, log = session_process

    assert run_cli("status", "--session", session) == 0
    out = capsys.readouterr().out
    assert f"supervisor pid {proc.pid} running" in out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("a", "RUNNING", "0"),
        ("b", "RUNNING", "0"),
        ("c", "RUNNING", "0"),
    ]
    assert sorted(int(r[1]) for r in rows) == sorted(child_pids(log))

    assert run_cli("stop", "--session", session, "--timeout", "30") == 0
    assert proc.wait(timeout=5) == 0
    assert not table_exists(session)
    with pytest.raises(NoSessionError, match=session):
        run_cli("status", "--session", session)


def test_a_second_supervisor_of_a_running_session_is_refused(
    session: str, session_process: tuple[subprocess.Popen[bytes], Path]
) -> None:
    proc, _ = session_process
    with pytest.raises(SessionBusyError, match=str(proc.pid)):
        HeartbeatTable.create(session, ["x"])
    assert all_running(session)


def test_children_die_with_a_sigkilled_supervisor_and_its_stale_table_is_reported(
    session: str,
    session_process: tuple[subprocess.Popen[bytes], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    proc, log = session_process
    pids = child_pids(log)

    proc.kill()
    proc.wait()

    wait_for(lambda: not any(is_alive(pid) for pid in pids), what="children exit")
    assert table_exists(session)
    assert run_cli("status", "--session", session) == 1
    assert "NOT RUNNING" in capsys.readouterr().out
    with pytest.raises(NoSessionError, match="stale"):
        run_cli("stop", "--session", session)
    assert not table_exists(session)


def test_status_json_and_missing_session(session: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NoSessionError, match=f"session '{session}'"):
        run_cli("status", "--session", session)
    table = HeartbeatTable.create(session, ["feed", "risk"])
    try:
        table.set_state(1, ProcessState.BACKOFF)
        table.set_restarts(1, 4)
        table.set_exit(1, -9)
        assert run_cli("status", "--session", session, "--json") == 0
    finally:
        table.close()
    data = json.loads(capsys.readouterr().out)
    assert data["supervisor_pid"] == os.getpid()
    assert data["processes"][1] == {
        "name": "risk",
        "pid": 0,
        "state": "BACKOFF",
        "restarts": 4,
        "exit_code": -9,
        "last_beat_age_s": None,
    }


def test_default_session_is_qk() -> None:
    assert parse("status").session == "qk"
    assert parse("stop").session == "qk"
