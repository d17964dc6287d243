"""Properties of the simulated exchange over arbitrary order flow and market data (Hypothesis):
fills never exceed the volume the market offered after the order arrived, never beat the market
price, stay on the tick, and two runs of the same inputs give identical events."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from qk.execution import ExecutionEvent, FillModel, LimitFillRule, UniformLatency
from qk.orders import ClientOrderIdGenerator, Order, OrderEventKind
from qk.schemas.enums import OrderType, Side, TimeInForce
from tests.execution.conftest import IID, MS, exchange, order

TICK = 5  # INFY: 0.05 at price precision 2
_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPS = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)

_submit = st.tuples(
    st.just("submit"),
    st.sampled_from(Side),
    st.sampled_from([OrderType.MARKET, OrderType.LIMIT, *_STOPS]),
    st.integers(1, 40),  # quantity
    st.integers(1_990, 2_010),  # price in ticks around 100.00
    st.integers(1_990, 2_010),  # trigger in ticks
    st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY]),
)
_trade = st.tuples(
    st.just("trade"), st.integers(0, 3), st.integers(1_980, 2_020), st.integers(1, 30)
)
_quote = st.tuples(
    st.just("quote"), st.integers(0, 3), st.integers(1_990, 2_005), st.integers(0, 30),
    st.integers(1, 25), st.integers(0, 30),
)  # fmt: skip
_cancel = st.tuples(st.just("cancel"), st.integers(0, 50))
_modify = st.tuples(st.just("modify"), st.integers(0, 50), st.integers(1_980, 2_020))
_steps = st.lists(
    st.one_of(_submit, _submit, _trade, _trade, _trade, _quote, _cancel, _modify),
    min_size=10,
    max_size=80,
)
_models = st.builds(
    FillModel,
    limit_fill=st.sampled_from(LimitFillRule),
    slippage_ticks=st.integers(0, 3),
    slippage_bps=st.integers(0, 20),
)


@dataclass
class _Market:
    """One market event fed to the exchange and the events it produced."""

    buy_price: int  # the price a buyer met: the trade, or the ask
    sell_price: int  # the price a seller met: the trade, or the bid
    buy_volume: int
    sell_volume: int
    shared: bool  # a trade: buys and sells draw on the same quantity
    events: list[ExecutionEvent]


@dataclass
class _Run:
    events: list[ExecutionEvent] = field(default_factory=list)
    orders: dict[int, Order] = field(default_factory=dict)
    markets: list[_Market] = field(default_factory=list)
    accepted_before: dict[int, int] = field(default_factory=dict)
    """Order → number of market events fully processed before its ACCEPTED."""


def _run(steps: list[tuple[object, ...]], model: FillModel, seed: int) -> _Run:
    ex = exchange(
        latency=UniformLatency(0, 2 * MS, seed=seed), fill_model=model, session_end=40 * MS
    )
    run = _Run()
    now = 0
    ids = ClientOrderIdGenerator(strategy_id=3)  # per run: both runs number orders alike
    sequence = list(run.orders.values())

    def take(events: list[ExecutionEvent], market_index: int) -> list[ExecutionEvent]:
        for event in events:
            if event.kind is OrderEventKind.ACCEPTED:
                run.accepted_before[event.client_order_id] = market_index
        run.events.extend(events)
        return events

    for step in steps:
        match step:
            case ("submit", Side() as side, OrderType() as kind, int(qty), int(px), int(trig), tif):
                assert isinstance(tif, TimeInForce)
                new = order(
                    side, kind, qty, tif=tif,
                    price=px * TICK if kind in _PRICED else 0,
                    trigger_price=trig * TICK if kind in _STOPS else 0, client_order_id=ids.next(),
                )  # fmt: skip
                run.orders[new.client_order_id.value] = new
                sequence.append(new)
                take(ex.submit_order(new, now), len(run.markets))
            case ("cancel", int(index)) if sequence:
                target = sequence[index % len(sequence)]
                take(ex.cancel_order(target.client_order_id.value, now), len(run.markets))
            case ("modify", int(index), int(px)) if sequence:
                target = sequence[index % len(sequence)]
                if target.order_type is OrderType.LIMIT:
                    events = ex.modify_order(target.client_order_id.value, now, price=px * TICK)
                    take(events, len(run.markets))
            case ("trade", int(dt), int(px), int(size)):
                now += dt * MS
                events = take(ex.process_trade(IID, now, px * TICK, size), len(run.markets))
                run.markets.append(_Market(px * TICK, px * TICK, size, size, True, events))
            case ("quote", int(dt), int(bid), int(bid_size), int(spread), int(ask_size)):
                now += dt * MS
                ask = bid + spread
                events = ex.process_quote(IID, now, bid * TICK, bid_size, ask * TICK, ask_size)
                take(events, len(run.markets))
                run.markets.append(
                    _Market(ask * TICK, bid * TICK, ask_size, bid_size, False, events)
                )
            case _:
                continue  # a cancel or modify drawn before any order exists: nothing to do
    take(ex.advance_to(now + 10 * MS), len(run.markets))
    return run


@settings(max_examples=300, deadline=None)
@given(steps=_steps, model=_models, seed=st.integers(0, 2**32))
def test_fills_when_arbitrary_flow_then_within_volume_and_never_better_than_market(
    steps: list[tuple[object, ...]], model: FillModel, seed: int
) -> None:
    run = _run(steps, model, seed)
    for market in run.markets:
        bought = sold = 0
        for event in market.events:
            fill = event.fill
            if fill is None:
                continue
            assert fill.price % TICK == 0 and fill.price > 0
            if run.orders[event.client_order_id].side is Side.BUY:
                assert fill.price >= market.buy_price  # a buyer never pays less than offered
                bought += fill.quantity
            else:
                assert fill.price <= market.sell_price
                sold += fill.quantity
        if market.shared:
            assert bought + sold <= market.buy_volume
        else:
            assert bought <= market.buy_volume and sold <= market.sell_volume
    for key, placed in run.orders.items():
        assert placed.filled_quantity <= placed.quantity
        # Every reported event is the order's own history, in order: nothing applied unreported.
        reported = [e for e in run.events if e.client_order_id == key]
        assert [e.kind for e in reported] == [e.kind for e in placed.events]
        assert [e.status for e in reported] == [e.status_after for e in placed.events]
        if placed.filled_quantity == 0:
            continue
        # Only market events after the one during which it was accepted (that one included:
        # acceptance is processed before its matching) can have filled it.
        start = run.accepted_before[key]
        side = placed.side
        offered = sum(
            m.buy_volume if side is Side.BUY else m.sell_volume for m in run.markets[start:]
        )
        assert placed.filled_quantity <= offered
        earlier = [e for m in run.markets[:start] for e in m.events]
        assert all(e.fill is None for e in earlier if e.client_order_id == key)


@settings(max_examples=100, deadline=None)
@given(steps=_steps, model=_models, seed=st.integers(0, 2**32))
def test_two_runs_when_same_inputs_and_seed_then_identical_events(
    steps: list[tuple[object, ...]], model: FillModel, seed: int
) -> None:
    first = _run(steps, model, seed)
    second = _run(steps, model, seed)
    assert [e.as_tuple() for e in first.events] == [e.as_tuple() for e in second.events]
    assert repr(first.events) == repr(second.events)
