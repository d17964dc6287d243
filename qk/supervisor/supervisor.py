"""The process supervisor: spawn in dependency order, pin, watch exits and heartbeats, restart.

One loop, one thread. Each pass of :meth:`Supervisor.step` reaps exited children, kills children whose
heartbeat is overdue, starts children whose dependencies run or whose back-off has elapsed, and
talks to systemd. :meth:`Supervisor.run` is the foreground main loop with SIGTERM/SIGINT handling;
tests drive :meth:`start`, :meth:`step` and :meth:`stop` directly.

A child's exit never touches another child: the restart policy, the restart budget and the back-off
are per process. A process that exceeds its budget is marked GAVE_UP and reported through
``on_give_up``; the runtime decides what that means (halt the strategy, raise a RiskEvent).
"""

from __future__ import annotations

import enum
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import structlog

from qk.metrics import IntGauge, MetricsExporter, MetricsSegment
from qk.process import start_time_ns
from qk.sandbox import is_credential_name
from qk.supervisor import layout
from qk.supervisor.affinity import pin
from qk.supervisor.layout import ProcessState
from qk.supervisor.notify import SystemdNotifier
from qk.supervisor.restart import RestartAction, RestartBudget, RestartDecision
from qk.supervisor.spec import ProcessSpec, start_order
from qk.supervisor.table import HeartbeatTable

__all__ = [
    "ExitReason",
    "ExitRecord",
    "GiveUpCallback",
    "ProcessStatus",
    "Supervisor",
    "child_environment",
]

log = structlog.get_logger(__name__)

SUPERVISOR_PID_ENV = "QK_SUPERVISOR_PID"
_KILL_WAIT_S = 10.0

# Variables a child inherits from the supervisor's environment (besides QK_* and LC_*); everything
# else, and anything that looks like a credential, is dropped.
_INHERITED = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "PYTHONPATH",
        "PYTHONHASHSEED",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "VIRTUAL_ENV",
    }
)


class ExitReason(enum.Enum):
    """Why an incarnation of a process ended."""

    EXITED = "exited"
    """It exited by itself (the exit code says how)."""
    SIGNALED = "signaled"
    """A signal from outside the supervisor killed it."""
    HUNG = "hung"
    """No heartbeat within its timeout: the supervisor killed it."""
    STOPPED = "stopped"
    """The supervisor stopped it during shutdown."""


@dataclass(frozen=True, slots=True)
class ExitRecord:
    """One ended incarnation of a process."""

    pid: int
    exit_code: int
    """The exit status; negative: killed by that signal number."""
    reason: ExitReason
    spawned_ns: int
    """CLOCK_MONOTONIC ns when it was spawned."""
    ended_ns: int
    """CLOCK_MONOTONIC ns when the supervisor saw it end."""
    wall_ns: int
    """CLOCK_REALTIME ns when the supervisor saw it end (for reports)."""

    @property
    def failed(self) -> bool:
        """Anything but a clean exit 0 by itself."""
        return self.reason is not ExitReason.EXITED or self.exit_code != 0


GiveUpCallback = Callable[[ProcessSpec, Sequence[ExitRecord]], None]


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """One process in :meth:`Supervisor.status`."""

    name: str
    state: ProcessState
    pid: int | None
    restarts: int
    last_exit: ExitRecord | None
    last_beat_age_s: float | None
    """Seconds since the last heartbeat; None before the first or without heartbeat supervision."""
    cpus: frozenset[int] | None
    restart_in_s: float | None
    """Seconds until the pending restart (state BACKOFF)."""


@dataclass(slots=True)
class _Child:
    spec: ProcessSpec
    index: int
    state: ProcessState = ProcessState.PENDING
    proc: subprocess.Popen[bytes] | None = None
    spawned_ns: int = 0
    restarts: int = 0
    budget: RestartBudget = field(init=False)
    history: list[ExitRecord] = field(default_factory=list)
    due_ns: int = 0
    cpus: frozenset[int] | None = None

    def __post_init__(self) -> None:
        self.budget = RestartBudget(self.spec)


