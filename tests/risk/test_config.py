"""Risk configuration: typed, validated, with precise errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qk.risk import (
    BreakerConfig,
    InvalidRiskInput,
    OrderIntent,
    RiskConfig,
    RiskConfigError,
    RiskEngine,
    RiskLimits,
    TradingState,
)
from qk.schemas.enums import OrderType, Side

from .conftest import MASTER

D = Decimal


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_order_quantity": D(-1)}, "max_order_quantity must be > 0"),
        ({"max_position": D(0)}, "max_position must be > 0 (None means no limit), got 0"),
        ({"max_gross_exposure": 1e6}, "must be a Decimal or int (not a float)"),
        ({"max_leverage": D("NaN")}, "max_leverage must be finite"),
        ({"max_orders_per_window": 5}, "max_orders_per_window and rate_window_ns go together"),
        ({"max_orders_per_window": D(5), "rate_window_ns": 1}, "must be an int"),
        ({"price_band": D("1.5")}, "price_band is a fraction and must be < 1"),
        ({"max_drawdown": D(20)}, "max_drawdown is a fraction and must be < 1"),
        ({"max_order_quantity": D(2), "max_position": D(1)}, "could never pass"),
        ({"max_order_notional": D(2), "max_gross_exposure": D(1)}, "could never pass"),
        ({"drawdown_state": TradingState.ACTIVE}, "drawdown_state must be REDUCING or HALTED"),
        ({"permitted_instruments": {1, 2}}, "permitted_instruments must be a frozenset of int"),
        ({"permitted_venues": frozenset({"NSE"})}, "permitted_venues must be a frozenset of Venue"),
    ],
)
def test_limits_when_invalid_then_error_names_field_and_value(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RiskConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RiskLimits(**kwargs)  # type: ignore[arg-type]


def test_limits_when_valid_then_built() -> None:
    limits = RiskLimits(
        max_order_quantity=D(1),
        max_position=D(1),
        max_orders_per_window=10,
        rate_window_ns=10**9,
        max_drawdown=D("0.2"),
    )
    assert limits.max_position == 1


def test_breakers_when_burst_incomplete_then_error() -> None:
    with pytest.raises(RiskConfigError, match="goes with"):
        BreakerConfig(reject_burst_count=3, reject_burst_window_ns=10)
    with pytest.raises(RiskConfigError, match="goes with"):
        BreakerConfig(reject_burst_window_ns=10, reject_burst_cooldown_ns=10)
    with pytest.raises(RiskConfigError, match="stale_after_ns must be > 0"):
        BreakerConfig(stale_after_ns=-1)


def test_config_when_strategy_id_zero_then_error_explains_the_global_level() -> None:
    with pytest.raises(RiskConfigError, match="0 is the global level"):
        RiskConfig(strategies={0: RiskLimits()})


def test_config_when_strategy_limits_wrong_type_then_error() -> None:
    with pytest.raises(RiskConfigError, match=r"strategies\[3\] must be RiskLimits"):
        RiskConfig(strategies={3: {"max_position": 1}})  # type: ignore[dict-item]


def test_config_when_limits_looked_up_then_own_default_or_global() -> None:
    own, default, glob = RiskLimits(max_position=D(1)), RiskLimits(), RiskLimits(max_position=D(9))
    config = RiskConfig(global_limits=glob, default_limits=default, strategies={3: own})
    assert config.limits_of(3) is own
    assert config.limits_of(4) is default
    assert config.limits_of(0) is glob


def test_config_when_source_mapping_mutated_then_config_unchanged() -> None:
    source = {3: RiskLimits()}
    config = RiskConfig(strategies=source)
    source[4] = RiskLimits()
    assert 4 not in config.strategies


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "quantity must be an int >= 1"),
        ({"strategy_id": 0}, "strategy_id must be an int >= 1"),
        ({"price": -5}, "price must be an int >= 0"),
        ({"side": 1}, "side/order_type must be Side/OrderType"),
    ],
)
def test_intent_when_invalid_then_error(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "strategy_id": 1,
        "instrument_id": 1,
        "side": Side.BUY,
        "order_type": OrderType.MARKET,
        "quantity": 1,
    }
    fields.update(kwargs)
    with pytest.raises(InvalidRiskInput, match=message):
        OrderIntent(**fields)  # type: ignore[arg-type]


def test_engine_when_bad_inputs_then_specific_errors() -> None:
    engine = RiskEngine(RiskConfig(), MASTER)
    with pytest.raises(InvalidRiskInput, match="price of instrument 1 must be > 0"):
        engine.update_price(1, 0, 0)
    with pytest.raises(InvalidRiskInput, match="quantity > 0"):
        engine.apply_fill(1, 1, Side.BUY, 0)
    with pytest.raises(InvalidRiskInput, match="needs an OrderIntent"):
        engine.check("buy", 0)  # type: ignore[arg-type]
