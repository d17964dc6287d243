"""Small child processes for the supervisor tests, run as ``tests.supervisor.children:<function>``.

Each appends ``<event> <process name> <pid>`` lines to the file named by ``QK_TEST_LOG`` (when set),
so a test can check start and stop order across processes.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from types import FrameType

from qk.supervisor.heartbeat import Heartbeat


def _log(event: str) -> None:
    path = os.environ.get("QK_TEST_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{event} {os.environ.get('QK_PROCESS', '?')} {os.getpid()}\n")


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        _log("stop")
        os._exit(0)

    signal.signal(signal.SIGTERM, handler)


def _heartbeat() -> Heartbeat:
    heartbeat = Heartbeat.from_environment()
    assert heartbeat is not None, "started without QK_PROCESS"
    return heartbeat


def beat_forever() -> int:
    """Beat every 10 ms until SIGTERM (logs ``start`` after the first beat, ``stop`` on SIGTERM)."""
    _stop_on_sigterm()
    heartbeat = _heartbeat()
    heartbeat.beat()
    _log("start")
    while True:
        heartbeat.beat()
        time.sleep(0.01)


def crash() -> int:
    """Beat once, then exit 3."""
    _heartbeat().beat()
    _log("crash")
    return 3


def crash_later() -> int:
    """Beat for 0.4 s, then exit 3 (outlives a short restart window)."""
    heartbeat = _heartbeat()
    deadline = time.monotonic() + 0.4
    while time.monotonic() < deadline:
        heartbeat.beat()
        time.sleep(0.01)
    return 3


def hang() -> int:
    """Beat three times, then stop beating but keep running (a hung event loop)."""
    heartbeat = _heartbeat()
    for _ in range(3):
        heartbeat.beat()
        time.sleep(0.01)
    _log("hang")
    while True:
        time.sleep(1)


def exit_clean() -> int:
    """Beat once and exit 0."""
    _heartbeat().beat()
    return 0


def never_beat() -> int:
    """Run without ever beating."""
    while True:
        time.sleep(1)


def report_sandbox() -> int:
    """Print what a sandboxed process sees as JSON: descriptors, environment, limits, files it could open."""
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    report: dict[str, object] = {
        "fds": fds,
        "env": sorted(os.environ),
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "core": resource.getrlimit(resource.RLIMIT_CORE)[0],
        "cpu": resource.getrlimit(resource.RLIMIT_CPU),
        "as": resource.getrlimit(resource.RLIMIT_AS)[0],
    }
    opened = []
    error = None
    try:
        for _ in range(200):
            opened.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        error = exc.errno
    report["opened"] = len(opened)
    report["open_errno"] = error
    for fd in opened:
        os.close(fd)
    try:
        block = bytearray(256 * 2**20)
        report["allocated_256mib"] = len(block) > 0
    except MemoryError:
        report["allocated_256mib"] = False
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return 0
