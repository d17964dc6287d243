"""Process supervision: specs, heartbeats in shared memory, restarts, sd_notify.

See ``docs/supervisor.md``. A supervised child needs only :class:`Heartbeat` (from
``qk.supervisor.heartbeat``, which imports no numpy); the names below load their modules on first
use so that a child importing this package for its heartbeat does not pay for the supervisor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qk.supervisor.heartbeat import Heartbeat, HeartbeatError
    from qk.supervisor.layout import ProcessState
    from qk.supervisor.notify import SystemdNotifier
    from qk.supervisor.restart import RestartAction, RestartBudget, RestartDecision
    from qk.supervisor.spec import Backoff, ProcessSpec, RestartPolicy, SpecError, start_order
    from qk.supervisor.supervisor import (
        ExitReason,
        ExitRecord,
        ProcessStatus,
        Supervisor,
        child_environment,
    )
    from qk.supervisor.table import HeartbeatTable, SessionBusyError

_HOMES = {
    "Heartbeat": "heartbeat",
    "HeartbeatError": "heartbeat",
    "ProcessState": "layout",
    "SystemdNotifier": "notify",
    "RestartAction": "restart",
    "RestartBudget": "restart",
    "RestartDecision": "restart",
    "Backoff": "spec",
    "ProcessSpec": "spec",
    "RestartPolicy": "spec",
    "SpecError": "spec",
    "start_order": "spec",
    "ExitReason": "supervisor",
    "ExitRecord": "supervisor",
    "ProcessStatus": "supervisor",
    "Supervisor": "supervisor",
    "child_environment": "supervisor",
    "HeartbeatTable": "table",
    "SessionBusyError": "table",
}

__all__ = [
    "Backoff",
    "ExitReason",
    "ExitRecord",
    "Heartbeat",
    "HeartbeatError",
    "HeartbeatTable",
    "ProcessSpec",
    "ProcessState",
    "ProcessStatus",
    "RestartAction",
    "RestartBudget",
    "RestartDecision",
    "RestartPolicy",
    "SessionBusyError",
    "SpecError",
    "Supervisor",
    "SystemdNotifier",
    "child_environment",
    "start_order",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qk.supervisor' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qk.supervisor.{home}"), name)
