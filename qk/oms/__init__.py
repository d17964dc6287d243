"""The in-process order management engine (issue 4): strategy commands through risk to the
simulated exchange, fills into the portfolio and back to the strategy, on market time.

::

    portfolio = Portfolio(master)
    exchange = SimulatedExchange([btc], position=net_position_of(portfolio))
    manager = OrderManager(exchange, RiskEngine(config, master), portfolio, master,
                           currency="USDT")
    manager.add_strategy(7, [btc.instrument_id], MyStrategy)
    manager.start()
    for record in trades:
        manager.process_record(record)      # timers, matching, fills, marks, on_tick
    manager.engage_kill_switch()            # cancels every open order; new ones are denied
"""

from qk.oms.clock import SimulatedClock
from qk.oms.context import EngineContext
from qk.oms.errors import OmsError, OmsErrorReason
from qk.oms.manager import JournalEntry, JournalKind, OrderManager, net_position_of
from qk.oms.timers import DueTimer, TimerQueue

__all__ = [
    "DueTimer",
    "EngineContext",
    "JournalEntry",
    "JournalKind",
    "OmsError",
    "OmsErrorReason",
    "OrderManager",
    "SimulatedClock",
    "TimerQueue",
    "net_position_of",
]
