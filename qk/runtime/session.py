"""``qk start --mode paper``: create a session's rings, supervise its processes, summarise it.

The process that runs ``qk start`` is the supervisor. Before it starts any child it creates every
ring of the session and registers each ring's blocking consumers (then detaches them), so a
consumer that starts after its producer still reads from the first record, and start order
matters only for shutdown. Processes start in dependency order ``wal`` → ``oms:sim`` →
``strategy:<id>`` → ``aggregator`` → ``feed:sim`` and stop in the reverse order, each draining its
inputs until their producers closed them (``docs/runtime.md``, Shutdown).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import posix_ipc

from qk.rings import BackPressure, Ring, RingExistsError, cleanup_stale
from qk.runtime.control import close_control
from qk.runtime.node import write_report
from qk.runtime.plan import PLAN_ENV, STRATEGY_ENV, SessionPlan
from qk.runtime.strategy_host import process_name
from qk.runtime.wal_process import wal_name
from qk.sandbox import SandboxLimits
from qk.schemas import SCHEMA_HASH, as_record
from qk.schemas.enums import RecordType
from qk.strategy import Mode, load_descriptor
from qk.supervisor import ProcessSpec, RestartPolicy, Supervisor
from qk.wal import DurableMark, WalReader

__all__ = ["SessionError", "SessionOptions", "consumers_of", "start_session", "summarise"]

DEFAULT_ROOT: Final = Path("out/sessions")
_STRATEGY_LIMITS: Final = SandboxLimits(address_space_bytes=8 << 30, open_files=256)


class SessionError(RuntimeError):
    """A session that cannot start (wrong mode, a WAL in the way, rings of a live session)."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """What ``qk start`` was asked for (see ``qk start --help``)."""

    descriptor: Path
    session: str = "qk"
    duration: float | None = None
    wal_dir: Path | None = None
    root: Path = DEFAULT_ROOT
    speed: float = 100.0
    seed: int = 7
    records: int = 0
    interval_ms: float = 50.0
    data: Path | None = None
    data_round: bool = False
    heartbeat_timeout: float = 10.0
    startup_timeout: float = 60.0


def consumers_of(plan: SessionPlan) -> dict[str, list[str]]:
    """Ring name -> the blocking consumers registered on it before any process starts."""
    strategies = [process_name(sid).replace(":", ".") for sid in plan.strategy_ids]
    table = {
        plan.md.name: ["aggregator", "oms"],
        plan.bars.name: strategies,
        plan.exec.name: strategies,
        plan.control.name: ["oms"],
    }
    for sid in plan.strategy_ids:
        table[plan.intents(sid).name] = ["oms"]
    # The WAL writer registers its own consumer ("wal", manual commit) the same way.
    return {name: [*names, "wal"] for name, names in table.items()}


def create_rings(plan: SessionPlan) -> list[str]:
    """Create every ring of the session and register its consumers; returns the ring names.

    Raises:
        SessionError: A ring of that name is in use by live processes (the session runs).
    """
    created: list[str] = []
    consumers = consumers_of(plan)
    try:
        for ring_plan in plan.rings():
            try:
                ring = _create(ring_plan.name, ring_plan)
            except RingExistsError:
                cleanup_stale()
                try:
                    ring = _create(ring_plan.name, ring_plan)
                except RingExistsError:
                    raise SessionError(
                        f"ring {ring_plan.name} belongs to a running session {plan.session!r}: "
                        "stop it (qk stop) or choose another --session"
                    ) from None
            created.append(ring_plan.name)
            ring.close()
            # A second handle registers the consumers and detaches them: they gate the producer
            # from record 0 and the process that asks for each name takes it over.
            handle = Ring.attach(ring_plan.name)
            for name in consumers[ring_plan.name]:
                handle.consumer(name, BackPressure.BLOCK, start="earliest", auto_commit=False)
            handle.close()
    except BaseException:
        unlink_rings(created)
        raise
    return created


def _create(name: str, ring_plan: Any) -> Ring:
    return Ring.create(
        name,
        slot_size=ring_plan.slot_size,
        capacity=ring_plan.capacity,
        schema_hash=SCHEMA_HASH,
        stream_id=ring_plan.stream,
    )


def create_bell(plan: SessionPlan) -> None:
    """Create the OMS's doorbell (a leftover of a crashed session is replaced)."""
    with contextlib.suppress(posix_ipc.ExistentialError):
        posix_ipc.unlink_semaphore(plan.oms_bell)
    posix_ipc.Semaphore(plan.oms_bell, posix_ipc.O_CREX, mode=0o600, initial_value=0).close()


