"""Pre-trade and post-trade risk, trading states, kill switch, circuit breakers
(DESIGN.md §7; ``docs/risk.md``).

::

    engine = RiskEngine(RiskConfig(default_limits=RiskLimits(max_position=Decimal(1))), master)
    engine.update_price(btc, 6_500_000, ts)
    decision = engine.check(OrderIntent(7, btc, Side.BUY, OrderType.MARKET, 10_000), ts)
    if not decision.approved:
        decision.reason, decision.event      # DenialReason.MAX_POSITION, the RiskEvent record
"""

from qk.risk.config import BreakerConfig, RiskConfig, RiskLimits
from qk.risk.engine import FRACTION_PRECISION, GLOBAL, InstrumentSource, RiskEngine
from qk.risk.errors import InvalidRiskInput, RiskConfigError, RiskError
from qk.risk.intent import APPROVED, CancelOrder, KillSwitchResult, OrderIntent, RiskDecision
from qk.risk.reasons import RECORD_REASON, DenialReason
from qk.risk.states import (
    STATE_TRANSITION_ROWS,
    STATE_TRANSITIONS,
    StateTransition,
    TradingState,
    TradingStateEvent,
    next_state,
)

__all__ = [
    "APPROVED",
    "FRACTION_PRECISION",
    "GLOBAL",
    "RECORD_REASON",
    "STATE_TRANSITIONS",
    "STATE_TRANSITION_ROWS",
    "BreakerConfig",
    "CancelOrder",
    "DenialReason",
    "InstrumentSource",
    "InvalidRiskInput",
    "KillSwitchResult",
    "OrderIntent",
    "RiskConfig",
    "RiskConfigError",
    "RiskDecision",
    "RiskEngine",
    "RiskError",
    "RiskLimits",
    "StateTransition",
    "TradingState",
    "TradingStateEvent",
    "next_state",
]
