"""``oms:sim``: risk, the simulated exchange, orders and the portfolio of a paper session.

Inputs: ring ``md`` (the feed's trades: matching, marks, post-trade limits), each strategy's
``intents.<id>`` and ``control`` (operator commands). Output: ring ``exec``. The work is the
in-process engine's :class:`qk.oms.OrderManager`; the strategies it manages are
:class:`ExecPublisher` proxies whose hooks publish the OrderUpdate, FillEvent and RiskEvent
records to ``exec`` instead of running strategy code.

Risk runs in this process (DESIGN.md §2 draws it as its own): ``docs/runtime.md`` lists this as a
departure and why.

Causality: an intent carries the ``corr_id`` of the trade it was decided on (md position + 1); the
OMS applies it only once it has processed that trade itself, so an order never reaches the
simulated venue at a market time before the decision. Every ``exec`` record's ``seq`` is the
number of md trades the OMS had processed when it published it (a fill caused by trade ``p`` has
``seq`` = ``p``), and the OMS commits its md cursor only after a batch and everything it caused
are published: strategy hosts merge ``exec`` into their market data by that number
(``docs/runtime.md``). ``exec`` also carries the OMS's input journal: each intent is echoed just
before what it causes, each control command just after it was carried out. ``qk replay`` re-runs
the OMS from ``md`` and these echoes.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import posix_ipc

from qk.execution import (
    ExecutionError,
    FillModel,
    FixedLatency,
    LatencyModel,
    LimitFillRule,
    SimulatedExchange,
    UniformLatency,
)
from qk.fees import default_fee_models
from qk.instruments import InstrumentMaster
from qk.oms import EngineContext, OmsError, OrderManager, net_position_of
from qk.orders import OrderError
from qk.orders.records import order_from_intent
from qk.portfolio import Portfolio
from qk.risk import GLOBAL, RiskConfig, RiskEngine
from qk.runtime.node import DrainClock, Node, write_report
from qk.runtime.plan import SessionPlan, plan_from_environment
from qk.runtime.wire import RingReader, RingWriter, open_bell
from qk.schemas import dtype_of
from qk.schemas.enums import ControlCommandKind, OrderAction
from qk.strategy import Deployment, Models, Strategy, load_descriptor

__all__ = ["CONSUMER", "PROCESS", "ExecPublisher", "IntentRefused", "OmsCore", "main"]

PROCESS: Final = "oms:sim"
CONSUMER: Final = "oms"
_TRADE: Final = dtype_of("TradeEvent")
_MD_BATCH: Final = 16
_IDLE_WAIT_S: Final = 0.05

Sink = Callable[[npt.NDArray[np.void] | np.void], None]


class IntentRefused(ValueError):
    """An intent the OMS cannot apply (unknown order, unsupported action); logged, counted."""


class ExecPublisher(Strategy):
    """Stands in for a strategy inside the OMS: what the manager would hand the strategy is
    published to ``exec`` (stamped with the correlation id of the input being handled)."""

    def __init__(
        self, context: EngineContext, sink: Sink, stamp: Callable[[], tuple[int, int]]
    ) -> None:
        super().__init__(context)
        self._sink = sink
        self._stamp = stamp

    def _publish(self, record: np.void) -> None:
        out = np.asarray(record).reshape(1).copy()
        out["corr_id"], out["seq"] = self._stamp()
        self._sink(out)

    def on_order_update(self, update: np.void) -> None:
        """Publish the update."""
        self._publish(update)

    def on_fill(self, fill: np.void) -> None:
        """Publish the fill."""
        self._publish(fill)

    def on_risk_event(self, event: np.void) -> None:
        """Publish the risk event."""
        self._publish(event)


def _latency(models: Models) -> LatencyModel:
    low, high = models.latency_ns
    return FixedLatency(low) if low == high else UniformLatency(low, high, seed=models.latency_seed)


class OmsCore:
    """The OMS's decisions with no rings: the process loop and ``qk replay`` both drive it.

    Args:
        deployment: The deployment (instruments, models, risk limits, capital).
        sink: Receives every record for ``exec``, in order.
    """

    def __init__(self, deployment: Deployment, sink: Sink) -> None:
        self.deployment = deployment
        self._sink = sink
        master = InstrumentMaster.from_instruments(deployment.instruments, name="oms")
        sid = deployment.strategy_id
        portfolio = Portfolio(master)
        portfolio.deposit(deployment.currency, deployment.capital, strategy_id=sid)
        models = deployment.models
        fees = default_fee_models()
        exchange = SimulatedExchange(
            deployment.instruments,
            latency=_latency(models),
            fill_model=FillModel(
                limit_fill=LimitFillRule[models.fill.upper()],
                slippage_ticks=models.slippage_ticks,
                slippage_bps=models.slippage_bps,
            ),
            fee_models=(fees[models.fee],) if models.fee is not None else (),
            position=net_position_of(portfolio),
        )
        self.risk = RiskEngine(RiskConfig(strategies={sid: deployment.risk_limits}), master)
        self.manager = OrderManager(
            exchange, self.risk, portfolio, master, currency=deployment.currency
        )
        self.manager.add_strategy(
            sid,
            [i.instrument_id for i in deployment.instruments],
            lambda context: ExecPublisher(context, sink, lambda: (self.corr_id, self.md_done)),
        )
        self.corr_id = 0
        self.md_done = 0
        self.intents = 0
        self.duplicates = 0
        self.refused = 0
        self._commands: set[int] = set()
        self.kill_switch_engaged = False

    def start(self) -> None:
        """Start the manager (the proxies' ``on_start``)."""
        self.manager.start()

    def on_trades(self, trades: npt.NDArray[np.void]) -> None:
        """Market data: timers, matching, fills, marks, post-trade limits."""
        for trade in trades:
            # Per trade, so each record the trade causes carries its correlation id and the
            # trade's md position as seq.
            self.corr_id = int(trade["corr_id"])
            self.manager.process_record(trade)
            self.md_done += 1

    def on_intent(self, record: npt.NDArray[np.void], log: Any = None) -> None:
        """Echo the intent to the journal, then apply it (risk, the venue)."""
        echo = record.copy()
        echo["seq"] = self.md_done
        self._sink(echo)
        rec = record[0]
        self.corr_id = int(rec["corr_id"])
        self.intents += 1
        value = int(rec["client_order_id"])
        sid = int(rec["strategy_id"])
        try:
            action = OrderAction(int(rec["action"]))
            if action is OrderAction.NEW:
                if value in self.manager.orders:
                    # A restarted strategy host may send an intent again: effectively once.
                    self.duplicates += 1
                    return
                self.manager.submit(order_from_intent(rec))
            elif self.manager.owned_order(sid, value) is None:
                raise IntentRefused(f"strategy {sid} has no order {value}")
            elif action is OrderAction.CANCEL:
                self.manager.cancel(value)
            elif action is OrderAction.MODIFY:
                order = self.manager.orders[value]
                changes = {
                    key: int(rec[key])
                    for key, now in (
                        ("price", order.price),
                        ("trigger_price", order.trigger_price),
                        ("quantity", order.quantity),
                    )
                    if int(rec[key]) != now
                }
                self.manager.modify(value, **changes)
            else:
                raise IntentRefused(f"action {action.name} is not supported")
        except (OmsError, OrderError, ExecutionError, ValueError) as exc:
            self.refused += 1
            if log is not None:
                log.warning("oms.intent_refused", client_order_id=value, error=str(exc) or None)

    def on_control(self, record: npt.NDArray[np.void], log: Any = None) -> None:
        """Carry out an operator command, then echo it to the journal (its acknowledgement)."""
        rec = record[0]
        command_id = int(rec["command_id"])
        if command_id in self._commands:
            return
        self._commands.add(command_id)
        kind = int(rec["command"])
        scope = int(rec["strategy_id"])
        self.corr_id = int(rec["corr_id"])
        if kind == ControlCommandKind.KILL_SWITCH:
            self.manager.engage_kill_switch(strategy_id=scope)
            # Deliver what is due now: with no venue latency the cancels complete before the
            # acknowledgement; with latency they complete as market time passes it.
            self.manager.advance_to(self.manager.clock.now_ns())
            self.kill_switch_engaged = True
            if log is not None:
                log.warning("oms.kill_switch_engaged", strategy_id=scope, command_id=command_id)
        elif kind == ControlCommandKind.RESUME_TRADING:
            self.risk.release_kill_switch(scope, self.manager.clock.now_ns())
            self.kill_switch_engaged = self.risk.kill_switch_engaged(GLOBAL)
            if log is not None:
                log.warning("oms.kill_switch_released", strategy_id=scope, command_id=command_id)
        elif log is not None:
            log.warning("oms.command_ignored", command=kind, command_id=command_id)
        echo = record.copy()
        echo["seq"] = self.md_done
        self._sink(echo)

    def stop(self) -> None:
        """Stop the manager."""
        self.manager.stop()

    def report(self) -> dict[str, Any]:
        """Orders, fills, positions (raw) and the strategy's account at the end."""
        manager = self.manager
        sid = self.deployment.strategy_id
        state = manager.account_state(sid)
        orders = list(manager.orders.values())
        return {
            "orders": len(orders),
            "fills": sum(len(o.fills) for o in orders),
            "intents": self.intents,
            "duplicate_intents": self.duplicates,
            "refused_intents": self.refused,
            "md_processed": self.md_done,
            "positions": {
                str(p.instrument.instrument_id): p.quantity
                for p in manager.portfolio.positions(sid)
            },
            "cash": None if state is None else str(state.cash),
            "equity": None if state is None else str(state.equity),
            "kill_switch_engaged": self.kill_switch_engaged,
        }


def run_oms(node: Node, plan: SessionPlan) -> dict[str, Any]:
    """Run until ``md`` and every intents ring are closed and drained (or stopping and quiet)."""
    deployment = load_descriptor(plan.descriptor)
    writer = RingWriter(plan.exec, beat=node.beat)
    # What one input causes is published in one batch: one publish, one wake-up.
    out: list[npt.NDArray[np.void] | np.void] = []
    core = OmsCore(deployment, out.append)

    def flush() -> None:
        if out:
            writer.write(out)
            out.clear()

    # Committed only once a batch is processed and what it caused is in exec: the strategy
    # hosts read this cursor as "the OMS is done with every trade before it".
    md = RingReader(plan.md, CONSUMER, batch=_MD_BATCH, auto_commit=False)
    control = RingReader(plan.control, CONSUMER)
    intents = [RingReader(plan.intents(sid), CONSUMER) for sid in plan.strategy_ids]
    pending: deque[npt.NDArray[np.void]] = deque()
    bell = open_bell(plan.oms_bell)
    log = node.log
    try:
        core.start()
        drain = DrainClock()
        while True:
            node.beat()
            progress = 0
            for command in control.poll(0.0):
                core.on_control(command, log)
                flush()
                progress += 1
            for reader in intents:
                records = reader.poll(0.0)
                pending.extend(records)
                progress += len(records)
            while pending and (int(pending[0][0]["corr_id"]) <= core.md_done or md.closed):
                core.on_intent(pending.popleft(), log)
            flush()
            slots = md.poll_slots(0.0)
            if len(slots):
                core.on_trades(slots.view(_TRADE).reshape(-1))
                flush()
                md.consumer.commit()
                progress += len(slots)
            if progress:
                drain.progressed()
                continue
            if (md.closed and all(r.closed for r in intents) and not pending) or (
                node.stopping and drain.expired
            ):
                break
            if bell is not None:
                # Every producer of md, intents and control posts the bell after publishing,
                # so one blocking wait covers all of them (a ring's own wait covers one ring).
                # A signal (SIGTERM) interrupting the wait is a wake-up: the loop sees stopping.
                with contextlib.suppress(posix_ipc.BusyError, posix_ipc.SignalError):
                    bell.acquire(_IDLE_WAIT_S)
            else:
                md.poll_slots(0.0)
                time.sleep(_IDLE_WAIT_S / 100)
        core.stop()
        flush()
    finally:
        writer.close()
        for reader in (md, control, *intents):
            reader.close()
    report = core.report()
    report["exec_published"] = writer.written
    write_report(plan.report_path(PROCESS), report)
    log.info("oms.closed", **{k: v for k, v in report.items() if k != "positions"})
    return report


def main() -> int:
    """Entry of the OMS process (``qk.runtime.oms_process:main``)."""
    node = Node(PROCESS)
    run_oms(node, plan_from_environment())
    return 0