def unlink_rings(names: list[str]) -> None:
    """Remove the session's ring segments (mappings of live processes stay valid)."""
    for name in names:
        with contextlib.suppress(Exception):
            Ring.attach(name).unlink()


def _cleanup(plan: SessionPlan, names: list[str]) -> None:
    """Rings and the WAL's durable mark: nothing of the session stays in /dev/shm."""
    unlink_rings(names)
    DurableMark.unlink(wal_name(plan))
    with contextlib.suppress(posix_ipc.ExistentialError):
        posix_ipc.unlink_semaphore(plan.oms_bell)


def process_specs(
    plan: SessionPlan, plan_path: Path, options: SessionOptions, cpus: tuple[int, ...]
) -> list[ProcessSpec]:
    """The session's processes in start order, pinned round-robin over ``cpus`` (if any)."""
    env = {PLAN_ENV: str(plan_path)}
    names = [
        "wal",
        "oms:sim",
        *(process_name(s) for s in plan.strategy_ids),
        "aggregator",
        "feed:sim",
    ]

    def pin(name: str) -> frozenset[int] | None:
        return frozenset({cpus[names.index(name) % len(cpus)]}) if cpus else None

    common: dict[str, Any] = {
        "restart": RestartPolicy.ON_FAILURE,
        "heartbeat_timeout": options.heartbeat_timeout,
        "startup_timeout": options.startup_timeout,
        "stop_grace": 15.0,
        "max_restarts": 3,
    }
    specs = [
        ProcessSpec(name="wal", entry="qk.runtime.wal_process:main", env=env, cpus=pin("wal"), **common),
        ProcessSpec(name="oms:sim", entry="qk.runtime.oms_process:main", env=env,
                    depends_on=("wal",), cpus=pin("oms:sim"), **common),
    ]  # fmt: skip
    for sid in plan.strategy_ids:
        specs.append(
            ProcessSpec(
                name=process_name(sid),
                entry="qk.runtime.strategy_host:main",
                env={**env, STRATEGY_ENV: str(sid)},
                depends_on=("oms:sim",),
                sandbox=_STRATEGY_LIMITS,
                cpus=pin(process_name(sid)),
                **common,
            )
        )
    specs.append(
        ProcessSpec(name="aggregator", entry="qk.runtime.aggregator:main", env=env,
                    depends_on=tuple(process_name(s) for s in plan.strategy_ids),
                    cpus=pin("aggregator"), **common)
    )  # fmt: skip
    specs.append(
        ProcessSpec(name="feed:sim", entry="qk.runtime.feed:main", env=env,
                    depends_on=("aggregator",), cpus=pin("feed:sim"), **common)
    )  # fmt: skip
    return specs


