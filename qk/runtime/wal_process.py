"""``wal``: the session's WAL writer, :class:`qk.wal.service.WalService` over every ring.

Unlike ``python -m qk.wal.service``, which stops at SIGTERM at once, this process keeps logging
after SIGTERM until every ring has been closed by its producer and drained (or nothing arrived for
:data:`qk.runtime.node.DRAIN_IDLE_S`): it is the last process the supervisor stops, and what its
producers published just before they closed must still reach the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from qk.rings import Ring
from qk.runtime.node import DrainClock, Node, write_report
from qk.runtime.plan import SessionPlan, plan_from_environment
from qk.wal.service import CONSUMER_NAME, RingSource, WalService
from qk.wal.writer import WalWriter

__all__ = ["PROCESS", "main", "wal_name"]

PROCESS: Final = "wal"


def wal_name(plan: SessionPlan) -> str:
    """The WAL's shared-memory mark name for this session."""
    return f"{plan.session}.session"


def _finished(rings: list[Ring], control: Ring) -> bool:
    """Every data ring closed by its producer and logged to its end, and control logged too.

    ``control`` is written by operators one command at a time and closed only when the session
    stops, so a session whose feed simply ran out does not wait for it."""

    def logged(ring: Ring) -> bool:
        return any(c.name == CONSUMER_NAME and c.cursor == ring.published for c in ring.consumers())

    return all(ring.closed and logged(ring) for ring in rings) and logged(control)


def run_wal(node: Node, plan: SessionPlan) -> dict[str, int]:
    """Log every ring of the session until they are all closed and drained."""
    sources = [RingSource(ring.name, ring.stream) for ring in plan.rings()]
    data = [Ring.attach(r.name) for r in plan.rings() if r.name != plan.control.name]
    control = Ring.attach(plan.control.name)
    with WalWriter(Path(plan.wal_dir), name=wal_name(plan)) as writer:
        service = WalService(writer, sources)
        try:
            drain = DrainClock()
            while not service.all_closed:
                node.beat()
                if service.run_once(0.05):
                    drain.progressed()
                elif _finished(data, control) or (node.stopping and drain.expired):
                    break
            writer.sync()
        finally:
            service.close()
            for ring in (*data, control):
                ring.close()
    report = {"records": service.stats.records, "loops": service.stats.loops}
    write_report(plan.report_path(PROCESS), report)
    node.log.info("wal.closed", **report)
    return report


def main() -> int:
    """Entry of the WAL writer process (``qk.runtime.wal_process:main``)."""
    node = Node(PROCESS)
    run_wal(node, plan_from_environment())
    return 0
