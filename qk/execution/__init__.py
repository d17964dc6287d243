"""Deterministic simulated execution, shared by the backtest and paper trading (issue 4).

::

    exchange = SimulatedExchange([infy], latency=FixedLatency(1_000_000),
                                 fill_model=FillModel(slippage_ticks=1))
    exchange.submit_order(order, ts=decision_ts)          # SUBMITTED; arrives 1 ms later
    exchange.process_trade(infy.instrument_id, ts, price, quantity)   # ACCEPTED, FILLED ...

See ``docs/execution.md`` for the models and their assumptions.
"""

from qk.execution.errors import (
    ExecutionError,
    ExecutionErrorReason,
    InvalidCommand,
    InvalidMarketData,
    InvalidSimulatorConfig,
    TimeWentBackwards,
)
from qk.execution.events import ExecutionEvent
from qk.execution.exchange import PositionProvider, SimulatedExchange
from qk.execution.fill_model import BPS_DENOMINATOR, FillModel, LimitFillRule, slipped_price
from qk.execution.latency import FixedLatency, LatencyModel, UniformLatency

__all__ = [
    "BPS_DENOMINATOR",
    "ExecutionError",
    "ExecutionErrorReason",
    "ExecutionEvent",
    "FillModel",
    "FixedLatency",
    "InvalidCommand",
    "InvalidMarketData",
    "InvalidSimulatorConfig",
    "LatencyModel",
    "LimitFillRule",
    "PositionProvider",
    "SimulatedExchange",
    "TimeWentBackwards",
    "UniformLatency",
    "slipped_price",
]
