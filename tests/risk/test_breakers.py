"""Circuit breakers trip and recover on the injected clock."""

from __future__ import annotations

from decimal import Decimal

from qk.risk import GLOBAL, BreakerConfig, DenialReason, RiskEngine, TradingState
from qk.schemas.enums import RiskAction, RiskReason, Side

from .conftest import OTHER, SECOND, STRATEGY, T0, intent, make_engine

BURST = BreakerConfig(
    reject_burst_count=3, reject_burst_window_ns=10 * SECOND, reject_burst_cooldown_ns=60 * SECOND
)


def deny(engine: RiskEngine, ts: int) -> None:
    """A denied order (above the 1 BTC order limit)."""
    assert not engine.check(intent(Side.BUY, "5"), ts).approved


def test_burst_when_n_denials_within_window_then_halts_for_the_cooldown_then_recovers() -> None:
    engine = make_engine(max_order_quantity=Decimal(1), breakers=BURST)
    for k in range(3):
        deny(engine, T0 + k * SECOND)
    tripped = T0 + 2 * SECOND
    denial = engine.check(intent(Side.BUY, "0.1"), tripped + 1)
    assert denial.reason is DenialReason.CIRCUIT_BREAKER
    assert denial.limit_value == tripped + 60 * SECOND
    assert engine.state(STRATEGY, tripped + 60 * SECOND - 1) is TradingState.HALTED
    assert engine.state(STRATEGY, tripped + 60 * SECOND) is TradingState.ACTIVE
    assert engine.check(intent(Side.BUY, "0.1"), tripped + 60 * SECOND).approved


def test_burst_when_denials_spread_beyond_window_then_does_not_trip() -> None:
    engine = make_engine(max_order_quantity=Decimal(1), breakers=BURST)
    for k in range(6):
        deny(engine, T0 + k * 5 * SECOND)  # never 3 within 10 s (the window is (t-10s, t])
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 30 * SECOND).approved


def test_burst_when_venue_rejects_then_they_count_like_denials() -> None:
    engine = make_engine(breakers=BURST)
    for k in range(3):
        engine.record_reject(STRATEGY, T0 + k)
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 3).reason is DenialReason.CIRCUIT_BREAKER
    assert engine.check(intent(Side.BUY, "0.1", strategy_id=OTHER), T0 + 3).approved


def test_burst_when_tripped_then_emits_one_halt_event_per_scope() -> None:
    engine = make_engine(
        breakers=BreakerConfig(
            reject_burst_count=2,
            global_reject_burst_count=2,
            reject_burst_window_ns=SECOND,
            reject_burst_cooldown_ns=SECOND,
        )
    )
    engine.record_reject(STRATEGY, T0)
    engine.record_reject(STRATEGY, T0)
    events = engine.drain_events()
    assert list(events["reason"]) == [RiskReason.CIRCUIT_BREAKER] * 2
    assert list(events["action"]) == [RiskAction.HALT_STRATEGY, RiskAction.HALT_ALL]
    assert list(events["strategy_id"]) == [STRATEGY, GLOBAL]


def test_burst_when_spread_over_strategies_then_global_breaker_halts_everyone() -> None:
    breakers = BreakerConfig(
        reject_burst_count=3,
        global_reject_burst_count=3,
        reject_burst_window_ns=SECOND,
        reject_burst_cooldown_ns=SECOND,
    )
    engine = make_engine(breakers=breakers)
    for strategy_id in (1, 2, 3):
        engine.record_reject(strategy_id, T0)
    assert engine.state(OTHER, T0) is TradingState.HALTED
    assert engine.latched_state(OTHER) is TradingState.ACTIVE  # an overlay, not a latch
    assert engine.state(OTHER, T0 + SECOND) is TradingState.ACTIVE


def test_burst_when_not_configured_then_denials_never_halt() -> None:
    engine = make_engine(max_order_quantity=Decimal(1))
    for k in range(50):
        deny(engine, T0 + k)
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 50).approved
