"""The matching engine against a trade tape: takers, makers, stops, TIFs, determinism."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.venues.binance.mock.errors import BinanceApiError
from qk.venues.binance.mock.matching import Execution, MatchingEngine, Order
from qk.venues.binance.mock.rules import Market

D = Decimal


class Recorder:
    def __init__(self, market: Market = "spot") -> None:
        self.executions: list[Execution] = []
        self.engine = MatchingEngine(market, self.executions.append)
        self.next_id = 1

    def order(
        self,
        side: str,
        order_type: str,
        qty: str,
        price: str = "0",
        stop: str = "0",
        tif: str = "GTC",
    ) -> Order:
        o = Order(
            self.engine.market,
            "BTCUSDT",
            self.next_id,
            f"c{self.next_id}",
            side,
            order_type,
            tif,
            D(qty),
            D(price),
            D(stop),
            created_ms=0,
        )
        self.next_id += 1
        return o

    def kinds(self, order: Order) -> list[tuple[str, str, str]]:
        return [
            (e.exec_type, e.status, str(e.last_qty)) for e in self.executions if e.order is order
        ]


def test_market_order_without_any_trade_expires_unfilled() -> None:
    r = Recorder()
    o = r.order("BUY", "MARKET", "1")
    r.engine.submit(o, 1)
    assert r.kinds(o) == [("NEW", "NEW", "0"), ("EXPIRED", "EXPIRED", "0")]


def test_market_order_fills_at_last_trade_capped_by_its_quantity() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("0.3"), 1)
    o = r.order("BUY", "MARKET", "0.5")
    r.engine.submit(o, 2)
    assert r.kinds(o) == [
        ("NEW", "NEW", "0"),
        ("TRADE", "PARTIALLY_FILLED", "0.3"),
        ("EXPIRED", "EXPIRED", "0"),
    ]
    assert o.executed_qty == D("0.3") and o.avg_price == D("100")
    # the trade's quantity is used up: the next taker gets nothing until the next print
    o2 = r.order("SELL", "MARKET", "0.1")
    r.engine.submit(o2, 3)
    assert r.kinds(o2)[-1] == ("EXPIRED", "EXPIRED", "0")


def test_resting_limit_fills_only_when_the_tape_trades_through() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("1"), 1)
    o = r.order("BUY", "LIMIT", "1", price="99")
    r.engine.submit(o, 2)
    r.engine.on_trade(
        "BTCUSDT", D("99"), D("5"), 3
    )  # at the limit: queue position unknown, no fill
    assert o.executed_qty == 0
    r.engine.on_trade("BTCUSDT", D("98.5"), D("0.4"), 4)
    r.engine.on_trade("BTCUSDT", D("98"), D("2"), 5)
    assert r.kinds(o) == [
        ("NEW", "NEW", "0"),
        ("TRADE", "PARTIALLY_FILLED", "0.4"),
        ("TRADE", "FILLED", "0.6"),
    ]
    assert all(e.last_price == D("99") and e.maker for e in r.executions if e.exec_type == "TRADE")


def test_price_time_priority_shares_one_trade() -> None:
    r = Recorder()
    a = r.order("SELL", "LIMIT", "1", price="101")
    b = r.order("SELL", "LIMIT", "1", price="100")
    c = r.order("SELL", "LIMIT", "1", price="100")
    for o in (a, b, c):
        r.engine.submit(o, 1)
    r.engine.on_trade("BTCUSDT", D("102"), D("1.5"), 2)
    assert (b.executed_qty, c.executed_qty, a.executed_qty) == (D("1"), D("0.5"), D("0"))


def test_fok_fills_fully_or_expires_and_ioc_fills_what_it_can() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("0.5"), 1)
    fok = r.order("BUY", "LIMIT", "1", price="100", tif="FOK")
    r.engine.submit(fok, 2)
    assert r.kinds(fok) == [("NEW", "NEW", "0"), ("EXPIRED", "EXPIRED", "0")]
    ioc = r.order("BUY", "LIMIT", "1", price="100", tif="IOC")
    r.engine.submit(ioc, 3)
    assert r.kinds(ioc) == [
        ("NEW", "NEW", "0"),
        ("TRADE", "PARTIALLY_FILLED", "0.5"),
        ("EXPIRED", "EXPIRED", "0"),
    ]
    far = r.order("BUY", "LIMIT", "1", price="90", tif="IOC")
    r.engine.submit(far, 4)
    assert r.kinds(far)[-1] == ("EXPIRED", "EXPIRED", "0")


def test_crossing_gtc_limit_takes_then_rests_the_remainder() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("0.25"), 1)
    o = r.order("BUY", "LIMIT", "1", price="101")
    r.engine.submit(o, 2)
    assert o.executed_qty == D("0.25") and o.status == "PARTIALLY_FILLED"
    assert r.engine.open_orders("BTCUSDT") == [o]
    assert [e.maker for e in r.executions if e.exec_type == "TRADE"] == [False]


def test_limit_maker_that_would_take_is_rejected_without_events() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("1"), 1)
    with pytest.raises(BinanceApiError) as info:
        r.engine.submit(r.order("SELL", "LIMIT_MAKER", "1", price="99"), 2)
    assert info.value.code == -2010
    assert r.executions == []


def test_stop_loss_triggers_on_trade_price_and_takes_the_triggering_trade() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("1"), 1)
    stop = r.order("SELL", "STOP_LOSS", "1", stop="95")
    r.engine.submit(stop, 2)
    r.engine.on_trade("BTCUSDT", D("96"), D("1"), 3)
    assert stop.executed_qty == 0 and not stop.triggered
    r.engine.on_trade("BTCUSDT", D("94.5"), D("0.6"), 4)
    assert r.kinds(stop) == [
        ("NEW", "NEW", "0"),
        ("TRIGGERED", "NEW", "0"),
        ("TRADE", "PARTIALLY_FILLED", "0.6"),
        ("EXPIRED", "EXPIRED", "0"),
    ]


def test_take_profit_limit_becomes_a_resting_limit() -> None:
    r = Recorder()
    r.engine.on_trade("BTCUSDT", D("100"), D("1"), 1)
    tp = r.order("SELL", "TAKE_PROFIT_LIMIT", "1", price="106", stop="105")
    r.engine.submit(tp, 2)
    r.engine.on_trade("BTCUSDT", D("105"), D("1"), 3)  # triggers; 105 does not reach the 106 limit
    assert tp.triggered and tp.status == "NEW" and r.engine.open_orders() == [tp]
    r.engine.on_trade("BTCUSDT", D("107"), D("5"), 4)
    assert tp.status == "FILLED" and tp.avg_price == D("106")


def test_futures_stop_limit_variant_names() -> None:
    r = Recorder("futures")
    r.engine.on_trade("BTCUSDT", D("100"), D("1"), 1)
    with pytest.raises(BinanceApiError) as info:
        r.engine.submit(r.order("BUY", "STOP_MARKET", "1", stop="99"), 2)
    assert info.value.code == -2021
    gtx = r.order("BUY", "LIMIT", "1", price="100", tif="GTX")
    with pytest.raises(BinanceApiError) as info:
        r.engine.submit(gtx, 3)
    assert info.value.code == -5022


def test_cancel_of_a_closed_order_is_2011() -> None:
    r = Recorder()
    o = r.order("BUY", "LIMIT", "1", price="90")
    r.engine.submit(o, 1)
    r.engine.cancel(o, 2)
    with pytest.raises(BinanceApiError) as info:
        r.engine.cancel(o, 3)
    assert info.value.code == -2011


orders_st = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.sampled_from(["LIMIT", "MARKET"]),
        st.sampled_from(["GTC", "IOC", "FOK"]),
        st.integers(95, 105),
        st.integers(1, 20),
    ),
    max_size=12,
)
tape_st = st.lists(st.tuples(st.integers(90, 110), st.integers(1, 30)), max_size=30)


def _run(
    orders: list[tuple[str, str, str, int, int]], tape: list[tuple[int, int]]
) -> list[tuple[object, ...]]:
    r = Recorder()
    placed = []
    for i, (side, kind, tif, price, qty) in enumerate(orders):
        o = r.order(side, kind, str(qty), price=str(price) if kind == "LIMIT" else "0", tif=tif)
        r.engine.submit(o, i)
        placed.append(o)
        if i < len(tape):
            r.engine.on_trade("BTCUSDT", D(tape[i][0]), D(tape[i][1]), 100 + i)
    for j, (price, qty) in enumerate(tape[len(orders) :]):
        r.engine.on_trade("BTCUSDT", D(price), D(qty), 1000 + j)
    for o in placed:
        fills = sum(
            (e.last_qty for e in r.executions if e.order is o and e.exec_type == "TRADE"), D(0)
        )
        assert fills == o.executed_qty <= o.quantity
        if o.status == "FILLED":
            assert o.executed_qty == o.quantity
        if o.time_in_force == "FOK" or o.order_type == "MARKET":
            assert o.status in ("FILLED", "EXPIRED")
        if o.time_in_force == "FOK":
            assert o.executed_qty in (0, o.quantity)
    traded = sum((D(q) for _, q in tape), D(0))
    filled_makers = sum(
        (e.last_qty for e in r.executions if e.exec_type == "TRADE" and e.maker), D(0)
    )
    assert filled_makers <= traded
    return [
        (e.order.order_id, e.exec_type, e.status, e.last_qty, e.last_price) for e in r.executions
    ]


@settings(max_examples=80, deadline=None)
@given(orders_st, tape_st)
def test_fills_are_consistent_and_deterministic(
    orders: list[tuple[str, str, str, int, int]], tape: list[tuple[int, int]]
) -> None:
    assert _run(orders, tape) == _run(orders, tape)
