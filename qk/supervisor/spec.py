"""What the supervisor runs: one :class:`ProcessSpec` per process, and their start order."""

from __future__ import annotations

import enum
import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qk.sandbox import SandboxLimits
from qk.supervisor.layout import validate_process_name

__all__ = [
    "Backoff",
    "ProcessSpec",
    "RestartPolicy",
    "SpecError",
    "start_order",
]

_ENTRY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class SpecError(ValueError):
    """A process specification (or a set of them) is inconsistent; the message names the field."""


class RestartPolicy(enum.Enum):
    """When an exited process is started again."""

    ALWAYS = "always"
    """After any exit, clean or not (a service that should never end)."""
    ON_FAILURE = "on-failure"
    """After a non-zero exit, a signal, or a missed heartbeat; a clean exit 0 ends it."""
    NEVER = "never"
    """Never: one run."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off between restarts: ``initial * factor**n`` capped at ``maximum``.

    ``n`` is the number of restarts already made inside the current restart window, so a process
    that has run quietly for a whole window starts again from ``initial``. With ``jitter`` > 0 the
    delay is scaled by a factor drawn uniformly from ``[1 - jitter, 1]`` with a seeded generator, so
    runs are reproducible.
    """

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < self.initial:
            raise SpecError(
                f"backoff: need 0 <= initial <= maximum, got initial={self.initial} "
                f"maximum={self.maximum}"
            )
        if self.factor < 1:
            raise SpecError(f"backoff: factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            raise SpecError(f"backoff: jitter must be in [0, 1), got {self.jitter}")

    def delay(self, attempt: int, draw: float = 1.0) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based) in the window.

        Args:
            attempt: restarts already made in the current window.
            draw: a uniform number in [0, 1] (from the supervisor's seeded generator); used only
                when ``jitter`` > 0.
        """
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        try:
            base = min(self.initial * self.factor**attempt, self.maximum)
        except OverflowError:
            # factor**attempt outgrew a float: long past the cap (unless there is no delay at all).
            base = self.maximum if self.initial > 0 else 0.0
        return base * (1.0 - self.jitter * draw) if self.jitter else base


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One supervised process.

    Exactly one of ``entry`` ("package.module:function", imported and called in a fresh
    ``sys.executable -m qk.supervisor.launch package.module:function``) and ``argv`` (a command
    line, executed by the launcher) is given.
    """

    name: str
    entry: str | None = None
    argv: tuple[str, ...] | None = None
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables, added to the scrubbed environment the child gets."""
    cpus: frozenset[int] | None = None
    """CPUs to pin the process to (None: leave the inherited affinity)."""
    restart: RestartPolicy = RestartPolicy.ON_FAILURE
    max_restarts: int = 5
    """At most this many restarts in ``restart_window`` seconds; one more failure gives up."""
    restart_window: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)
    heartbeat_timeout: float | None = None
    """Kill and restart the process when it has not beaten for this many seconds (None: no check)."""
    startup_timeout: float = 10.0
    """Seconds allowed from spawn to the first beat, when ``heartbeat_timeout`` is set."""
    depends_on: tuple[str, ...] = ()
    """Processes that must be running before this one starts; it is stopped before them."""
    stop_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL on stop."""
    sandbox: SandboxLimits | None = None
    """Resource limits applied in the child before its code runs (strategies)."""

    def __post_init__(self) -> None:
        try:
            validate_process_name(self.name)
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        where = f"process {self.name!r}"
        if (self.entry is None) == (self.argv is None):
            raise SpecError(f"{where}: give exactly one of entry and argv")
        if self.entry is not None and not _ENTRY_RE.match(self.entry):
            raise SpecError(f"{where}: entry {self.entry!r} is not 'package.module:function'")
        if self.argv is not None and not self.argv:
            raise SpecError(f"{where}: argv is empty")
        if self.cpus is not None and (not self.cpus or min(self.cpus) < 0):
            raise SpecError(f"{where}: cpus must be a non-empty set of CPU numbers >= 0")
        if self.max_restarts < 0:
            raise SpecError(f"{where}: max_restarts must be >= 0, got {self.max_restarts}")
        if self.restart_window <= 0:
            raise SpecError(f"{where}: restart_window must be > 0, got {self.restart_window}")
        if self.heartbeat_timeout is not None and self.heartbeat_timeout <= 0:
            raise SpecError(f"{where}: heartbeat_timeout must be > 0, got {self.heartbeat_timeout}")
        if self.startup_timeout <= 0:
            raise SpecError(f"{where}: startup_timeout must be > 0, got {self.startup_timeout}")
        if self.stop_grace < 0:
            raise SpecError(f"{where}: stop_grace must be >= 0, got {self.stop_grace}")
        if self.name in self.depends_on:
            raise SpecError(f"{where}: depends on itself")

    def command(self) -> list[str]:
        """The command line that starts this process (always through ``qk.supervisor.launch``).

        The launcher applies the sandbox and ties the child's life to the supervisor's before it
        imports the entry or executes the argv.
        """
        launch = [sys.executable, "-m", "qk.supervisor.launch"]
        if self.sandbox is not None:
            launch += ["--sandbox", self.sandbox.to_json()]
        if self.entry is not None:
            return [*launch, self.entry]
        assert self.argv is not None
        return [*launch, "--", *self.argv]

    def describe(self) -> str:
        """The command line as one shell-quoted string (for logs)."""
        return shlex.join(self.command())


def start_order(specs: Sequence[ProcessSpec]) -> list[ProcessSpec]:
    """``specs`` ordered so that every process comes after the processes it depends on.

    Ties keep the given order, so the result is deterministic. Stop order is the reverse.

    Raises:
        SpecError: a duplicate name, a dependency on an unknown process, or a cycle (named).
    """
    by_name: dict[str, ProcessSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise SpecError(f"two processes are named {spec.name!r}")
        by_name[spec.name] = spec
    for spec in specs:
        for dep in spec.depends_on:
            if dep not in by_name:
                raise SpecError(f"process {spec.name!r} depends on unknown process {dep!r}")
    ordered: list[ProcessSpec] = []
    placed: set[str] = set()
    remaining = list(specs)
    while remaining:
        ready = [s for s in remaining if all(d in placed for d in s.depends_on)]
        if not ready:
            cycle = ", ".join(s.name for s in remaining)
            raise SpecError(f"dependency cycle among processes: {cycle}")
        first = ready[0]
        ordered.append(first)
        placed.add(first.name)
        remaining.remove(first)
    return ordered
