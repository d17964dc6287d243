"""Trading states: the transition table, operator commands, post-trade limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qk.risk import (
    GLOBAL,
    STATE_TRANSITION_ROWS,
    STATE_TRANSITIONS,
    DenialReason,
    RiskLimits,
    TradingState,
    TradingStateEvent,
    next_state,
)
from qk.risk.states import render_markdown
from qk.schemas.enums import RiskAction, RiskReason, Side

from .conftest import BTC, OTHER, STRATEGY, T0, account, fill, intent, make_engine

D = Decimal
DOCS = Path(__file__).resolve().parents[2] / "docs" / "risk.md"


def test_table_when_indexed_then_every_state_event_pair_has_exactly_one_row() -> None:
    pairs = [(row.state, row.event) for row in STATE_TRANSITION_ROWS]
    assert len(pairs) == len(set(pairs)) == len(TradingState) * len(TradingStateEvent)
    assert all(row.why for row in STATE_TRANSITION_ROWS)


def test_table_when_limit_breached_then_state_never_loosens() -> None:
    for state in TradingState:
        for event in (
            TradingStateEvent.REDUCE_LIMIT_BREACHED,
            TradingStateEvent.HALT_LIMIT_BREACHED,
        ):
            assert STATE_TRANSITIONS[(state, event)] >= state


def test_table_when_operator_resumes_then_only_way_back_to_active() -> None:
    for (state, event), target in STATE_TRANSITIONS.items():
        if target is TradingState.ACTIVE and state is not TradingState.ACTIVE:
            assert event is TradingStateEvent.OPERATOR_RESUMED
    assert (
        next_state(TradingState.HALTED, TradingStateEvent.OPERATOR_RESUMED) is TradingState.ACTIVE
    )


def test_docs_when_rendered_then_risk_md_holds_the_current_table() -> None:
    assert render_markdown() in DOCS.read_text()


def test_submit_when_trading_halted_then_denies() -> None:
    engine = make_engine()
    engine.halt(STRATEGY, T0)
    assert engine.check(intent(Side.BUY, "0.1"), T0).reason is DenialReason.TRADING_HALTED
    assert engine.check(intent(Side.BUY, "0.1", strategy_id=OTHER), T0).approved


def test_submit_when_globally_halted_then_denies_every_strategy() -> None:
    engine = make_engine()
    engine.halt(GLOBAL, T0)
    for strategy_id in (STRATEGY, OTHER):
        denial = engine.check(intent(Side.BUY, "0.1", strategy_id=strategy_id), T0)
        assert denial.reason is DenialReason.TRADING_HALTED
    assert engine.state(OTHER, T0) is TradingState.HALTED


def test_submit_when_reducing_then_only_position_reducing_orders_pass() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.5")
    engine.reduce(STRATEGY, T0)
    assert engine.check(intent(Side.BUY, "0.1"), T0).reason is DenialReason.TRADING_REDUCING
    assert engine.check(intent(Side.SELL, "0.6"), T0).reason is DenialReason.TRADING_REDUCING
    assert engine.check(intent(Side.SELL, "0.3"), T0).approved
    # 0.3 is pending: 0.3 more would flip the position.
    assert engine.check(intent(Side.SELL, "0.3"), T0).reason is DenialReason.TRADING_REDUCING
    assert engine.check(intent(Side.SELL, "0.2"), T0).approved


def test_resume_when_halted_then_orders_pass_again_and_events_record_both_changes() -> None:
    engine = make_engine()
    assert engine.halt(STRATEGY, T0) is TradingState.HALTED
    assert engine.resume(STRATEGY, T0 + 1) is TradingState.ACTIVE
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 1).approved
    events = engine.drain_events()
    assert list(events["action"]) == [RiskAction.HALT_STRATEGY, RiskAction.RESUME]
    assert list(events["detail"]) == [b"ACTIVE->HALTED", b"HALTED->ACTIVE"]


def test_halt_when_already_halted_then_no_second_event() -> None:
    engine = make_engine()
    engine.halt(STRATEGY, T0)
    engine.halt(STRATEGY, T0 + 1)
    assert len(engine.drain_events()) == 1


def test_update_account_when_drawdown_beyond_limit_then_configured_state() -> None:
    engine = make_engine(max_drawdown=D("0.2"), drawdown_state=TradingState.REDUCING)
    engine.update_account(account(drawdown_fraction="0.2"), T0)
    assert engine.state(STRATEGY, T0) is TradingState.ACTIVE  # at the limit: still fine
    engine.update_account(account(drawdown_fraction="0.20000001"), T0)
    assert engine.state(STRATEGY, T0) is TradingState.REDUCING
    event = engine.drain_events()[0]
    assert event["reason"] == RiskReason.MAX_DRAWDOWN
    assert (event["limit_value"], event["observed_value"]) == (20_000_000, 20_000_001)


def test_update_account_when_daily_loss_beyond_limit_then_halts() -> None:
    engine = make_engine(max_daily_loss=D(500))
    engine.update_account(account(day_pnl="-500"), T0)
    assert engine.state(STRATEGY, T0) is TradingState.ACTIVE
    engine.update_account(account(day_pnl="-500.01"), T0)
    assert engine.state(STRATEGY, T0) is TradingState.HALTED
    assert engine.state(OTHER, T0) is TradingState.ACTIVE
    event = engine.drain_events()[0]
    assert event["reason"] == RiskReason.DAILY_LOSS
    assert event["observed_value"] == 50_001_000_000


def test_update_account_when_account_level_breach_then_every_strategy_halted() -> None:
    engine = make_engine(global_limits=RiskLimits(max_daily_loss=D(1000)))
    engine.update_account(account(GLOBAL, day_pnl="-2000"), T0)
    assert engine.state(OTHER, T0) is TradingState.HALTED
    assert engine.drain_events()[0]["action"] == RiskAction.HALT_ALL


def test_update_account_when_reduce_breach_while_halted_then_stays_halted() -> None:
    engine = make_engine(max_drawdown=D("0.1"), drawdown_state=TradingState.REDUCING)
    engine.halt(STRATEGY, T0)
    engine.update_account(account(drawdown_fraction="0.5"), T0)
    assert engine.latched_state(STRATEGY) is TradingState.HALTED


@pytest.mark.parametrize("state", [TradingState.REDUCING, TradingState.HALTED])
def test_state_when_strategy_and_global_differ_then_strictest_wins(state: TradingState) -> None:
    engine = make_engine()
    engine.reduce(STRATEGY, T0)
    if state is TradingState.HALTED:
        engine.halt(GLOBAL, T0)
    assert engine.state(STRATEGY, T0) is state
    assert engine.position(STRATEGY, BTC) == 0
