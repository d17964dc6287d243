"""The restart decision of one process: its policy, its budget in a sliding window, its back-off.

Pure bookkeeping on CLOCK_MONOTONIC nanoseconds, with no processes involved, so that the rules are
testable on their own (``tests/supervisor/test_restart.py`` runs them as a state machine).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from qk.supervisor.spec import ProcessSpec, RestartPolicy

__all__ = ["RestartAction", "RestartBudget", "RestartDecision"]


class RestartAction(enum.Enum):
    """What to do with a process that has just ended."""

    RESTART = "restart"
    """Start it again after ``delay_s``."""
    STOP = "stop"
    """Leave it stopped: a clean exit its policy does not restart."""
    FAIL = "fail"
    """Leave it failed: a failure its policy does not restart (NEVER)."""
    GIVE_UP = "give-up"
    """Its restart budget is spent: leave it and report it."""


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """An :class:`RestartAction` and, for RESTART, the back-off before it."""

    action: RestartAction
    delay_s: float = 0.0
    restarts_in_window: int = 0
    """Restarts made in the window before this decision."""


class RestartBudget:
    """Decides restarts for one process and remembers the restarts inside its window."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self._restarts: deque[int] = deque()
        self._window_ns = int(spec.restart_window * 1e9)

    def restarts_in_window(self, now_ns: int) -> int:
        """Restarts made in the ``restart_window`` seconds up to ``now_ns``."""
        self._forget(now_ns)
        return len(self._restarts)

    def decide(self, failed: bool, now_ns: int, draw: float = 1.0) -> RestartDecision:
        """The decision for an exit seen at ``now_ns``.

        Args:
            failed: anything but a clean exit 0 (a signal, a missed heartbeat, a non-zero code).
            now_ns: CLOCK_MONOTONIC ns of the exit.
            draw: a uniform number in [0, 1] for the back-off jitter.
        """
        policy = self.spec.restart
        if policy is RestartPolicy.NEVER:
            return RestartDecision(RestartAction.FAIL if failed else RestartAction.STOP)
        if policy is RestartPolicy.ON_FAILURE and not failed:
            return RestartDecision(RestartAction.STOP)
        made = self.restarts_in_window(now_ns)
        if made >= self.spec.max_restarts:
            return RestartDecision(RestartAction.GIVE_UP, restarts_in_window=made)
        return RestartDecision(
            RestartAction.RESTART, self.spec.backoff.delay(made, draw), restarts_in_window=made
        )

    def record_restart(self, now_ns: int) -> None:
        """Count a restart attempt made at ``now_ns`` (spawned or not)."""
        self._restarts.append(now_ns)

    def _forget(self, now_ns: int) -> None:
        horizon = now_ns - self._window_ns
        while self._restarts and self._restarts[0] <= horizon:
            self._restarts.popleft()
