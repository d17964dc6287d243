"""Pre-trade checks: each blocks what it must and passes what it must."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qk.risk import APPROVED, RECORD_REASON, BreakerConfig, DenialReason, OrderIntent, RiskLimits
from qk.schemas import dtype_of
from qk.schemas.enums import OrderType, RiskAction, RiskReason, Severity, Side, Venue

from .conftest import (
    BTC,
    INFY,
    NIFTY_FUT,
    NO_PRICE,
    OTHER,
    SECOND,
    STRATEGY,
    T0,
    account,
    fill,
    intent,
    make_engine,
    raw_price,
    raw_qty,
)

D = Decimal


def test_check_when_no_limits_then_approves_with_the_shared_approval_and_no_event() -> None:
    engine = make_engine()
    assert engine.check(intent(Side.BUY, "0.1"), T0) is APPROVED
    assert len(engine.drain_events()) == 0


def test_check_when_instrument_unknown_then_denies_unknown_instrument() -> None:
    engine = make_engine()
    denial = engine.check(OrderIntent(STRATEGY, 99, Side.BUY, OrderType.MARKET, 1), T0)
    assert denial.reason is DenialReason.UNKNOWN_INSTRUMENT
    assert denial.observed_value == 99


def test_check_when_denied_then_risk_event_record_carries_limit_and_observed() -> None:
    engine = make_engine(max_order_quantity=D("0.5"))
    denial = engine.check(intent(Side.BUY, "0.6", client_order_id=1234), T0 + 5)
    assert not denial.approved
    assert denial.reason is DenialReason.MAX_ORDER_QUANTITY
    assert denial.event is not None and denial.event.dtype == dtype_of("RiskEvent")
    row = denial.event[0]
    assert row["reason"] == RiskReason.MAX_ORDER_QUANTITY
    assert row["action"] == RiskAction.DENY_ORDER
    assert row["severity"] == Severity.WARNING
    assert row["limit_value"] == raw_qty(BTC, "0.5")
    assert row["observed_value"] == raw_qty(BTC, "0.6")
    assert row["client_order_id"] == 1234
    assert row["strategy_id"] == STRATEGY and row["instrument_id"] == BTC
    assert row["ts_event"] == T0 + 5
    assert row["detail"].startswith(b"MAX_ORDER_QUANTITY")
    drained = engine.drain_events()
    assert len(drained) == 1 and drained[0] == row
    assert len(engine.drain_events()) == 0


@pytest.mark.parametrize(("quantity", "approved"), [("0.5", True), ("0.50001", False)])
def test_check_when_quantity_vs_order_limit_then_limit_is_inclusive(
    quantity: str, approved: bool
) -> None:
    engine = make_engine(max_order_quantity=D("0.5"))
    assert engine.check(intent(Side.SELL, quantity), T0).approved is approved


@pytest.mark.parametrize(("quantity", "approved"), [("0.2", True), ("0.20001", False)])
def test_check_when_notional_vs_order_limit_then_valued_at_last_price(
    quantity: str, approved: bool
) -> None:
    engine = make_engine(max_order_notional=D(10_000))
    decision = engine.check(intent(Side.BUY, quantity), T0)
    assert decision.approved is approved
    if not approved:
        assert decision.reason is DenialReason.MAX_ORDER_NOTIONAL
        assert decision.limit_value == 10_000 * 10**8
        assert decision.observed_value == int(D(quantity) * 50_000 * 10**8)


def test_check_when_limit_order_then_notional_uses_its_limit_price() -> None:
    engine = make_engine(max_order_notional=D(10_000))
    cheap = intent(Side.BUY, "0.25", order_type=OrderType.LIMIT, price="40000")
    assert engine.check(cheap, T0).approved


def test_check_when_global_order_limit_smaller_then_global_limit_binds() -> None:
    engine = make_engine(global_limits=RiskLimits(max_order_quantity=D("0.1")))
    denial = engine.check(intent(Side.BUY, "0.2"), T0)
    assert denial.reason is DenialReason.MAX_ORDER_QUANTITY
    assert denial.detail == "global"


def test_check_when_buy_would_exceed_position_limit_then_denies_and_sell_passes() -> None:
    engine = make_engine(max_position=D(1))
    fill(engine, Side.BUY, "0.8")
    denial = engine.check(intent(Side.BUY, "0.3"), T0)
    assert denial.reason is DenialReason.MAX_POSITION
    assert denial.observed_value == raw_qty(BTC, "1.1")
    assert engine.check(intent(Side.BUY, "0.2"), T0).approved


def test_check_when_position_beyond_limit_then_reducing_order_still_passes() -> None:
    engine = make_engine(max_position=D(1), max_gross_exposure=D(60_000))
    fill(engine, Side.BUY, "3")  # e.g. limits lowered after the fact
    assert engine.check(intent(Side.SELL, "1"), T0).approved
    assert engine.check(intent(Side.BUY, "0.001"), T0).reason is DenialReason.MAX_POSITION


def test_check_when_pending_orders_then_position_limit_counts_them() -> None:
    engine = make_engine(max_position=D(1))
    assert engine.check(intent(Side.BUY, "0.6"), T0).approved
    assert engine.check(intent(Side.BUY, "0.6"), T0).reason is DenialReason.MAX_POSITION
    engine.order_closed(STRATEGY, BTC, Side.BUY, raw_qty(BTC, "0.6"))
    assert engine.check(intent(Side.BUY, "0.6"), T0).approved


def test_check_when_other_strategies_hold_the_instrument_then_global_position_limit_binds() -> None:
    engine = make_engine(global_limits=RiskLimits(max_position=D(1)))
    fill(engine, Side.BUY, "0.8", strategy_id=OTHER)
    denial = engine.check(intent(Side.BUY, "0.3"), T0)
    assert (denial.reason, denial.detail) == (DenialReason.MAX_POSITION, "global")
    assert engine.check(intent(Side.SELL, "0.3"), T0).approved  # opens short, net 0.5


@pytest.mark.parametrize(("quantity", "approved"), [("0.2", True), ("0.21", False)])
def test_check_when_gross_exposure_limit_then_existing_positions_count_at_last_price(
    quantity: str, approved: bool
) -> None:
    engine = make_engine(max_gross_exposure=D(60_000))
    fill(engine, Side.BUY, "1")  # 50 000 at the last price
    decision = engine.check(intent(Side.BUY, quantity), T0)
    assert decision.approved is approved
    if not approved:
        assert decision.reason is DenialReason.MAX_EXPOSURE


def test_check_when_leverage_limit_then_gross_after_order_over_equity_binds() -> None:
    engine = make_engine(max_leverage=D(2))
    engine.update_account(account(equity="10000"), T0)
    denial = engine.check(intent(Side.BUY, "0.5"), T0)  # 25 000 / 10 000
    assert denial.reason is DenialReason.MAX_LEVERAGE
    assert (denial.limit_value, denial.observed_value) == (2 * 10**8, 25 * 10**7)
    assert engine.check(intent(Side.BUY, "0.4"), T0).approved


def test_check_when_leverage_limit_and_no_equity_known_then_denies_no_equity() -> None:
    engine = make_engine(max_leverage=D(2))
    assert engine.check(intent(Side.BUY, "0.01"), T0).reason is DenialReason.NO_EQUITY


def test_check_when_rate_exceeded_then_denies_until_the_window_slides() -> None:
    engine = make_engine(max_orders_per_window=2, rate_window_ns=SECOND)
    assert engine.check(intent(Side.BUY, "0.01"), T0).approved
    assert engine.check(intent(Side.BUY, "0.01"), T0 + 1).approved
    denial = engine.check(intent(Side.BUY, "0.01"), T0 + 2)
    assert denial.reason is DenialReason.ORDER_RATE
    assert (denial.limit_value, denial.observed_value) == (2, 3)
    assert engine.check(intent(Side.BUY, "0.01"), T0 + SECOND).approved


def test_check_when_rate_limited_then_denied_orders_do_not_use_the_budget() -> None:
    engine = make_engine(max_orders_per_window=1, rate_window_ns=SECOND, max_order_quantity=D(1))
    assert not engine.check(intent(Side.BUY, "2"), T0).approved
    assert engine.check(intent(Side.BUY, "0.1"), T0).approved


@pytest.mark.parametrize(
    ("price", "approved"),
    [("52500", True), ("52500.01", False), ("47500", True), ("47499.99", False)],
)
def test_check_when_limit_price_vs_band_then_band_is_inclusive(price: str, approved: bool) -> None:
    engine = make_engine(price_band=D("0.05"))
    order = intent(Side.BUY, "0.01", order_type=OrderType.LIMIT, price=price)
    decision = engine.check(order, T0)
    assert decision.approved is approved
    if not approved:
        assert decision.reason is DenialReason.PRICE_BAND


def test_check_when_market_order_then_price_band_does_not_apply() -> None:
    engine = make_engine(price_band=D("0.01"))
    assert engine.check(intent(Side.BUY, "0.01"), T0).approved


def test_check_when_band_set_and_no_last_price_then_denies_no_reference_price() -> None:
    engine = make_engine(price_band=D("0.05"))
    order = intent(Side.BUY, "1", instrument_id=NO_PRICE, order_type=OrderType.LIMIT, price="10")
    assert engine.check(order, T0).reason is DenialReason.NO_REFERENCE_PRICE


def test_check_when_market_order_cannot_be_valued_then_denies_no_reference_price() -> None:
    engine = make_engine(max_order_notional=D(1000))
    assert engine.check(intent(Side.BUY, "1", instrument_id=NO_PRICE), T0).reason is (
        DenialReason.NO_REFERENCE_PRICE
    )


def test_check_when_instrument_not_permitted_then_denies_and_permitted_passes() -> None:
    engine = make_engine(permitted_instruments=frozenset({BTC}))
    assert engine.check(intent(Side.BUY, "0.1"), T0).approved
    denial = engine.check(intent(Side.BUY, "1", instrument_id=INFY), T0)
    assert denial.reason is DenialReason.INSTRUMENT_NOT_PERMITTED


def test_check_when_venue_not_permitted_then_denies_and_permitted_passes() -> None:
    engine = make_engine(permitted_venues=frozenset({Venue.NSE}))
    assert engine.check(intent(Side.BUY, "1", instrument_id=INFY), T0).approved
    denial = engine.check(intent(Side.BUY, "0.1"), T0)
    assert denial.reason is DenialReason.VENUE_NOT_PERMITTED
    assert denial.observed_value == Venue.BINANCE


def test_check_when_permissions_per_strategy_then_other_strategy_unaffected() -> None:
    engine = make_engine(strategies={OTHER: RiskLimits(permitted_instruments=frozenset())})
    assert engine.check(intent(Side.BUY, "0.1"), T0).approved
    assert not engine.check(intent(Side.BUY, "0.1", strategy_id=OTHER), T0).approved


@pytest.mark.parametrize(
    ("price", "trigger", "approved"),
    [
        ("1500.05", None, True),
        ("1500.03", None, False),
        (None, "1499.95", True),
        (None, "1499.99", False),
    ],
)
def test_check_when_price_off_tick_then_denies_tick_size(
    price: str | None, trigger: str | None, approved: bool
) -> None:
    engine = make_engine()
    order_type = OrderType.LIMIT if price else OrderType.STOP_MARKET
    order = intent(
        Side.SELL, "1", instrument_id=INFY, order_type=order_type, price=price, trigger=trigger
    )
    decision = engine.check(order, T0)
    assert decision.approved is approved
    if not approved:
        assert decision.reason is DenialReason.TICK_SIZE
        assert decision.limit_value == 5


@pytest.mark.parametrize(("quantity", "approved"), [("150", True), ("100", False)])
def test_check_when_quantity_off_lot_then_denies_lot_size(quantity: str, approved: bool) -> None:
    engine = make_engine()
    decision = engine.check(intent(Side.BUY, quantity, instrument_id=NIFTY_FUT), T0)
    assert decision.approved is approved
    if not approved:
        assert (decision.reason, decision.limit_value) == (DenialReason.LOT_SIZE, 75)


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        ("0.0001", None),
        ("0.00009", DenialReason.MIN_QUANTITY),
        ("100", None),
        ("100.00001", DenialReason.MAX_QUANTITY),
    ],
)
def test_check_when_quantity_vs_venue_min_max_then_bounds_are_inclusive(
    quantity: str, reason: DenialReason | None
) -> None:
    engine = make_engine()
    assert engine.check(intent(Side.BUY, quantity), T0).reason is reason


@pytest.mark.parametrize(("price", "approved"), [("50000", True), ("49999.99", False)])
def test_check_when_value_below_venue_min_notional_then_denies(price: str, approved: bool) -> None:
    engine = make_engine()
    order = intent(Side.BUY, "0.0001", order_type=OrderType.LIMIT, price=price)  # 5 USDT
    decision = engine.check(order, T0)
    assert decision.approved is approved
    if not approved:
        assert decision.reason is DenialReason.MIN_NOTIONAL
        assert decision.limit_value == 5 * 10**8


def test_check_when_reduce_only_would_open_then_denies_and_reducing_passes() -> None:
    engine = make_engine()
    fill(engine, Side.BUY, "0.5")
    assert engine.check(intent(Side.SELL, "0.5", reduce_only=True), T0).approved
    # The first 0.5 is pending: another reduce-only sell could flip the position.
    denial = engine.check(intent(Side.SELL, "0.1", reduce_only=True), T0)
    assert denial.reason is DenialReason.REDUCE_ONLY_INCREASES
    assert engine.check(intent(Side.BUY, "0.1", reduce_only=True), T0).reason is (
        DenialReason.REDUCE_ONLY_INCREASES
    )


def test_check_when_price_older_than_allowed_then_denies_until_a_fresh_price() -> None:
    engine = make_engine(breakers=BreakerConfig(stale_after_ns=5 * SECOND))
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 5 * SECOND).approved
    denial = engine.check(intent(Side.BUY, "0.1"), T0 + 5 * SECOND + 1)
    assert denial.reason is DenialReason.STALE_MARKET_DATA
    assert denial.observed_value == 5 * SECOND + 1
    engine.update_price(BTC, raw_price(BTC, "50100"), T0 + 6 * SECOND)
    assert engine.check(intent(Side.BUY, "0.1"), T0 + 6 * SECOND).approved


def test_check_when_stale_limit_set_and_never_priced_then_denies_no_reference_price() -> None:
    engine = make_engine(breakers=BreakerConfig(stale_after_ns=SECOND))
    denial = engine.check(intent(Side.BUY, "1", instrument_id=NO_PRICE), T0)
    assert denial.reason is DenialReason.NO_REFERENCE_PRICE


def test_check_when_stale_on_one_instrument_then_others_still_trade() -> None:
    engine = make_engine(breakers=BreakerConfig(stale_after_ns=5 * SECOND))
    engine.update_price(INFY, raw_price(INFY, "1500"), T0 + 10 * SECOND)
    assert engine.check(intent(Side.BUY, "1", instrument_id=INFY), T0 + 10 * SECOND).approved
    assert not engine.check(intent(Side.BUY, "0.1"), T0 + 10 * SECOND).approved


def test_record_reason_when_mapped_then_every_denial_has_a_record_reason_keeping_shared_codes() -> (
    None
):
    assert set(RECORD_REASON) == set(DenialReason)
    for reason, record_reason in RECORD_REASON.items():
        if reason.name == record_reason.name:
            assert reason.value == record_reason.value
