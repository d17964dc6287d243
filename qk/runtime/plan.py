"""A paper session's plan: names, rings and settings every process of the session reads.

``qk start`` writes the plan to ``<session dir>/plan.json`` and hands its path to each child in
``QK_RUNTIME_PLAN``; a child never parses the command line of ``qk start`` itself. Ring names
carry the session name, so two sessions never share a segment.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from qk.schemas import layout_of

__all__ = [
    "PLAN_ENV",
    "STRATEGY_ENV",
    "PlanError",
    "RingPlan",
    "SessionPlan",
    "control_ring",
    "load_plan",
    "oms_bell",
    "plan_from_environment",
    "validate_session_name",
]

PLAN_ENV: Final = "QK_RUNTIME_PLAN"
"""Environment variable naming the plan file of the session a child belongs to."""
STRATEGY_ENV: Final = "QK_RUNTIME_STRATEGY"
"""Environment variable naming the strategy id a strategy host runs."""

_SESSION_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")

RING_CAPACITY: Final = 1 << 14
"""Slots per ring: at 100x speed a stalled consumer has seconds of slack before it gates."""

STREAM_MD: Final = 1
STREAM_BARS: Final = 2
STREAM_EXEC: Final = 3
STREAM_CONTROL: Final = 4
STREAM_INTENTS_BASE: Final = 16


def _slot(*records: str) -> int:
    size = max(layout_of(name).size for name in records)
    return (size + 7) // 8 * 8


SLOT_MD: Final = _slot("TradeEvent")
SLOT_BARS: Final = _slot("TradeEvent", "BarEvent")
# exec also carries the OMS's input journal: echoed OrderIntents and ControlCommands.
SLOT_EXEC: Final = _slot("OrderUpdate", "FillEvent", "RiskEvent", "OrderIntent", "ControlCommand")
SLOT_INTENTS: Final = _slot("OrderIntent")
SLOT_CONTROL: Final = _slot("ControlCommand")


def control_ring(session: str) -> RingPlan:
    """The control ring of a session (the CLI knows only the session name)."""
    return RingPlan(f"{validate_session_name(session)}.control", STREAM_CONTROL, SLOT_CONTROL)


def oms_bell(session: str) -> str:
    """The name of a session's OMS doorbell semaphore."""
    return f"/qk.{validate_session_name(session)}.oms.bell"


class PlanError(ValueError):
    """A plan file that is missing, unreadable or inconsistent (the message names it)."""


def validate_session_name(session: str) -> str:
    """Return ``session`` if it can prefix ring names, else raise PlanError saying why."""
    if not _SESSION_RE.match(session):
        raise PlanError(
            f"invalid session name {session!r}: use 1-32 characters from A-Z a-z 0-9 . _ - "
            "starting with a letter or digit"
        )
    return session


