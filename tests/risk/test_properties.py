"""Properties: nothing gets past HALTED; REDUCING never increases |position|."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from qk.risk import GLOBAL, BreakerConfig, OrderIntent, RiskEngine, RiskLimits, TradingState
from qk.schemas.enums import OrderType, Side

from .conftest import BTC, INFY, OTHER, STRATEGY, T0, account, make_engine, raw_price

SIDES = st.sampled_from([Side.BUY, Side.SELL])
INSTRUMENTS = st.sampled_from([BTC, INFY])


@st.composite
def intents(draw: st.DrawFn, strategy_id: int = STRATEGY) -> OrderIntent:
    instrument_id = draw(INSTRUMENTS)
    order_type = draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT]))
    price = 0
    if order_type is OrderType.LIMIT:
        price = raw_price(instrument_id, "1500" if instrument_id == INFY else "50000")
    return OrderIntent(
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        side=draw(SIDES),
        order_type=order_type,
        quantity=draw(st.integers(1, 500_000 if instrument_id == BTC else 500)),
        price=price,
        reduce_only=draw(st.booleans()),
    )


# Every way to halt STRATEGY that does not need the operator's other commands.
HALTS = st.sampled_from(
    ["operator", "operator_global", "kill", "kill_global", "daily_loss", "breaker"]
)

# Operations interleaved with the checks; none of them may lift a halt.
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("check"), intents()),
        st.tuples(st.just("fill"), st.tuples(INSTRUMENTS, SIDES, st.integers(1, 1000))),
        st.tuples(st.just("price"), st.tuples(INSTRUMENTS, st.integers(1, 10**9))),
        st.tuples(st.just("account"), st.integers(-10_000, 10_000)),
        st.tuples(st.just("reduce_breach"), st.none()),
        st.tuples(st.just("engage_other"), st.none()),
    ),
    max_size=40,
)


def halted_engine(how: str) -> RiskEngine:
    engine = make_engine(
        max_daily_loss=Decimal(100),
        breakers=BreakerConfig(
            reject_burst_count=1, reject_burst_window_ns=1, reject_burst_cooldown_ns=10**15
        ),
        max_drawdown=Decimal("0.5"),
        drawdown_state=TradingState.REDUCING,
    )
    if how == "operator":
        engine.halt(STRATEGY, T0)
    elif how == "operator_global":
        engine.halt(GLOBAL, T0)
    elif how == "kill":
        engine.engage_kill_switch([], T0, strategy_id=STRATEGY, flatten=True)
    elif how == "kill_global":
        engine.engage_kill_switch([], T0, flatten=True)
    elif how == "daily_loss":
        engine.update_account(account(day_pnl="-101"), T0)
    else:
        engine.record_reject(STRATEGY, T0)
    return engine


@settings(max_examples=300, deadline=None)
@given(how=HALTS, operations=OPERATIONS)
def test_check_when_halted_then_no_sequence_of_intents_gets_through(
    how: str, operations: list[tuple[str, object]]
) -> None:
    engine = halted_engine(how)
    for step, (kind, arg) in enumerate(operations):
        ts = T0 + step
        if kind == "check":
            assert isinstance(arg, OrderIntent)
            assert not engine.check(arg, ts).approved
        elif kind == "fill":
            instrument_id, side, quantity = arg  # type: ignore[misc]
            engine.apply_fill(STRATEGY, instrument_id, side, quantity)
        elif kind == "price":
            instrument_id, price = arg  # type: ignore[misc]
            engine.update_price(instrument_id, price, ts)
        elif kind == "account":
            engine.update_account(account(day_pnl=str(arg)), ts)
        elif kind == "reduce_breach":
            engine.update_account(account(drawdown_fraction="0.9"), ts)
        else:
            engine.engage_kill_switch([], ts, strategy_id=OTHER)
        assert engine.state(STRATEGY, ts) is TradingState.HALTED


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(-1000, 1000),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["check", "fill", "close"]),
            SIDES,
            st.integers(1, 1500),
            st.booleans(),
            st.floats(0.0, 1.0),
        ),
        max_size=50,
    ),
    global_reducing=st.booleans(),
)
def test_check_when_reducing_then_fills_of_approved_orders_never_increase_abs_position(
    start: int,
    steps: list[tuple[str, Side, int, bool, float]],
    global_reducing: bool,
) -> None:
    engine = make_engine(global_limits=RiskLimits())
    if start:
        engine.apply_fill(STRATEGY, INFY, Side.BUY if start > 0 else Side.SELL, abs(start))
    engine.reduce(GLOBAL if global_reducing else STRATEGY, T0)
    working: list[list[object]] = []  # [side, leaves] of approved orders
    for kind, side, quantity, reduce_only, pick in steps:
        if kind == "check":
            order = OrderIntent(
                STRATEGY, INFY, side, OrderType.MARKET, quantity, reduce_only=reduce_only
            )
            if engine.check(order, T0).approved:
                working.append([side, quantity])
        elif working:
            order_state = working[int(pick * (len(working) - 1))]
            order_side, leaves = order_state
            assert isinstance(order_side, Side) and isinstance(leaves, int)
            if kind == "fill":
                filled = max(1, int(leaves * pick))
                engine.apply_fill(STRATEGY, INFY, order_side, filled)
                order_state[1] = leaves - filled
            else:
                engine.order_closed(STRATEGY, INFY, order_side, leaves)
                order_state[1] = 0
            working = [w for w in working if w[1]]
        position = engine.position(STRATEGY, INFY)
        assert abs(position) <= abs(start)
        assert position * start >= 0  # never crosses zero
