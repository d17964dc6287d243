"""CPU pinning that never fails: ask for a CPU set, get the part of it this host can give.

Deployments name CPU sets written for production hosts; on a smaller machine (a laptop, CI, a
2-core VM) those CPUs may not exist or may be outside this process's allowed set (cgroups,
systemd ``CPUAffinity=``). Then the process is pinned to what is available and a warning says so.
"""

from __future__ import annotations

import os
from collections.abc import Set

import structlog

__all__ = ["available_cpus", "pin", "resolve_cpus"]

log = structlog.get_logger(__name__)


def available_cpus() -> frozenset[int]:
    """The CPUs this process may run on."""
    return frozenset(os.sched_getaffinity(0))


def resolve_cpus(
    process: str, requested: Set[int], available: Set[int] | None = None
) -> frozenset[int]:
    """The CPU set to pin ``process`` to, given what it asked for and what exists.

    All requested CPUs available: exactly those. Some: the available ones, with a warning naming the
    missing CPUs. None: every available CPU, with a warning.
    """
    have = frozenset(available_cpus() if available is None else available)
    want = frozenset(requested)
    usable = want & have
    if usable == want:
        return want
    chosen = usable or have
    log.warning(
        "cpu_pinning.fallback",
        process=process,
        requested=sorted(want),
        missing=sorted(want - have),
        available=sorted(have),
        using=sorted(chosen),
        reason="the host has fewer CPUs than the deployment asks for",
    )
    return chosen


def pin(process: str, pid: int, requested: Set[int]) -> frozenset[int] | None:
    """Pin ``pid`` to the resolved CPU set of ``requested``; None (and a warning) if that failed."""
    cpus = resolve_cpus(process, requested)
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError as exc:
        log.warning(
            "cpu_pinning.failed", process=process, pid=pid, cpus=sorted(cpus), error=str(exc)
        )
        return None
    return cpus