@dataclass(frozen=True, slots=True)
class RingPlan:
    """One ring of the session.

    Attributes:
        name: Ring name (``<session>.<role>``).
        stream: The WAL stream id its records are logged under.
        slot_size: Bytes per slot: the largest record it carries.
        capacity: Slots.
    """

    name: str
    stream: int
    slot_size: int
    capacity: int = RING_CAPACITY


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Everything the processes of one paper session share.

    Attributes:
        session: Session name (heartbeat table, ring prefix).
        session_dir: Where the summary and per-process reports go.
        wal_dir: The session's WAL directory.
        descriptor: The deployment descriptor (absolute path).
        strategy_ids: Strategies of the deployment (one host process each).
        speed: Market-time speed-up of the simulated feed; 0 publishes as fast as possible.
        seed: Seed of the random walk.
        records: Most trades the feed publishes (0: until stopped).
        interval_ms: Mean market time between simulated trades.
        data: A recording the feed replays instead of the random walk (absolute path), or None.
        data_round: Round the recording's values to the instrument's precision.
    """

    session: str
    session_dir: str
    wal_dir: str
    descriptor: str
    strategy_ids: tuple[int, ...]
    speed: float = 100.0
    seed: int = 7
    records: int = 0
    interval_ms: float = 50.0
    data: str | None = None
    data_round: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_session_name(self.session)
        if self.speed < 0:
            raise PlanError(f"speed must be >= 0 (0: as fast as possible), got {self.speed}")
        if self.records < 0:
            raise PlanError(f"records must be >= 0 (0: unlimited), got {self.records}")
        if self.interval_ms <= 0:
            raise PlanError(f"interval_ms must be > 0, got {self.interval_ms}")
        if not self.strategy_ids:
            raise PlanError("a session needs at least one strategy")

    # -- rings --------------------------------------------------------------------------------

    @property
    def md(self) -> RingPlan:
        """Trades from the feed."""
        return RingPlan(f"{self.session}.md", STREAM_MD, SLOT_MD)

    @property
    def bars(self) -> RingPlan:
        """Trades and the bars they published, in publication order (the aggregator's)."""
        return RingPlan(f"{self.session}.bars", STREAM_BARS, SLOT_BARS)

    @property
    def exec(self) -> RingPlan:
        """Order updates, fills, risk events and the OMS's input journal."""
        return RingPlan(f"{self.session}.exec", STREAM_EXEC, SLOT_EXEC)

    @property
    def control(self) -> RingPlan:
        """Operator commands (kill switch), one short-lived producer at a time."""
        return control_ring(self.session)

    def intents(self, strategy_id: int) -> RingPlan:
        """The order intents of one strategy (its host is the only producer)."""
        try:
            index = self.strategy_ids.index(strategy_id)
        except ValueError:
            raise PlanError(
                f"strategy {strategy_id} is not part of session {self.session!r} "
                f"(strategies: {list(self.strategy_ids)})"
            ) from None
        return RingPlan(
            f"{self.session}.intents.{strategy_id}", STREAM_INTENTS_BASE + index, SLOT_INTENTS
        )

    @property
    def oms_bell(self) -> str:
        """The OMS's doorbell: a POSIX semaphore every producer of an OMS input posts after
        publishing, so the OMS blocks on one thing while it waits for several rings."""
        return oms_bell(self.session)

    def rings(self) -> list[RingPlan]:
        """Every ring of the session, in creation order."""
        return [
            self.md,
            self.bars,
            self.exec,
            self.control,
            *(self.intents(sid) for sid in self.strategy_ids),
        ]

    def ring_roles(self) -> dict[int, str]:
        """Stream id -> short role name (``md``, ``bars``, ``intents.1``...)."""
        prefix = len(self.session) + 1
        return {ring.stream: ring.name[prefix:] for ring in self.rings()}

    # -- files --------------------------------------------------------------------------------

    def report_path(self, process: str) -> Path:
        """Where a process writes its end-of-run report (JSON)."""
        return Path(self.session_dir) / f"{process.replace(':', '-')}.json"

    def save(self, path: Path) -> None:
        """Write the plan as JSON."""
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")


def load_plan(path: str | Path) -> SessionPlan:
    """Read a plan written by :meth:`SessionPlan.save`.

    Raises:
        PlanError: The file is missing, not JSON, or has wrong or missing fields.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PlanError(f"cannot read session plan {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise PlanError(f"session plan {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PlanError(f"session plan {path} must hold a JSON object")
    data["strategy_ids"] = tuple(data.get("strategy_ids", ()))
    try:
        return SessionPlan(**data)
    except TypeError as exc:
        raise PlanError(f"session plan {path}: {exc}") from None


def plan_from_environment() -> SessionPlan:
    """The plan named by ``QK_RUNTIME_PLAN`` (how every child of ``qk start`` finds it).

    Raises:
        PlanError: The variable is not set, or the plan cannot be read.
    """
    path = os.environ.get(PLAN_ENV)
    if not path:
        raise PlanError(f"{PLAN_ENV} is not set: this process is started by `qk start`")
    return load_plan(path)