def child_environment(
    spec: ProcessSpec, session: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a child starts with.

    From ``base`` (default: this process's environment) only an allow-list survives (PATH, HOME,
    locale, Python and ``QK_*`` settings), minus anything whose name looks like a credential; systemd's
    ``NOTIFY_SOCKET`` and ``WATCHDOG_*`` never reach a child. ``spec.env`` is added as given, then the
    variables that let the child find its heartbeat slot.
    """
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if (name in _INHERITED or name.startswith(("QK_", "LC_"))) and not is_credential_name(name)
    }
    env.update(spec.env)
    env[layout.SESSION_ENV] = session
    env[layout.PROCESS_ENV] = spec.name
    env[SUPERVISOR_PID_ENV] = str(os.getpid())
    return env


class Supervisor:
    """Runs a set of :class:`ProcessSpec` under one session name.

    Args:
        specs: the processes; started in dependency order (:func:`start_order`).
        session: names the heartbeat table ``/qk.<session>.supervisor``.
        on_give_up: called with the spec and its exit history when a process exceeds its restart
            budget.
        on_stop_intake: called first on shutdown, before any child is signalled (stop taking new
            work: market data, intents).
        on_cleanup: called last on shutdown, after every child has exited (unlink rings); the
            supervisor then unlinks its heartbeat table.
        poll_interval: seconds between passes of :meth:`run`'s loop.
        seed: seeds the back-off jitter.
        notifier: the systemd notifier (default: from the environment; a no-op outside systemd).
        metrics_port: serve the session's metrics (every process's shared-memory segment, and the
            supervisor's own: ``process_state`` and ``process_restarts`` per process) on
            ``http://127.0.0.1:<port>/metrics`` while running; 0 picks a free port
            (:attr:`metrics_url`); None (default) serves nothing.
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        session: str = layout.DEFAULT_SESSION,
        on_give_up: GiveUpCallback | None = None,
        on_stop_intake: Callable[[], None] | None = None,
        on_cleanup: Callable[[], None] | None = None,
        poll_interval: float = 0.05,
        seed: int = 0,
        notifier: SystemdNotifier | None = None,
        metrics_port: int | None = None,
    ) -> None:
        layout.validate_session(session)
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {poll_interval}")
        ordered = start_order(specs)
        self.session = session
        self._children = [_Child(spec, index) for index, spec in enumerate(ordered)]
        self._by_name = {child.spec.name: child for child in self._children}
        self._on_give_up = on_give_up
        self._on_stop_intake = on_stop_intake
        self._on_cleanup = on_cleanup
        self._poll_interval = poll_interval
        self._rng = random.Random(seed)
        self._notifier = notifier if notifier is not None else SystemdNotifier()
        self._table: HeartbeatTable | None = None
        self._stop_requested = threading.Event()
        self._started = False
        self._stopped = False
        self._ready_sent = False
        self._last_watchdog_ns = 0
        self._last_status = ""
        self._signal_received = 0
        self._log = log.bind(session=session)
        self._metrics_port = metrics_port
        self._exporter: MetricsExporter | None = None
        self._metrics: MetricsSegment | None = None
        self._gauges: dict[str, tuple[IntGauge, IntGauge]] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def order(self) -> list[str]:
        """Process names in start order (stop order is the reverse)."""
        return [child.spec.name for child in self._children]

    def start(self) -> None:
        """Create the heartbeat table and start every process whose dependencies allow it.

        Raises:
            SessionBusyError: another live supervisor runs this session.
        """
        if self._started:
            raise RuntimeError(f"supervisor of session {self.session!r} was already started")
        self._table = HeartbeatTable.create(self.session, self.order)
        self._started = True
        if self._metrics_port is not None:
            self._start_metrics(self._metrics_port)
        self._log.info("supervisor.started", pid=os.getpid(), processes=self.order)
        self.step()

    @property
    def metrics_url(self) -> str | None:
        """``http://127.0.0.1:<port>/metrics`` while the exporter serves, else None."""
        return self._exporter.url if self._exporter is not None else None

    def _start_metrics(self, port: int) -> None:
        self._metrics = MetricsSegment.create(self.session, "supervisor")
        for child in self._children:
            labels = {"name": child.spec.name}
            self._gauges[child.spec.name] = (
                self._metrics.gauge(
                    "process_state", "supervised process state (ProcessState code)", labels
                ),
                self._metrics.gauge("process_restarts", "restarts of a supervised process", labels),
            )
        self._exporter = MetricsExporter(self.session, port=port)
        self._exporter.start()
        self._log.info("supervisor.metrics", url=self._exporter.url)

    def _update_metrics(self) -> None:
        for child in self._children:
            state, restarts = self._gauges[child.spec.name]
            state.set(int(child.state))
            restarts.set(child.restarts)

    def _stop_metrics(self) -> None:
        if self._exporter is not None:
            self._exporter.stop()
            self._exporter = None
        if self._metrics is not None:
            self._metrics.close()
            self._metrics.unlink()
            self._metrics = None

    def request_stop(self) -> None:
        """Ask :meth:`run` to shut down (safe from a signal handler or another thread)."""
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        """True once a stop was requested (by :meth:`request_stop` or a signal)."""
        return self._signal_received != 0 or self._stop_requested.is_set()

    def run(self, duration: float | None = None, *, install_signals: bool = True) -> int:
        """Start, supervise until stopped, shut down; returns the process exit code.

        Stops on SIGTERM/SIGINT (when ``install_signals`` and on the main thread), on
        :meth:`request_stop`, after ``duration`` seconds, or when every process has ended for good.

        Returns:
            0 after a requested or timed stop, or when every process ended cleanly; 1 when every
            process ended and at least one FAILED or GAVE_UP.
        """
        previous: list[tuple[signal.Signals, Any]] = []
        if install_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous.append((signum, signal.signal(signum, self._on_signal)))
        deadline = None if duration is None else time.monotonic() + duration
        code = 0
        try:
            self.start()
            while not self.stop_requested:
                if deadline is not None and time.monotonic() >= deadline:
                    self._log.info("supervisor.duration_elapsed", duration=duration)
                    break
                if self._all_ended():
                    failed = [
                        c.spec.name
                        for c in self._children
                        if c.state in (ProcessState.FAILED, ProcessState.GAVE_UP)
                    ]
                    code = 1 if failed else 0
                    self._log.info("supervisor.nothing_left", failed=failed)
                    break
                self._stop_requested.wait(self._poll_interval)
                self.step()
        finally:
            self.stop()
            for signum, handler in previous:
                signal.signal(signum, handler)
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a plain store: logging could re-enter a half-written stream, and Event.set() could
        # deadlock on the lock the interrupted main thread holds. The loop polls this flag.
        self._signal_received = signum

    def stop(self) -> None:
        """Shut down: stop intake, stop children in reverse start order, clean up. Idempotent.

        Call it from the thread that drives :meth:`step`; other threads use :meth:`request_stop`.

        Each running child gets SIGTERM and its ``stop_grace`` seconds to exit, then SIGKILL; the
        next child is signalled only after the previous one has exited, so a process always outlives
        the processes that depend on it.
        """
        if self._stopped or not self._started:
            self._stopped = True
            return
        self._stopped = True
        self._stop_requested.set()
        self._notifier.stopping("stopping processes")
        received = self._signal_received
        self._log.info(
            "supervisor.stopping", signal=signal.Signals(received).name if received else None
        )
        self._call("on_stop_intake", self._on_stop_intake)
        for child in reversed(self._children):
            self._stop_child(child)
        self._call("on_cleanup", self._on_cleanup)
        self._stop_metrics()
        # Unlink before closing: closing releases the session lock, and a supervisor that took the
        # lock in between would otherwise lose its fresh table to this unlink.
        HeartbeatTable.unlink(self.session)
        if self._table is not None:
            self._table.close()
            self._table = None
        self._notifier.close()
        self._log.info("supervisor.stopped")

    def _stop_child(self, child: _Child) -> None:
        proc = child.proc
        if proc is not None and proc.poll() is not None:
            # Exited since the last pass: record it, but nothing restarts during shutdown.
            reason = ExitReason.SIGNALED if proc.returncode < 0 else ExitReason.EXITED
            record = self._record_exit(child, proc.returncode, reason, time.monotonic_ns())
            if record.failed:
                self._set_state(child, ProcessState.FAILED)
            proc = None
        if proc is None:
            if child.state not in (ProcessState.FAILED, ProcessState.GAVE_UP):
                self._set_state(child, ProcessState.STOPPED)
            return
        self._set_state(child, ProcessState.STOPPING)
        self._log.info("process.stopping", process=child.spec.name, pid=proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=child.spec.stop_grace)
        except subprocess.TimeoutExpired:
            self._log.warning(
                "process.kill_after_grace",
                process=child.spec.name,
                pid=proc.pid,
                grace_s=child.spec.stop_grace,
            )
            proc.kill()
            code = proc.wait()
        self._record_exit(child, code, ExitReason.STOPPED, time.monotonic_ns())
        child.proc = None
        self._set_state(child, ProcessState.STOPPED)

    # -- one pass ----------------------------------------------------------------------------------

    def step(self) -> None:
        """One supervision pass: reap, check heartbeats, (re)start what is due, notify systemd."""
        if not self._started or self._stopped:
            return
        now = time.monotonic_ns()
        for child in self._children:
            self._reap(child, now)
        for child in self._children:
            self._check_heartbeat(child, now)
        for child in self._children:
            pending = child.state is ProcessState.PENDING and self._dependencies_ready(child)
            due = child.state is ProcessState.BACKOFF and now >= child.due_ns
            if pending or due:
                self._spawn(child, now)
        if self._gauges:
            self._update_metrics()
        self._notify(now)

    def _reap(self, child: _Child, now: int) -> None:
        proc = child.proc
        if proc is None:
            return
        code = proc.poll()
        if code is None:
            if child.state is ProcessState.STARTING and self._has_beaten(child):
                self._set_state(child, ProcessState.RUNNING)
            return
        reason = ExitReason.SIGNALED if code < 0 else ExitReason.EXITED
        self._after_exit(child, self._record_exit(child, code, reason, now), now)

    def _has_beaten(self, child: _Child) -> bool:
        assert self._table is not None
        return self._table.last_beat_ns(child.index) != 0

    def _check_heartbeat(self, child: _Child, now: int) -> None:
        spec = child.spec
        proc = child.proc
        if spec.heartbeat_timeout is None or proc is None or proc.returncode is not None:
            return
        assert self._table is not None
        last = self._table.last_beat_ns(child.index)
        if last == 0:
            overdue = now - child.spawned_ns > spec.startup_timeout * 1e9
            since = "spawn"
        else:
            overdue = now - last > spec.heartbeat_timeout * 1e9
            since = "last beat"
        if not overdue:
            return
        age = (now - (last or child.spawned_ns)) / 1e9
        self._log.error(
            "process.hung",
            process=spec.name,
            pid=proc.pid,
            seconds_since=round(age, 3),
            since=since,
        )
        proc.kill()
        try:
            code = proc.wait(timeout=_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            # Stuck in the kernel (uninterruptible sleep): account for it as killed and move on
            # rather than stall every other process's supervision.
            self._log.error("process.unkillable", process=spec.name, pid=proc.pid)
            code = -signal.SIGKILL
        self._after_exit(child, self._record_exit(child, code, ExitReason.HUNG, now), now)

    def _dependencies_ready(self, child: _Child) -> bool:
        for name in child.spec.depends_on:
            dep = self._by_name[name]
            finished_cleanly = (
                dep.state is ProcessState.STOPPED
                and bool(dep.history)
                and not dep.history[-1].failed
            )
            if dep.state is not ProcessState.RUNNING and not finished_cleanly:
                return False
        return True

    def _spawn(self, child: _Child, now: int) -> None:
        assert self._table is not None
        spec = child.spec
        is_restart = child.state is ProcessState.BACKOFF
        if is_restart:
            # Counted before the attempt, so a spawn that fails outright uses up the budget too.
            child.restarts += 1
            child.budget.record_restart(now)
            self._table.set_restarts(child.index, child.restarts)
        try:
            proc = subprocess.Popen(
                spec.command(),
                cwd=spec.cwd,
                env=child_environment(spec, self.session),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                # Own session: a terminal's Ctrl-C reaches the supervisor only, which then stops the
                # children in order instead of all at once.
                start_new_session=True,
            )
        except OSError as exc:
            self._log.error("process.spawn_failed", process=spec.name, error=str(exc))
            self._after_exit(
                child,
                self._record_exit(child, 127, ExitReason.EXITED, now, pid=0),
                now,
            )
            return
        child.proc = proc
        child.spawned_ns = now
        if spec.cpus is not None:
            child.cpus = pin(spec.name, proc.pid, spec.cpus)
        self._table.mark_spawned(child.index, proc.pid, start_time_ns(proc.pid), now)
        child.state = ProcessState.STARTING
        if spec.heartbeat_timeout is None:
            self._set_state(child, ProcessState.RUNNING)
        self._log.info(
            "process.restarted" if is_restart else "process.started",
            process=spec.name,
            pid=proc.pid,
            restarts=child.restarts,
            cpus=sorted(child.cpus) if child.cpus is not None else None,
        )

    def _record_exit(
        self, child: _Child, code: int, reason: ExitReason, now: int, pid: int | None = None
    ) -> ExitRecord:
        assert self._table is not None
        record = ExitRecord(
            pid=child.proc.pid if pid is None and child.proc is not None else (pid or 0),
            exit_code=code,
            reason=reason,
            spawned_ns=child.spawned_ns,
            ended_ns=now,
            wall_ns=time.time_ns(),
        )
        child.history.append(record)
        child.proc = None
        self._table.set_exit(child.index, code)
        return record

    def _after_exit(self, child: _Child, record: ExitRecord, now: int) -> None:
        spec = child.spec
        emit = self._log.warning if record.failed else self._log.info
        emit(
            "process.exited",
            process=spec.name,
            pid=record.pid,
            exit_code=record.exit_code,
            reason=record.reason.value,
        )
        decision = child.budget.decide(record.failed, now, self._rng.random())
        if decision.action is RestartAction.STOP:
            self._set_state(child, ProcessState.STOPPED)
        elif decision.action is RestartAction.FAIL:
            self._set_state(child, ProcessState.FAILED)
        elif decision.action is RestartAction.GIVE_UP:
            self._give_up(child, decision)
        else:
            child.due_ns = now + int(decision.delay_s * 1e9)
            self._set_state(child, ProcessState.BACKOFF)
            self._log.info(
                "process.backoff",
                process=spec.name,
                delay_s=round(decision.delay_s, 3),
                restarts_in_window=decision.restarts_in_window,
                max_restarts=spec.max_restarts,
            )

    def _give_up(self, child: _Child, decision: RestartDecision) -> None:
        spec = child.spec
        self._set_state(child, ProcessState.GAVE_UP)
        self._log.error(
            "process.gave_up",
            process=spec.name,
            restarts_in_window=decision.restarts_in_window,
            window_s=spec.restart_window,
            exit_codes=[r.exit_code for r in child.history[-(spec.max_restarts + 1) :]],
        )
        if self._on_give_up is not None:
            history = tuple(child.history)
            callback = self._on_give_up
            self._call("on_give_up", lambda: callback(spec, history))

    def _call(self, what: str, callback: Callable[[], None] | None) -> None:
        if callback is None:
            return
        try:
            callback()
        except Exception as exc:
            # A broken callback must not take the supervisor (and every other process) down.
            self._log.exception("supervisor.callback_failed", callback=what, error=str(exc))

    def _set_state(self, child: _Child, state: ProcessState) -> None:
        child.state = state
        if self._table is not None:
            self._table.set_state(child.index, state)

    def _all_ended(self) -> bool:
        return all(
            c.state in (ProcessState.STOPPED, ProcessState.FAILED, ProcessState.GAVE_UP)
            for c in self._children
        )

    # -- systemd -----------------------------------------------------------------------------------

    def _notify(self, now: int) -> None:
        notifier = self._notifier
        if not notifier.enabled:
            return
        summary = self._summary()
        if not self._ready_sent and all(
            c.state not in (ProcessState.PENDING, ProcessState.STARTING) for c in self._children
        ):
            self._ready_sent = True
            self._last_status = summary
            notifier.ready(summary)
        elif summary != self._last_status:
            self._last_status = summary
            notifier.status(summary)
        interval = notifier.watchdog_interval
        if interval is not None and now - self._last_watchdog_ns >= interval * 1e9:
            self._last_watchdog_ns = now
            notifier.watchdog()

    def _summary(self) -> str:
        counts: dict[str, int] = {}
        for child in self._children:
            counts[child.state.name.lower()] = counts.get(child.state.name.lower(), 0) + 1
        running = counts.pop("running", 0)
        rest = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        return f"{running}/{len(self._children)} running" + (f", {rest}" if rest else "")

    # -- inspection --------------------------------------------------------------------------------

    def status(self) -> list[ProcessStatus]:
        """A snapshot of every process, in start order."""
        now = time.monotonic_ns()
        out = []
        for child in self._children:
            beat = self._table.last_beat_ns(child.index) if self._table is not None else 0
            alive = child.proc is not None and child.proc.returncode is None
            out.append(
                ProcessStatus(
                    name=child.spec.name,
                    state=child.state,
                    pid=child.proc.pid if alive and child.proc is not None else None,
                    restarts=child.restarts,
                    last_exit=child.history[-1] if child.history else None,
                    last_beat_age_s=(now - beat) / 1e9 if alive and beat else None,
                    cpus=child.cpus,
                    restart_in_s=max(0.0, (child.due_ns - now) / 1e9)
                    if child.state is ProcessState.BACKOFF
                    else None,
                )
            )
        return out

    def history(self, name: str) -> tuple[ExitRecord, ...]:
        """Every ended incarnation of process ``name``, oldest first."""
        return tuple(self._by_name[name].history)

    def pid(self, name: str) -> int | None:
        """The pid of the running incarnation of ``name`` (None when it is not running)."""
        proc = self._by_name[name].proc
        return proc.pid if proc is not None and proc.returncode is None else None
