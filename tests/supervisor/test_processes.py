"""Chaos-style tests with real child processes: kills, crash loops, hangs, policies, pinning."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import structlog

from qk.process import is_alive
from qk.supervisor import (
    Backoff,
    ExitReason,
    ExitRecord,
    HeartbeatTable,
    ProcessSpec,
    ProcessState,
    RestartPolicy,
    Supervisor,
)
from tests.supervisor.conftest import child, drive

FAST = Backoff(initial=0.05, factor=2.0, maximum=0.2)


def state(supervisor: Supervisor, name: str) -> ProcessState:
    return next(s.state for s in supervisor.status() if s.name == name)


def restarts(supervisor: Supervisor, name: str) -> int:
    return next(s.restarts for s in supervisor.status() if s.name == name)


def running(supervisor: Supervisor, name: str) -> bool:
    return state(supervisor, name) is ProcessState.RUNNING


def test_sigkilled_child_is_restarted_after_its_backoff_with_restart_count_incremented(
    session: str, supervisors: list[Supervisor]
) -> None:
    backoff = Backoff(initial=0.3, factor=2.0, maximum=5.0)
    spec = child("feed", "beat_forever", heartbeat_timeout=5.0, backoff=backoff, max_restarts=5)
    sup = Supervisor([spec], session=session)
    supervisors.append(sup)
    sup.start()
    drive(sup, lambda: running(sup, "feed"))

    for attempt, expected_delay in enumerate((0.3, 0.6), start=1):
        pid = sup.pid("feed")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        drive(sup, lambda a=attempt: restarts(sup, "feed") == a and running(sup, "feed"))

        last = sup.history("feed")[-1]
        assert last.pid == pid
        assert last.reason is ExitReason.SIGNALED
        assert last.exit_code == -signal.SIGKILL
        new_pid = sup.pid("feed")
        assert new_pid is not None and new_pid != pid
        slot = HeartbeatTable.read(session).slots[0]
        assert (slot.pid, slot.restarts, slot.exit_code) == (new_pid, attempt, -signal.SIGKILL)
        # The new incarnation was spawned no earlier than the back-off after the exit was seen.
        assert slot.spawned_ns - last.ended_ns >= expected_delay * 1e9


def test_crash_looping_child_gives_up_after_its_budget_while_sibling_keeps_running(
    session: str, supervisors: list[Supervisor]
) -> None:
    given_up: list[tuple[str, Sequence[ExitRecord]]] = []
    crasher = child("strategy:bad", "crash", max_restarts=2, restart_window=60.0, backoff=FAST)
    sibling = child("strategy:good", "beat_forever", heartbeat_timeout=5.0)
    sup = Supervisor(
        [crasher, sibling],
        session=session,
        on_give_up=lambda spec, history: given_up.append((spec.name, history)),
    )
    supervisors.append(sup)
    sup.start()
    drive(sup, lambda: running(sup, "strategy:good"))
    sibling_pid = sup.pid("strategy:good")

    drive(sup, lambda: state(sup, "strategy:bad") is ProcessState.GAVE_UP)
    for _ in range(20):
        sup.step()

    assert [name for name, _ in given_up] == ["strategy:bad"]
    history = given_up[0][1]
    assert len(history) == 3  # the first run and two restarts
    assert all(r.exit_code == 3 and r.reason is ExitReason.EXITED for r in history)
    assert restarts(sup, "strategy:bad") == 2
    assert sup.pid("strategy:bad") is None
    assert HeartbeatTable.read(session).slots[0].state is ProcessState.GAVE_UP
    assert sup.pid("strategy:good") == sibling_pid
    assert running(sup, "strategy:good")
    assert restarts(sup, "strategy:good") == 0


def test_restart_budget_counts_only_restarts_inside_the_window(
    session: str, supervisors: list[Supervisor]
) -> None:
    # Each run lasts 0.4 s, longer than the 0.3 s window, so one restart in the window is never
    # exceeded even though the process keeps failing.
    spec = child("slow-crash", "crash_later", max_restarts=1, restart_window=0.3, backoff=FAST)
    sup = Supervisor([spec], session=session)
    supervisors.append(sup)
    sup.start()
    drive(sup, lambda: restarts(sup, "slow-crash") >= 3)
    assert state(sup, "slow-crash") is not ProcessState.GAVE_UP


def test_hung_child_is_killed_and_restarted(session: str, supervisors: list[Supervisor]) -> None:
    spec = child("risk", "hang", heartbeat_timeout=0.3, backoff=FAST)
    sup = Supervisor([spec], session=session)
    supervisors.append(sup)
    sup.start()
    drive(sup, lambda: restarts(sup, "risk") >= 1)

    first = sup.history("risk")[0]
    assert first.reason is ExitReason.HUNG
    assert first.exit_code == -signal.SIGKILL
    assert not is_alive(first.pid)
    assert first.ended_ns - first.spawned_ns >= 0.3e9


def test_child_that_never_beats_is_killed_after_its_startup_timeout(
    session: str, supervisors: list[Supervisor]
) -> None:
    spec = child("silent", "never_beat", heartbeat_timeout=5.0, startup_timeout=0.3, max_restarts=0)
    sup = Supervisor([spec], session=session)
    supervisors.append(sup)
    sup.start()
    drive(sup, lambda: state(sup, "silent") is ProcessState.GAVE_UP)
    assert [r.reason for r in sup.history("silent")] == [ExitReason.HUNG]


def test_on_failure_does_not_restart_a_clean_exit(
    session: str, supervisors: list[Supervisor]
) -> None:
    clean = child("once", "exit_clean", restart=RestartPolicy.ON_FAILURE, backoff=FAST)
    always = child("again", "exit_clean", restart=RestartPolicy.ALWAYS, backoff=FAST)
    never = child("fails", "crash", restart=RestartPolicy.NEVER, backoff=FAST)
    sup = Supervisor([clean, always, never], session=session)
    supervisors.append(sup)
    sup.start()
    drive(
        sup,
        lambda: (
            state(sup, "once") is ProcessState.STOPPED
            and state(sup, "fails") is ProcessState.FAILED
            and restarts(sup, "again") >= 2
        ),
    )
    assert [r.exit_code for r in sup.history("once")] == [0]
    assert restarts(sup, "once") == 0
    assert [r.exit_code for r in sup.history("fails")] == [3]
    assert restarts(sup, "fails") == 0


def test_dependencies_start_after_their_dependency_beats_and_stop_before_it(
    session: str, supervisors: list[Supervisor], tmp_path: Path
) -> None:
    log = tmp_path / "events.log"
    env = {"QK_TEST_LOG": str(log)}
    specs = [
        child("strategy", "beat_forever", heartbeat_timeout=5.0, depends_on=("risk",), env=env),
        child("risk", "beat_forever", heartbeat_timeout=5.0, depends_on=("wal",), env=env),
        child("wal", "beat_forever", heartbeat_timeout=5.0, env=env),
    ]
    sup = Supervisor(specs, session=session)
    supervisors.append(sup)
    assert sup.order == ["wal", "risk", "strategy"]
    sup.start()
    assert state(sup, "strategy") is ProcessState.PENDING
    drive(sup, lambda: all(s.state is ProcessState.RUNNING for s in sup.status()))
    sup.stop()

    events = [line.split()[:2] for line in log.read_text().splitlines()]
    assert events == [
        ["start", "wal"],
        ["start", "risk"],
        ["start", "strategy"],
        ["stop", "strategy"],
        ["stop", "risk"],
        ["stop", "wal"],
    ]
    assert all(s.state is ProcessState.STOPPED for s in sup.status())
    assert not HeartbeatTable.unlink(session)  # stop() already removed the table


def test_stop_sends_sigterm_then_kills_a_child_that_ignores_it_after_its_grace(
    session: str, supervisors: list[Supervisor]
) -> None:
    ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    stubborn = ProcessSpec(name="stubborn", argv=(sys.executable, "-c", ignore), stop_grace=0.2)
    polite = child("polite", "never_beat", stop_grace=5.0)
    sup = Supervisor([stubborn, polite], session=session)
    supervisors.append(sup)
    sup.start()
    stubborn_pid = sup.pid("stubborn")
    assert stubborn_pid is not None
    # SIGTERM must reach the interpreter only after it ignores it, or the test proves nothing.
    drive(sup, lambda: _ignores_sigterm(stubborn_pid))

    sup.stop()

    assert sup.history("stubborn")[-1].reason is ExitReason.STOPPED
    assert sup.history("stubborn")[-1].exit_code == -signal.SIGKILL
    assert sup.history("polite")[-1].exit_code == -signal.SIGTERM
    assert not is_alive(stubborn_pid)


def _ignores_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def test_children_are_pinned_to_their_cpus_and_fall_back_with_a_warning(
    session: str, supervisors: list[Supervisor]
) -> None:
    available = sorted(os.sched_getaffinity(0))
    first = available[0]
    missing = max(available) + 64
    specs = [
        child("exact", "never_beat", cpus=frozenset({first})),
        child("partial", "never_beat", cpus=frozenset({first, missing})),
        child("none", "never_beat", cpus=frozenset({missing})),
    ]
    sup = Supervisor(specs, session=session)
    supervisors.append(sup)
    with structlog.testing.capture_logs() as logs:
        sup.start()
    pids = {name: sup.pid(name) for name in ("exact", "partial", "none")}
    assert all(pids.values())
    assert os.sched_getaffinity(pids["exact"]) == {first}  # type: ignore[arg-type]
    assert os.sched_getaffinity(pids["partial"]) == {first}  # type: ignore[arg-type]
    assert os.sched_getaffinity(pids["none"]) == set(available)  # type: ignore[arg-type]
    warnings = [e for e in logs if e["event"] == "cpu_pinning.fallback"]
    assert [(w["process"], w["missing"]) for w in warnings] == [
        ("partial", [missing]),
        ("none", [missing]),
    ]
    assert all(s.state is ProcessState.RUNNING for s in sup.status())


def test_starting_a_supervisor_twice_is_refused(
    session: str, supervisors: list[Supervisor]
) -> None:
    sup = Supervisor([child("a", "never_beat")], session=session)
    supervisors.append(sup)
    sup.start()
    with pytest.raises(RuntimeError, match="already started"):
        sup.start()


def test_a_spawn_that_fails_outright_uses_up_the_budget(
    session: str, supervisors: list[Supervisor], tmp_path: Path
) -> None:
    spec = child("nowhere", "beat_forever", max_restarts=1, backoff=FAST)
    broken = ProcessSpec(
        name="nowhere", entry=spec.entry, cwd=tmp_path / "missing", max_restarts=1, backoff=FAST
    )
    given_up: list[str] = []

    def explode(spec: ProcessSpec, history: Sequence[ExitRecord]) -> None:
        given_up.append(spec.name)
        raise RuntimeError("callback bug")

    sup = Supervisor([broken], session=session, on_give_up=explode)
    supervisors.append(sup)
    with structlog.testing.capture_logs() as logs:
        sup.start()
        drive(sup, lambda: state(sup, "nowhere") is ProcessState.GAVE_UP)
    assert given_up == ["nowhere"]
    assert [r.exit_code for r in sup.history("nowhere")] == [127, 127]
    assert any(e["event"] == "supervisor.callback_failed" for e in logs)


def test_run_returns_when_every_process_has_ended(session: str) -> None:
    clean = Supervisor([child("once", "exit_clean")], session=session, poll_interval=0.01)
    assert clean.run(duration=30, install_signals=False) == 0
    assert [r.exit_code for r in clean.history("once")] == [0]
    failing = Supervisor(
        [child("fails", "crash", restart=RestartPolicy.NEVER), child("once", "exit_clean")],
        session=session,
        poll_interval=0.01,
    )
    assert failing.run(duration=30, install_signals=False) == 1
    assert not HeartbeatTable.unlink(session)


def test_run_stops_after_its_duration(session: str) -> None:
    sup = Supervisor([child("feed", "beat_forever")], session=session, poll_interval=0.01)
    assert sup.run(duration=0.3, install_signals=False) == 0
    assert sup.history("feed")[-1].reason is ExitReason.STOPPED
