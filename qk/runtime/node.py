"""What every runtime process does the same way: logging, its heartbeat, SIGTERM as a flag.

A process of a session runs one loop; each pass reads what is available, handles it, beats. The
SIGTERM handler only sets a flag: the loop then stops its intake, drains its input rings until
their producers have closed them (or :data:`DRAIN_IDLE_S` passes with nothing new), closes the
rings it produces and returns.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any, Final

import structlog

from qk.logs import configure_logging
from qk.supervisor.heartbeat import Heartbeat

__all__ = ["DRAIN_IDLE_S", "POLL_S", "Node", "write_report"]

POLL_S: Final = 0.05
"""Longest single wait on a ring: a process beats at least this often when idle."""
DRAIN_IDLE_S: Final = 3.0
"""While stopping, give up on an input whose producer neither publishes nor closes for this long
(a crashed producer never closes its ring)."""


class Node:
    """One runtime process: its name, logger, heartbeat and stop flag.

    Args:
        process: The process name (``feed:sim``, ``strategy:1``...).
        install_signals: Route SIGTERM/SIGINT to :attr:`stopping` (main thread only).
    """

    def __init__(self, process: str, *, install_signals: bool = True) -> None:
        configure_logging(process)
        self.process = process
        self.log: Any = structlog.get_logger(f"qk.runtime.{process}")
        self.heartbeat = Heartbeat.from_environment()
        self._signal = 0
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # A plain store: the loop polls it (see docs/runtime.md, Shutdown).
        self._signal = signum

    @property
    def stopping(self) -> bool:
        """True once SIGTERM/SIGINT arrived (or :meth:`request_stop` was called)."""
        return self._signal != 0

    def request_stop(self) -> None:
        """Stop as if SIGTERM had arrived."""
        self._signal = int(signal.SIGTERM)

    def beat(self) -> None:
        """Tell the supervisor this process is alive (no-op when not supervised)."""
        if self.heartbeat is not None:
            self.heartbeat.beat()


class DrainClock:
    """Decides when a stopping process stops waiting for more input."""

    def __init__(self, idle_s: float = DRAIN_IDLE_S) -> None:
        self._idle_s = idle_s
        self._last = time.monotonic()

    def progressed(self) -> None:
        """Something was read: the producer is still draining into us."""
        self._last = time.monotonic()

    @property
    def expired(self) -> bool:
        """Nothing arrived for ``idle_s``: whatever is left is not coming."""
        return time.monotonic() - self._last > self._idle_s


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write a process's end-of-run report atomically (the summary reads it after the run)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
