"""``qk status`` and ``qk stop``: look at, or stop, a running supervised session.

    qk status [--session NAME] [--json]
    qk stop [--session NAME] [--timeout SECONDS]

Both read the session's heartbeat table ``/qk.<session>.supervisor``: ``status`` prints each
process's pid, state, restart count, last exit code and the age of its last heartbeat; ``stop``
sends SIGTERM to the supervisor pid recorded in the table header and waits until it has exited.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

from qk.process import is_alive
from qk.supervisor.heartbeat import HeartbeatError
from qk.supervisor.layout import DEFAULT_SESSION, ProcessState
from qk.supervisor.table import HeartbeatTable, TableSnapshot

__all__ = ["NoSessionError", "StopTimeoutError", "format_status", "register"]


class NoSessionError(RuntimeError):
    """No supervisor runs the session (no heartbeat table, or its supervisor is gone)."""


class StopTimeoutError(RuntimeError):
    """The supervisor did not exit within the timeout."""


def _read(session: str) -> TableSnapshot:
    try:
        return HeartbeatTable.read(session)
    except HeartbeatError as exc:
        raise NoSessionError(str(exc)) from None


def format_status(snapshot: TableSnapshot, now_ns: int) -> str:
    """The table as text: a header line, then one line per process."""
    alive = snapshot.supervisor_alive
    lines = [
        f"session {snapshot.session}: supervisor pid {snapshot.supervisor_pid} "
        + ("running" if alive else "NOT RUNNING (stale table: the supervisor died)")
    ]
    lines.append(f"{'process':<24} {'pid':>8} {'state':<9} {'restarts':>8} {'exit':>5} last beat")
    for slot in snapshot.slots:
        live = slot.state in (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.STOPPING)
        age = slot.beat_age_s(now_ns)
        beat = "-" if age is None or not live else f"{age:.3f}s ago"
        pid = str(slot.pid) if live and slot.pid else "-"
        code = "-" if slot.exit_code is None else str(slot.exit_code)
        lines.append(
            f"{slot.name:<24} {pid:>8} {slot.state.name:<9} {slot.restarts:>8} {code:>5} {beat}"
        )
    return "\n".join(lines)


def _status_json(snapshot: TableSnapshot, now_ns: int) -> str:
    return json.dumps(
        {
            "session": snapshot.session,
            "supervisor_pid": snapshot.supervisor_pid,
            "supervisor_running": snapshot.supervisor_alive,
            "processes": [
                {
                    "name": slot.name,
                    "pid": slot.pid,
                    "state": slot.state.name,
                    "restarts": slot.restarts,
                    "exit_code": slot.exit_code,
                    "last_beat_age_s": slot.beat_age_s(now_ns),
                }
                for slot in snapshot.slots
            ],
        },
        indent=2,
    )


def _cmd_status(args: argparse.Namespace) -> int:
    snapshot = _read(args.session)
    now = time.monotonic_ns()
    print(_status_json(snapshot, now) if args.json else format_status(snapshot, now))
    return 0 if snapshot.supervisor_alive else 1


def _cmd_stop(args: argparse.Namespace) -> int:
    snapshot = _read(args.session)
    pid, start_ns = snapshot.supervisor_pid, snapshot.supervisor_start_ns
    if not is_alive(pid, start_ns):
        HeartbeatTable.unlink(args.session)
        raise NoSessionError(
            f"session {args.session!r}: supervisor pid {pid} is not running; "
            "removed its stale heartbeat table"
        )
    os.kill(pid, signal.SIGTERM)
    print(f"session {args.session}: sent SIGTERM to supervisor pid {pid}")
    deadline = time.monotonic() + args.timeout
    while is_alive(pid, start_ns):
        if time.monotonic() >= deadline:
            raise StopTimeoutError(
                f"session {args.session!r}: supervisor pid {pid} still running after "
                f"{args.timeout:g}s (children may be inside their stop grace; check qk status)"
            )
        time.sleep(0.05)
    print(f"session {args.session}: stopped")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``status`` and ``stop`` to the ``qk`` subcommands."""
    status = sub.add_parser("status", help="processes of a running session and their heartbeats")
    status.add_argument("--session", default=DEFAULT_SESSION, help="session name (default qk)")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_cmd_status)
    stop = sub.add_parser("stop", help="stop a running session (SIGTERM to its supervisor)")
    stop.add_argument("--session", default=DEFAULT_SESSION, help="session name (default qk)")
    stop.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the supervisor to exit (default 60)",
    )
    stop.set_defaults(func=_cmd_stop)