def prepare(options: SessionOptions) -> tuple[SessionPlan, Path, tuple[int, ...]]:
    """Check the options, create the session folder and write the plan.

    Raises:
        SessionError: Not a paper deployment, or the WAL directory already holds a log.
    """
    deployment = load_descriptor(options.descriptor)
    if deployment.mode is not Mode.PAPER:
        raise SessionError(
            f"{options.descriptor} is a {deployment.mode.value} deployment (mode = "
            f'{deployment.mode.value!r}); qk start --mode paper needs mode = "paper"'
        )
    session_dir = (options.root / options.session).resolve()
    wal_dir = (options.wal_dir or session_dir / "wal").resolve()
    if wal_dir.exists() and any(wal_dir.iterdir()):
        raise SessionError(
            f"WAL directory {wal_dir} already holds a log; pass a new --wal or --session "
            "(a session's rings start at 0 and must not be appended to another session's log)"
        )
    session_dir.mkdir(parents=True, exist_ok=True)
    plan = SessionPlan(
        session=options.session,
        session_dir=str(session_dir),
        wal_dir=str(wal_dir),
        descriptor=str(Path(options.descriptor).resolve()),
        strategy_ids=(deployment.strategy_id,),
        speed=options.speed,
        seed=options.seed,
        records=options.records,
        interval_ms=options.interval_ms,
        data=None if options.data is None else str(options.data.resolve()),
        data_round=options.data_round,
    )
    plan_path = session_dir / "plan.json"
    plan.save(plan_path)
    return plan, plan_path, deployment.cpus


def start_session(options: SessionOptions) -> dict[str, Any]:
    """Run a paper session to its end (duration, signal, or the feed ran out); returns the
    summary, also written to ``<session dir>/summary.json``.

    Raises:
        SessionError, PlanError: The session cannot start.
    """
    plan, plan_path, cpus = prepare(options)
    names = create_rings(plan)
    create_bell(plan)
    specs = process_specs(plan, plan_path, options, cpus)
    supervisor = Supervisor(
        specs,
        session=plan.session,
        on_stop_intake=lambda: close_control(plan.session),
        on_cleanup=lambda: _cleanup(plan, names),
    )
    try:
        code = supervisor.run(options.duration)
    finally:
        _cleanup(plan, names)
    summary = summarise(plan)
    summary["exit_code"] = code
    summary["pids"] = {
        name: sorted({r.pid for r in supervisor.history(name)}) for name in supervisor.order
    }
    summary["restarts"] = {s.name: s.restarts for s in supervisor.status()}
    write_report(Path(plan.session_dir) / "summary.json", summary)
    return summary


def summarise(plan: SessionPlan) -> dict[str, Any]:
    """Counts from the session's WAL plus each process's end-of-run report."""
    roles = plan.ring_roles()
    per_ring: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    wal = Path(plan.wal_dir)
    if wal.exists():
        with WalReader(wal) as reader:
            for record in reader:
                role = roles.get(record.stream, str(record.stream))
                per_ring[role] += 1
                if role == "exec":
                    kinds[_kind(record.payload)] += 1
    reports: dict[str, Any] = {}
    for process in ("feed:sim", "aggregator", "oms:sim", "wal",
                    *(process_name(s) for s in plan.strategy_ids)):  # fmt: skip
        path = plan.report_path(process)
        if path.exists():
            reports[process] = json.loads(path.read_text())
    oms = reports.get("oms:sim", {})
    return {
        "session": plan.session,
        "wal": plan.wal_dir,
        "records_per_ring": dict(sorted(per_ring.items())),
        "exec_records": dict(sorted(kinds.items())),
        "orders": oms.get("orders"),
        "fills": oms.get("fills"),
        "positions": oms.get("positions"),
        "equity": oms.get("equity"),
        "processes": reports,
    }


def _kind(payload: bytes) -> str:
    try:
        rec = as_record(np.frombuffer(payload, np.uint8))
    except Exception:
        return "unreadable"
    return RecordType(int(rec["type"][0])).name


def print_summary(summary: dict[str, Any], out: Any = None) -> None:
    """The summary as a few lines for a terminal."""
    stream = sys.stdout if out is None else out
    print(f"session {summary['session']}: exit {summary.get('exit_code')}", file=stream)
    print(f"  orders {summary['orders']}  fills {summary['fills']}  "
          f"positions {summary['positions']}  equity {summary['equity']}", file=stream)  # fmt: skip
    rings = "  ".join(f"{k} {v:,}" for k, v in summary["records_per_ring"].items())
    print(f"  wal records per ring: {rings}", file=stream)
    print(f"  wal: {summary['wal']}", file=stream)
