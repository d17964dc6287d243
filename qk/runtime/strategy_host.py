"""``strategy:<id>``: one strategy in its own sandboxed process, between rings.

Inputs: ring ``bars`` (trades and bars, in publication order) and ring ``exec`` (order updates,
fills, risk events of the OMS). Output: OrderIntent records in ring ``intents.<id>``, of which
this process is the only producer. The strategy sees :class:`RingContext`, an implementation of
:class:`qk.strategy.StrategyContext`:

* ``submit_*``/``cancel``/``modify`` validate exactly as the in-process engine does, take the next
  deterministic client order id and write an OrderIntent whose ``corr_id`` is that of the record
  being handled (the tick that caused the decision) and whose ``seq`` is the number of ``exec``
  records this strategy had read when it decided (its input journal; ``docs/runtime.md``);
* ``position``/``account`` come from a local :class:`qk.portfolio.Portfolio` that books the
  FillEvents of ``exec`` and is marked by the trades of ``bars``: the strategy's mirror of the
  OMS's books;
* the clock is market time, advanced by the trades' ``ts_event``; timers fire on it, before the
  trade that reaches their time, as in the in-process engine.

The process holds no credentials and no sockets: the supervisor starts it under
:class:`qk.sandbox.SandboxLimits` (closed descriptors, scrubbed environment, resource limits).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import structlog

from qk.instruments import Instrument, InstrumentMaster
from qk.oms.clock import SimulatedClock
from qk.oms.timers import TimerQueue
from qk.orders import ClientOrderId, ClientOrderIdGenerator, Order
from qk.orders.records import intent_record, order_from_update
from qk.portfolio import Fill as PortfolioFill
from qk.portfolio import Portfolio
from qk.rings import Ring
from qk.runtime.journal import logged_streams
from qk.runtime.node import POLL_S, DrainClock, Node, write_report
from qk.runtime.plan import STRATEGY_ENV, PlanError, SessionPlan, plan_from_environment
from qk.runtime.wire import RingReader, RingWriter, attach, open_bell
from qk.schemas.enums import OrderAction, OrderType, RecordType, Side, TimeInForce
from qk.strategy import (
    AccountView,
    Deployment,
    InvalidOrderRequest,
    OrderRequestReason,
    PositionView,
    Strategy,
    StrategyContext,
    check_price,
    check_quantity,
    deployed_instrument,
    load_descriptor,
    new_order,
)

__all__ = ["PROCESS_PREFIX", "ExecMerge", "RingContext", "StrategyHost", "main", "process_name"]

PROCESS_PREFIX: Final = "strategy:"
OMS_CONSUMER: Final = "oms"
_WAIT_FOR_OMS_S: Final = 0.00005
_GLOBAL: Final = 0

IntentSink = Callable[[npt.NDArray[np.void]], None]


def process_name(strategy_id: int) -> str:
    """The supervisor's name of a strategy's host process."""
    return f"{PROCESS_PREFIX}{strategy_id}"


class RingContext(StrategyContext):
    """A strategy's view of a paper or live session, from inside its own process.

    Args:
        deployment: The deployment (instruments, account).
        sink: Receives each OrderIntent record (the intents ring, or a list in a replay).
    """

    def __init__(self, deployment: Deployment, sink: IntentSink) -> None:
        self._deployment = deployment
        self._strategy_id = deployment.strategy_id
        self._sink = sink
        self._instruments = {i.instrument_id: i for i in deployment.instruments}
        master = InstrumentMaster.from_instruments(deployment.instruments, name="strategy")
        self.portfolio = Portfolio(master)
        self.portfolio.deposit(
            deployment.currency, deployment.capital, strategy_id=self._strategy_id
        )
        self._clock = SimulatedClock(0)
        self.timers = TimerQueue()
        self._ids = ClientOrderIdGenerator(self._strategy_id)
        self.orders: dict[int, Order] = {}
        self.corr_id = 0
        """Correlation id of the record being handled (set by the host)."""
        self.exec_read = 0
        """``exec`` records read so far (the host keeps it; written as each intent's seq)."""
        self.intents_sent = 0
        self._log = structlog.get_logger("qk.strategy").bind(strategy_id=self._strategy_id)

    # -- identity and time --------------------------------------------------------------------

    @property
    def strategy_id(self) -> int:
        """This strategy's id."""
        return self._strategy_id

    @property
    def clock(self) -> SimulatedClock:
        """Market time: the ``ts_event`` of the latest trade handled."""
        return self._clock

    @property
    def log(self) -> Any:
        """A structlog logger bound with ``strategy_id``."""
        return self._log

    # -- order commands -----------------------------------------------------------------------

    def _submit(
        self,
        instrument_id: int,
        side: Side,
        order_type: OrderType,
        quantity: Decimal | int,
        price: Decimal | int | None,
        trigger_price: Decimal | int | None,
        time_in_force: TimeInForce,
        post_only: bool,
    ) -> ClientOrderId:
        order = new_order(
            self.instrument(instrument_id), self._ids.next, side, order_type, quantity, price,
            trigger_price, time_in_force, post_only, self._clock.now_ns(),
        )  # fmt: skip
        self.orders[order.client_order_id.value] = order
        self._send(order, OrderAction.NEW)
        return order.client_order_id

    def modify(
        self,
        client_order_id: ClientOrderId,
        *,
        quantity: Decimal | int | None = None,
        price: Decimal | int | None = None,
        trigger_price: Decimal | int | None = None,
    ) -> None:
        """Request a change of a working order (see :meth:`StrategyContext.modify`)."""
        order = self._own(client_order_id)
        if quantity is None and price is None and trigger_price is None:
            raise InvalidOrderRequest(
                OrderRequestReason.EMPTY_MODIFY, f"modify of {client_order_id} changes nothing"
            )
        instrument = self.instrument(order.instrument_id)
        record = self._record(order, OrderAction.MODIFY)
        if quantity is not None:
            record["quantity"] = instrument.quantity_to_raw(check_quantity(instrument, quantity))
        if price is not None:
            record["price"] = instrument.price_to_raw(check_price(instrument, price))
        if trigger_price is not None:
            record["trigger_price"] = instrument.price_to_raw(
                check_price(instrument, trigger_price, "trigger")
            )
        self._emit(record)

    def cancel(self, client_order_id: ClientOrderId) -> None:
        """Request the cancel of a working order (see :meth:`StrategyContext.cancel`)."""
        self._send(self._own(client_order_id), OrderAction.CANCEL)

    # -- queries ------------------------------------------------------------------------------

    def position(self, instrument_id: int) -> PositionView:
        """This strategy's position from the fills it has received."""
        instrument = self.instrument(instrument_id)
        position = self.portfolio.position(self._strategy_id, instrument_id)
        if position is None or position.quantity == 0:
            return PositionView(instrument_id, Decimal(0))
        average = position.average_price()
        return PositionView(
            instrument_id,
            Decimal(position.quantity).scaleb(-instrument.size_precision),
            None if average is None else Decimal(average.numerator) / average.denominator,
        )

    @property
    def account(self) -> AccountView:
        """This strategy's cash and equity from its fills and the latest marks."""
        state = self.portfolio.account(self._deployment.currency, self._strategy_id)
        return AccountView(state.currency, state.cash, state.equity)

    def instrument(self, key: int | str) -> Instrument:
        """A deployed instrument by id or symbol."""
        return deployed_instrument(key, self._instruments, self._strategy_id)

    # -- timers -------------------------------------------------------------------------------

    def schedule_timer(
        self, name: str, *, at_ns: int | None = None, every_ns: int | None = None
    ) -> None:
        """Schedule ``on_signal_timer(name, ts)`` on market time."""
        self.timers.schedule(self._strategy_id, name, self._clock.now_ns(), at_ns, every_ns)

    def cancel_timer(self, name: str) -> None:
        """Stop a timer; unknown names are ignored."""
        self.timers.cancel(self._strategy_id, name)

    # -- internals ----------------------------------------------------------------------------

    def _own(self, client_order_id: ClientOrderId) -> Order:
        value = client_order_id.value if isinstance(client_order_id, ClientOrderId) else -1
        order = self.orders.get(value)
        if order is None:
            raise InvalidOrderRequest(
                OrderRequestReason.UNKNOWN_ORDER,
                f"order {client_order_id} was not submitted by strategy {self._strategy_id}",
            )
        return order

    def _record(self, order: Order, action: OrderAction) -> np.void:
        now = self._clock.now_ns()
        array = intent_record(
            order, action=action, ts_event=now, ts_recv=order.ts_init if action is OrderAction.NEW
            else now, seq=self.exec_read, corr_id=self.corr_id,
        )  # fmt: skip
        record: np.void = array[0]
        return record

    def _send(self, order: Order, action: OrderAction) -> None:
        self._emit(self._record(order, action))

    def _emit(self, record: np.void) -> None:
        self.intents_sent += 1
        self._sink(np.asarray(record).reshape(1))


class StrategyHost:
    """Delivers ring records to one strategy as the in-process engine would (no rings here:
    the process loop and the replay both drive it).

    Args:
        deployment: The deployment.
        sink: Where the context writes OrderIntent records.
        params: The strategy's Params (default: the deployment's).
    """

    def __init__(self, deployment: Deployment, sink: IntentSink, params: Any | None = None) -> None:
        self.context = RingContext(deployment, sink)
        self.strategy: Strategy = deployment.strategy_class(
            self.context, deployment.params if params is None else params
        )
        self._sid = deployment.strategy_id
        self._instruments = set(self.context._instruments)
        self.fills = 0
        self.updates = 0
        self._last_trade: dict[int, tuple[int, int]] = {}  # instrument -> (ts_event, price)

    def start(self) -> None:
        """``on_start``."""
        self.strategy.on_start()

    def stop(self) -> None:
        """``on_stop`` (it may still cancel: the intents ring is open until after it)."""
        self.strategy.on_stop()

    def on_market(self, record: npt.NDArray[np.void]) -> None:
        """One record of ``bars``: a TradeEvent (timers, mark, ``on_tick``) or a BarEvent."""
        rec = record[0]
        kind = int(rec["type"])
        if int(rec["instrument_id"]) not in self._instruments:
            return
        context = self.context
        context.corr_id = int(rec["corr_id"])
        if kind == RecordType.TRADE_EVENT:
            ts = int(rec["ts_event"])
            self._fire_timers(ts)
            if ts > context.clock.now_ns():
                context.clock.set(ts)
            instrument_id = int(rec["instrument_id"])
            self._last_trade[instrument_id] = (ts, int(rec["price"]))
            context.portfolio.mark(instrument_id, int(rec["price"]))
            self.strategy.on_tick(rec)
        elif kind == RecordType.BAR_EVENT:
            self.strategy.on_bar(rec)

    def on_exec(self, record: npt.NDArray[np.void]) -> None:
        """One record of ``exec``: this strategy's updates, fills and risk events."""
        rec = record[0]
        context = self.context
        context.exec_read += 1
        kind = int(rec["type"])
        if kind not in (RecordType.ORDER_UPDATE, RecordType.FILL_EVENT, RecordType.RISK_EVENT):
            return  # the OMS's input journal
        owner = int(rec["strategy_id"])
        if owner != self._sid and not (kind == RecordType.RISK_EVENT and owner == _GLOBAL):
            return
        context.corr_id = int(rec["corr_id"])
        if kind == RecordType.ORDER_UPDATE:
            self.updates += 1
            value = int(rec["client_order_id"])
            if value in context.orders:
                context.orders[value] = order_from_update(rec)
            self.strategy.on_order_update(rec)
        elif kind == RecordType.FILL_EVENT:
            self.fills += 1
            instrument_id = int(rec["instrument_id"])
            context.portfolio.apply_fill(
                PortfolioFill(
                    strategy_id=self._sid,
                    instrument_id=instrument_id,
                    side=Side(int(rec["side"])),
                    price=int(rec["price"]),
                    quantity=int(rec["quantity"]),
                    fee=int(rec["fee"]),
                    fee_currency=bytes(rec["fee_currency"]).rstrip(b"\0").decode("ascii"),
                    ts_event=int(rec["ts_event"]),
                    client_order_id=int(rec["client_order_id"]),
                    trade_id=int(rec["trade_id"]),
                )
            )
            # Booking a fill marks at the fill price; a trade this process has already seen
            # after the fill is the later price (the OMS marked it after the fill too).
            last = self._last_trade.get(instrument_id)
            if last is not None and last[0] >= int(rec["ts_event"]):
                context.portfolio.mark(instrument_id, last[1])
            self.strategy.on_fill(rec)
        else:
            self.strategy.on_risk_event(rec)

    def _fire_timers(self, until_ns: int) -> None:
        context = self.context
        while (due := context.timers.next_due(until_ns)) is not None:
            if due.at_ns > context.clock.now_ns():
                context.clock.set(due.at_ns)
            self.strategy.on_signal_timer(due.name, due.at_ns)

    def report(self) -> dict[str, Any]:
        """The mirror's state: positions (raw), cash and equity, counts."""
        context = self.context
        account = context.account
        return {
            "strategy_id": self._sid,
            "positions": {
                str(p.instrument.instrument_id): p.quantity
                for p in context.portfolio.positions(self._sid)
            },
            "cash": str(account.cash),
            "equity": str(account.equity),
            "intents": context.intents_sent,
            "fills": self.fills,
            "updates": self.updates,
            "exec_read": context.exec_read,
        }


class ExecMerge:
    """Merges ``exec`` into the market data by md position, the same way in a process and in a
    replay: an exec record with ``seq`` = ``p`` (published while the OMS was at md position ``p``)
    is delivered before the trade at position ``p`` and the bars it published, after every
    earlier one. That is where the in-process engine delivers it too (a trade's fills before its
    ``on_tick``)."""

    def __init__(self, host: StrategyHost) -> None:
        self.host = host
        self.held: deque[npt.NDArray[np.void]] = deque()

    def add(self, records: Iterable[npt.NDArray[np.void]]) -> None:
        """Exec records read from the ring, in ring order (their seqs never go down)."""
        self.held.extend(records)

    def before_market(self, record: npt.NDArray[np.void]) -> None:
        """Deliver what precedes this bars record (trade at position corr_id - 1), then it."""
        position = int(record[0]["corr_id"]) - 1
        held = self.held
        while held and int(held[0][0]["seq"]) <= position:
            self.host.on_exec(held.popleft())
        self.host.on_market(record)

    def flush(self) -> None:
        """Deliver every held exec record (no more market data will come)."""
        while self.held:
            self.host.on_exec(self.held.popleft())


class OmsProgress:
    """The OMS's ``md`` cursor: trades it has processed with everything they caused published.

    Read per trade, so it reads the consumer table directly (a few µs) rather than through
    :meth:`qk.rings.Ring.consumers`, which also checks every consumer's process (~0.1 ms each).
    """

    def __init__(self, md: Ring) -> None:
        self._md = md
        self._index: int | None = None

    def done(self) -> int:
        """Trades the OMS has processed (0 before it has registered)."""
        if self._index is None:
            for consumer in self._md.consumers():
                if consumer.name == OMS_CONSUMER:
                    self._index = consumer.index
            if self._index is None:
                return 0
        # ring.py keeps no public per-consumer cursor read; the table row's 7th item is it.
        return int(self._md._view.consumer_table()[self._index][6])


def _rebuild(
    plan: SessionPlan, merge: ExecMerge, bars: RingReader, exec_: RingReader
) -> list[npt.NDArray[np.void]]:
    """After a restart: replay the strategy over what the WAL logged, as ``qk replay`` would.

    The merge rule makes the strategy's inputs a function of the log, so the replay rebuilds its
    indicators, mirror, open orders and client order id sequence exactly, and its intents are the
    ones it sent before (the sink drops those already in the intents ring). Market data is replayed
    while the log shows every exec record that must precede it (a logged exec record with a later
    md position); the rest of the logged bars is returned to go through the live path. Both
    consumers then continue in the ring right after what the log holds (the WAL's own consumer
    keeps those records in the ring until it has logged them).
    """
    logged = logged_streams(plan, Path(plan.wal_dir))
    bars_log, exec_log = logged["bars"], logged["exec"]
    merge.add(exec_log)
    last_seq = int(exec_log[-1][0]["seq"]) if exec_log else -1
    replayed = 0
    for record in bars_log:
        if last_seq < int(record[0]["corr_id"]):
            break
        merge.before_market(record)
        replayed += 1
    bars.consumer.seek(len(bars_log))
    exec_.consumer.seek(len(exec_log))
    return bars_log[replayed:]


def run_strategy(node: Node, plan: SessionPlan, strategy_id: int) -> dict[str, Any]:
    """Host one strategy until ``bars`` is closed and, after ``on_stop``, ``exec`` is closed."""
    deployment = load_descriptor(plan.descriptor)
    if deployment.strategy_id != strategy_id:
        raise PlanError(
            f"{plan.descriptor} deploys strategy {deployment.strategy_id}, not {strategy_id}"
        )
    consumer = process_name(strategy_id).replace(":", ".")
    writer = RingWriter(plan.intents(strategy_id), beat=node.beat, bell=open_bell(plan.oms_bell))
    already_sent = int(writer.producer.position)
    made = dropped = 0

    def sink(record: npt.NDArray[np.void]) -> None:
        nonlocal made, dropped
        made += 1
        if made <= already_sent:
            return  # rebuilt after a restart: this intent is in the ring already
        if writer.closed_here:
            dropped += 1  # after on_stop: the OMS no longer reads this ring
            return
        writer.write([record])

    host = StrategyHost(deployment, sink)
    merge = ExecMerge(host)
    bars = RingReader(plan.bars, consumer)
    exec_ = RingReader(plan.exec, consumer)
    md = attach(plan.md)
    progress = OmsProgress(md)
    pending: deque[npt.NDArray[np.void]] = deque()
    oms_done = 0
    try:
        host.start()
        if already_sent or bars.position or exec_.position:
            pending.extend(_rebuild(plan, merge, bars, exec_))
            node.log.warning(
                "strategy.rebuilt", intents_already_sent=already_sent, replayed_intents=made,
                bars_position=bars.position, exec_position=exec_.position,
            )  # fmt: skip
        drain = DrainClock()
        while True:
            node.beat()
            if not pending:
                pending.extend(bars.poll(0.001))
            if not pending:
                merge.add(exec_.poll(0.0))
                if bars.closed or (node.stopping and drain.expired):
                    break
                continue
            drain.progressed()
            while pending:
                corr = int(pending[0][0]["corr_id"])
                if oms_done < corr and not exec_.closed:
                    oms_done = progress.done()
                    if oms_done < corr:
                        time.sleep(_WAIT_FOR_OMS_S)
                        break
                while records := exec_.poll(0.0):
                    merge.add(records)
                merge.before_market(pending.popleft())
        # on_stop right after the last trade: what is still held (or still to come) was published
        # after the OMS had processed every trade, and is delivered after on_stop in the replay
        # too. Fills of orders sent before the intents ring closed keep arriving: the mirror books
        # them until the OMS closes exec.
        host.stop()
        writer.close()
        merge.flush()
        drain = DrainClock()
        while not exec_.closed and not drain.expired:
            node.beat()
            records = exec_.poll(POLL_S)
            if records:
                merge.add(records)
                merge.flush()
                drain.progressed()
    finally:
        writer.close()
        bars.close()
        exec_.close()
        md.close()
    report = host.report()
    report["intents_after_stop"] = dropped
    report["intents_rebuilt"] = min(made, already_sent)
    write_report(plan.report_path(process_name(strategy_id)), report)
    node.log.info("strategy.closed", **{k: v for k, v in report.items() if k != "positions"})
    return report


def strategy_id_from_environment() -> int:
    """The strategy id ``qk start`` gave this process (``QK_RUNTIME_STRATEGY``).

    Raises:
        PlanError: The variable is missing or not a number.
    """
    text = os.environ.get(STRATEGY_ENV, "")
    if not text.isdigit():
        raise PlanError(f"{STRATEGY_ENV} must name a strategy id, got {text!r}")
    return int(text)


def main() -> int:
    """Entry of a strategy host process (``qk.runtime.strategy_host:main``)."""
    strategy_id = strategy_id_from_environment()
    node = Node(process_name(strategy_id))
    run_strategy(node, plan_from_environment(), strategy_id)
    return 0
