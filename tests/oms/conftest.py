"""Shared builders for the order manager tests: a probe strategy, hand-written trades, an engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.execution import SimulatedExchange
from qk.fees import FeeModel
from qk.instruments import Instrument, InstrumentMaster
from qk.marketdata.sim import SIM_BTCUSDT
from qk.oms import EngineContext, OrderManager, net_position_of
from qk.orders import ClientOrderId, OrderEventKind, OrderStatus
from qk.portfolio import Portfolio
from qk.risk import RiskConfig, RiskEngine, RiskLimits
from qk.schemas import new_records
from qk.strategy import Strategy

STRATEGY_ID = 7
T0 = 1_767_225_600_000_000_000
"""2026-01-01T00:00:00Z: first trade time of the hand-written tapes."""
DEPOSIT = Decimal(10_000)

Action = Callable[["Probe"], None]


def trades(
    rows: Sequence[tuple[int, str, str]], instrument: Instrument = SIM_BTCUSDT
) -> npt.NDArray[np.void]:
    """TradeEvent records from (ns after T0, price, quantity) rows."""
    records = new_records("TradeEvent", len(rows))
    for i, (offset, price, quantity) in enumerate(rows):
        records[i]["instrument_id"] = instrument.instrument_id
        records[i]["seq"] = i
        records[i]["ts_event"] = T0 + offset
        records[i]["price"] = instrument.price_to_raw(Decimal(price))
        records[i]["quantity"] = instrument.quantity_to_raw(Decimal(quantity))
    return records


class Probe(Strategy):
    """Runs a plan of actions on given ticks / timers and writes down everything it is told."""

    def __init__(self, context: Any, params: Any = None) -> None:
        super().__init__(context, params)
        self.on_ticks: dict[int, Action] = {}
        self.on_timers: dict[str, Action] = {}
        self.at_start: Action | None = None
        self.ticks = 0
        self.order_ids: list[ClientOrderId] = []
        self.seen: list[tuple[Any, ...]] = []
        self.updates: list[tuple[OrderEventKind, OrderStatus]] = []
        self.fills: list[np.void] = []
        self.risk_events: list[np.void] = []

    def on_start(self) -> None:
        if self.at_start is not None:
            self.at_start(self)

    def on_tick(self, trade: np.void) -> None:
        self.ticks += 1
        self.seen.append(("tick", int(trade["ts_event"]), self.context.clock.now_ns()))
        action = self.on_ticks.get(self.ticks)
        if action is not None:
            action(self)

    def on_signal_timer(self, name: str, ts_ns: int) -> None:
        self.seen.append(("timer", name, ts_ns, self.context.clock.now_ns()))
        action = self.on_timers.get(name)
        if action is not None:
            action(self)

    def on_order_update(self, update: np.void) -> None:
        kind, status = OrderEventKind(int(update["event"])), OrderStatus(int(update["status"]))
        self.updates.append((kind, status))
        self.seen.append(("update", int(update["client_order_id"]), kind, status))

    def on_fill(self, fill: np.void) -> None:
        self.fills.append(fill)
        self.seen.append(("fill", int(fill["price"]), int(fill["quantity"]), int(fill["fee"])))

    def on_risk_event(self, event: np.void) -> None:
        self.risk_events.append(event)
        self.seen.append(("risk", int(event["reason"]), int(event["action"])))


@dataclass
class Engine:
    """A manager, its parts and its probe strategy."""

    manager: OrderManager
    exchange: SimulatedExchange
    risk: RiskEngine
    portfolio: Portfolio
    probe: Probe
    instrument: Instrument = field(default=SIM_BTCUSDT)

    def run(self, records: npt.NDArray[np.void]) -> None:
        """Start, feed every record."""
        self.manager.start()
        for record in records:
            self.manager.process_record(record)


def engine(
    *,
    limits: RiskLimits | None = None,
    instrument: Instrument = SIM_BTCUSDT,
    fee_models: tuple[FeeModel, ...] = (),
) -> Engine:
    """An engine on one instrument with a Probe as strategy 7 holding 10 000 USDT."""
    master = InstrumentMaster.from_instruments([instrument])
    portfolio = Portfolio(master)
    portfolio.deposit("USDT", DEPOSIT, strategy_id=STRATEGY_ID)
    exchange = SimulatedExchange(
        [instrument], fee_models=fee_models, position=net_position_of(portfolio)
    )
    risk = RiskEngine(RiskConfig(default_limits=limits or RiskLimits()), master)
    manager = OrderManager(exchange, risk, portfolio, master, currency="USDT", start_ns=T0)

    def build(context: EngineContext) -> Probe:
        return Probe(context)

    probe = manager.add_strategy(STRATEGY_ID, [instrument.instrument_id], build)
    assert isinstance(probe, Probe)
    return Engine(manager, exchange, risk, portfolio, probe, instrument)
