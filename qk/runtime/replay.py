"""``qk replay``: re-run a paper session's decisions in one process from its WAL and compare.

Inputs are what the session logged: the feed's trades (ring ``md``, in ring order) and the OMS's
input journal in ``exec`` (each intent echoed with ``seq`` = the md records the OMS had processed
when it applied it; each control command echoed likewise after it was carried out). The replay
runs the same component code the processes ran, with no rings:

* the aggregator (:class:`qk.runtime.aggregator.BarStage`) over the trades → compared with ``bars``;
* the OMS (:class:`qk.runtime.oms_process.OmsCore`): trades up to each journal entry, then the
  entry → compared with ``exec`` (every order update, fill, risk event and echo);
* each strategy (:class:`qk.runtime.strategy_host.StrategyHost`) over the logged ``bars`` and
  ``exec`` merged by :class:`qk.runtime.strategy_host.ExecMerge`, the rule the strategy process
  itself follows (an exec record goes before the trade at its ``seq``), so its input order is a
  function of the log → compared with ``intents.<id>``.

Records are compared byte for byte over each record's own size (the header's ``size``), except
``ts_recv`` of trades and bars, which is the wall time the feed published the trade.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.runtime.aggregator import bar_stage
from qk.runtime.journal import logged_streams
from qk.runtime.node import write_report
from qk.runtime.oms_process import OmsCore
from qk.runtime.plan import SessionPlan, load_plan
from qk.runtime.strategy_host import ExecMerge, StrategyHost
from qk.schemas import dtype_of
from qk.schemas.enums import RecordType
from qk.strategy import load_descriptor

__all__ = ["Difference", "ReplayResult", "replay_session"]

_TRADE = dtype_of("TradeEvent")


@dataclass(frozen=True, slots=True)
class Difference:
    """The first record of a stream where the replay and the session disagree."""

    stream: str
    index: int
    detail: str

    def __str__(self) -> str:
        return f"{self.stream} record {self.index}: {self.detail}"


@dataclass(slots=True)
class ReplayResult:
    """What the replay produced and how it compares with the log."""

    counts: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    streams: dict[str, list[npt.NDArray[np.void]]] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """True when every stream was reproduced exactly."""
        return not self.differences


def _fields_differing(a: np.void, b: np.void) -> list[str]:
    if a.dtype != b.dtype:
        return ["type"]
    return [name for name in a.dtype.names or () if not np.array_equal(a[name], b[name])]


def _compare(
    stream: str,
    replayed: list[npt.NDArray[np.void]],
    logged: list[npt.NDArray[np.void]],
    ignore: Iterable[str] = (),
) -> Difference | None:
    skip = set(ignore)
    for index, (mine, theirs) in enumerate(zip(replayed, logged, strict=False)):
        a, b = mine.copy(), theirs.copy()
        if a.dtype == b.dtype:
            for name in skip:
                a[name] = 0
                b[name] = 0
            if a.tobytes() == b.tobytes():
                continue
        names = _fields_differing(a[0], b[0])
        kind = RecordType(int(theirs[0]["type"])).name
        return Difference(stream, index, f"{kind} differs in {', '.join(names)}")
    if len(replayed) != len(logged):
        return Difference(
            stream,
            min(len(replayed), len(logged)),
            f"replay has {len(replayed)} records, the session logged {len(logged)}",
        )
    return None


def replay_session(wal_dir: Path, plan_path: Path | None = None) -> ReplayResult:
    """Replay a session's WAL and compare every reproduced stream with the log.

    Args:
        wal_dir: The session's WAL.
        plan_path: Its plan (default: ``plan.json`` next to the WAL directory).

    Raises:
        PlanError: No plan, or a log that does not belong to it.
    """
    plan = load_plan(plan_path or wal_dir.resolve().parent / "plan.json")
    logged = logged_streams(plan, wal_dir)
    result = ReplayResult()
    md = logged["md"]
    trades = np.concatenate(md) if md else np.zeros(0, _TRADE)

    stage = bar_stage(plan)
    bars = [np.asarray(r).reshape(1).copy() for r in stage.process(trades)]
    result.streams["bars"] = bars

    deployment = load_descriptor(plan.descriptor)
    exec_out: list[npt.NDArray[np.void]] = []
    core = OmsCore(deployment, lambda record: exec_out.append(np.asarray(record).reshape(1).copy()))
    core.start()
    for entry in logged["exec"]:
        kind = int(entry[0]["type"])
        if kind not in (RecordType.ORDER_INTENT, RecordType.CONTROL_COMMAND):
            continue
        upto = int(entry[0]["seq"])
        if upto > core.md_done:
            core.on_trades(trades[core.md_done : upto])
        if kind == RecordType.ORDER_INTENT:
            core.on_intent(entry)
        else:
            core.on_control(entry)
    core.on_trades(trades[core.md_done :])
    core.stop()
    result.streams["exec"] = exec_out

    for sid in plan.strategy_ids:
        role = f"intents.{sid}"
        result.streams[role] = _replay_strategy(plan, logged)

    ignore_recv = ("ts_recv",)
    for role, records in result.streams.items():
        result.counts[role] = len(records)
        difference = _compare(
            role, records, logged.get(role, []), ignore_recv if role == "bars" else ()
        )
        if difference is not None:
            result.differences.append(difference)
    return result


def _replay_strategy(
    plan: SessionPlan, logged: dict[str, list[npt.NDArray[np.void]]]
) -> list[npt.NDArray[np.void]]:
    deployment = load_descriptor(plan.descriptor)
    out: list[npt.NDArray[np.void]] = []
    stopped = False

    def sink(record: npt.NDArray[np.void]) -> None:
        if not stopped:  # the process drops what a strategy sends after on_stop
            out.append(record.copy())

    host = StrategyHost(deployment, sink)
    merge = ExecMerge(host)
    merge.add(logged["exec"])
    host.start()
    for record in logged["bars"]:
        merge.before_market(record)
    host.stop()
    stopped = True
    merge.flush()
    return out


def write_replay(result: ReplayResult, out: Path) -> None:
    """Write the replayed streams (raw records, ``<stream>.records``) and ``replay.json``."""
    out.mkdir(parents=True, exist_ok=True)
    for role, records in result.streams.items():
        with open(out / f"{role}.records", "wb") as handle:
            for record in records:
                handle.write(record.tobytes())
    report: dict[str, Any] = {
        "matches": result.matches,
        "counts": result.counts,
        "differences": [str(d) for d in result.differences],
    }
    write_report(out / "replay.json", report)
