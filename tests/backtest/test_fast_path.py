"""The backtest's fast path against the plain per-record loop it replaces.

``run_backtest`` hands the manager whole ranges of trades (``OrderManager.process_trades``) and
delivers bars from a schedule computed up front. The reference below is the obvious loop: every
trade through ``process_record``, every trade through the aggregator's ``on_trade``, bars
delivered when it says they are waiting. Both must give the same orders (every field), the same
decision prices, the same equity curve and the same journal, for strategies that trade on
ticks, bars and timers, hold positions in one or two instruments, and trip drawdown and
daily-loss limits.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.backtest import BacktestResult, run_backtest
from qk.backtest.engine import session_starts
from qk.backtest.reference import run_per_record
from qk.bars import BarSpec
from qk.marketdata.sim import SIM_BTCUSDT, random_walk_trades
from qk.orders import TERMINAL_STATUSES
from qk.orders.records import update_record
from qk.risk import TradingState
from qk.schemas.enums import OrderStatus, Side
from qk.strategy import Constraints, Deployment, Strategy, load_descriptor

ROOT = Path(__file__).resolve().parents[2]
TEN_S = 10_000_000_000
SIM_ETHUSDT = dataclasses.replace(SIM_BTCUSDT, instrument_id=2, symbol="ETHUSDT")


def assert_same(deployment: Deployment, trades: npt.NDArray[np.void]) -> BacktestResult:
    want, got = run_per_record(deployment, trades), run_backtest(deployment, trades)
    assert [update_record(o).tobytes() for o in got.orders] == [
        update_record(o).tobytes() for o in want.orders
    ]
    assert [(o.filled_quantity, o.avg_price, o.fills, o.events) for o in got.orders] == [
        (o.filled_quantity, o.avg_price, o.fills, o.events) for o in want.orders
    ]
    assert got.decision_prices == want.decision_prices
    assert got.bars_delivered == want.bars_delivered
    assert len(got.equity) == len(want.equity)
    for g, w in zip(got.equity, want.equity, strict=True):
        assert g == w
    assert got.journal == want.journal
    return got


class Chaos(Strategy):
    """Seeded random orders of every type from ticks, bars, timers and fills; reads its
    account and position as it goes (each read must see marks up to the current trade)."""

    @dataclass(frozen=True)
    class Params:
        seed: Annotated[int, Constraints(ge=0)] = 0
        tick_rate: Annotated[float, Constraints(ge=0)] = 0.0
        bar_rate: Annotated[float, Constraints(ge=0)] = 0.5
        timer_ns: Annotated[int, Constraints(ge=0)] = 0

    params: Params

    def on_start(self) -> None:
        self.rng = random.Random(self.params.seed)
        self.last: dict[int, int] = {}
        self.open: list[Any] = []
        self.seen: list[Any] = []
        if self.params.timer_ns:
            self.context.schedule_timer("t", every_ns=self.params.timer_ns)

    def on_tick(self, trade: np.void) -> None:
        iid = int(trade["instrument_id"])
        self.last[iid] = int(trade["price"])
        if self.params.tick_rate and self.rng.random() < self.params.tick_rate:
            self.seen.append((self.context.account.equity, self.context.position(iid).quantity))
            self.act(iid)

    def on_bar(self, bar: np.void) -> None:
        iid = int(bar["instrument_id"])
        self.last.setdefault(iid, int(bar["close"]))
        if self.rng.random() < self.params.bar_rate:
            self.act(iid)

    def on_signal_timer(self, name: str, ts_ns: int) -> None:
        if self.last:
            self.act(self.rng.choice(sorted(self.last)))

    def on_order_update(self, update: np.void) -> None:
        if OrderStatus(int(update["status"])) in TERMINAL_STATUSES:
            value = int(update["client_order_id"])
            self.open = [o for o in self.open if o.value != value]

    def on_fill(self, fill: np.void) -> None:
        self.seen.append(("fill", self.context.account.equity))
        if self.rng.random() < 0.2:
            self.act(int(fill["instrument_id"]))

    def act(self, iid: int) -> None:
        ctx = self.context
        inst = ctx.instrument(iid)
        qty = inst.lot_size * self.rng.choice([100, 500, 1000, 2000])
        last = self.last.get(iid)
        held = ctx.position(iid).quantity
        roll = self.rng.random()
        if last is None:
            return
        price = Decimal(last + self.rng.randint(-20, 20)) * inst.tick_size
        side = self.rng.choice([Side.BUY, Side.SELL])
        if roll < 0.3:
            ctx.submit_market(iid, side, qty)
        elif roll < 0.6:
            self.open.append(ctx.submit_limit(iid, side, qty, price))
        elif roll < 0.75:
            self.open.append(ctx.submit_stop(iid, side, qty, price))
        elif roll < 0.85 and self.open:
            ctx.cancel(self.open.pop(self.rng.randrange(len(self.open))))
        elif held:
            ctx.submit_market(iid, Side.SELL if held > 0 else Side.BUY, abs(held))


class BarChaos(Chaos):
    """Chaos without ``on_tick``: the manager may then skip quiet trades altogether."""

    on_tick = Strategy.on_tick  # type: ignore[assignment]


def deployment_of(
    strategy: type[Strategy],
    params: Any,
    *,
    instruments: tuple[Any, ...] = (SIM_BTCUSDT,),
    **limits: Any,
) -> Deployment:
    base = load_descriptor(ROOT / "configs" / "momentum_sim.toml")
    overrides: dict[str, Any] = {
        "max_order_quantity": Decimal("0.02"),
        "max_position": Decimal("0.03"),
        "max_orders_per_window": None,
        "rate_window_ns": None,
        "max_drawdown": None,
    }
    risk = dataclasses.replace(base.risk_limits, **(overrides | limits))
    return dataclasses.replace(
        base,
        strategy_class=strategy,
        params=params,
        instruments=instruments,
        timeframes=(BarSpec.time(TEN_S, "10s"),),
        risk_limits=risk,
    )


def tape(
    n: int, seed: int, *, two: bool = False, interval_ms: float = 300.0
) -> npt.NDArray[np.void]:
    first = random_walk_trades(
        SIM_BTCUSDT, n, seed=seed, mean_interval_ms=interval_ms, max_lots=3000, volatility_bps=8.0
    )
    if not two:
        return first
    second = random_walk_trades(
        SIM_ETHUSDT, n // 2, seed=seed + 1, start_price="3000", mean_interval_ms=600.0,
        max_lots=3000, volatility_bps=8.0,
    )  # fmt: skip
    merged = np.concatenate([first, second])
    return merged[np.argsort(merged["ts_event"], kind="stable")]


def test_bar_strategy_matches_per_record_loop() -> None:
    got = assert_same(deployment_of(BarChaos, Chaos.Params(seed=1)), tape(6_000, 3))
    assert sum(o.filled_quantity > 0 for o in got.orders) >= 20  # it really traded


def test_tick_strategy_with_timers_matches_per_record_loop() -> None:
    params = Chaos.Params(seed=2, tick_rate=0.02, bar_rate=0.2, timer_ns=7_000_000_000)
    got = assert_same(deployment_of(Chaos, params), tape(6_000, 4))
    assert sum(o.filled_quantity > 0 for o in got.orders) >= 20


def test_two_instruments_held_at_once_match_per_record_loop() -> None:
    params = Chaos.Params(seed=3, bar_rate=0.6, timer_ns=11_000_000_000)
    deployment = deployment_of(BarChaos, params, instruments=(SIM_BTCUSDT, SIM_ETHUSDT))
    got = assert_same(deployment, tape(5_000, 5, two=True))
    assert {o.instrument_id for o in got.orders if o.filled_quantity} == {1, 2}


def test_drawdown_breach_lands_on_the_same_trade() -> None:
    deployment = deployment_of(
        BarChaos,
        Chaos.Params(seed=4, bar_rate=0.7),
        max_drawdown=Decimal("0.0004"),
        drawdown_state=TradingState.REDUCING,
    )
    got = assert_same(deployment, tape(6_000, 6))
    denied = [o for o in got.orders if o.status.name == "DENIED"]
    assert denied  # the limit tripped and refused orders


def test_daily_loss_breach_lands_on_the_same_trade() -> None:
    deployment = deployment_of(
        Chaos, Chaos.Params(seed=5, bar_rate=0.7, tick_rate=0.01), max_daily_loss=Decimal("2")
    )
    got = assert_same(deployment, tape(5_000, 7))
    assert any(o.status.name == "DENIED" for o in got.orders)


def test_daily_loss_counts_per_utc_day_across_sessions() -> None:
    # ~3.5 days of trades: the daily-loss limit must see each UTC day start afresh.
    deployment = deployment_of(
        BarChaos,
        Chaos.Params(seed=11, bar_rate=0.05),
        max_daily_loss=Decimal("3"),
        daily_loss_state=TradingState.REDUCING,
    )
    trades = tape(3_000, 12, interval_ms=100_000.0)
    got = assert_same(deployment, trades)
    ts = trades["ts_event"]
    assert len(session_starts(deployment.venue, int(ts[0]), int(ts[-1]))) >= 3
    # The day's PnL counts from the last UTC midnight, not from the deposit.
    assert got.final.day_pnl != got.final.equity - deployment.capital


def test_momentum_matches_per_record_loop() -> None:
    base = load_descriptor(ROOT / "configs" / "momentum_sim.toml")
    params = dataclasses.replace(base.params, fast=3, slow=8, timeframe_ns=TEN_S)
    deployment = dataclasses.replace(base, params=params, timeframes=(BarSpec.time(TEN_S, "10s"),))
    got = assert_same(deployment, tape(10_000, 8))
    assert len(got.orders) >= 10


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    tick_rate=st.sampled_from([0.0, 0.005, 0.05]),
    timer_s=st.sampled_from([0, 3, 13]),
    drawdown=st.sampled_from([None, Decimal("0.0003"), Decimal("0.002")]),
    bar_rate=st.sampled_from([0.05, 0.5]),
)
def test_random_strategies_match_per_record_loop(
    seed: int, tick_rate: float, timer_s: int, drawdown: Decimal | None, bar_rate: float
) -> None:
    params = Chaos.Params(
        seed=seed, tick_rate=tick_rate, bar_rate=bar_rate, timer_ns=timer_s * 1_000_000_000
    )
    deployment = deployment_of(Chaos if tick_rate else BarChaos, params, max_drawdown=drawdown)
    assert_same(deployment, tape(2_500, seed))


@pytest.mark.parametrize("latency", ["3ms", "1ms-40ms"])
def test_latency_and_slippage_models_keep_the_paths_equal(latency: str) -> None:
    from qk.strategy.descriptor import Models

    deployment = deployment_of(Chaos, Chaos.Params(seed=9, tick_rate=0.01))
    low, high = (int(p[:-2]) * 1_000_000 for p in (latency.split("-") * 2)[:2])
    models = Models(
        fee="sim.spot", fill="touch", slippage_bps=2, latency_ns=(low, high), latency_seed=3
    )
    got = assert_same(dataclasses.replace(deployment, models=models), tape(5_000, 10))
    assert got.fee_model == "sim.spot"
    assert got.final.fees > 0
