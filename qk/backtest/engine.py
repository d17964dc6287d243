"""The in-process deterministic backtest: one deployment, one trade tape, market time.

Each trade goes to the :class:`~qk.oms.OrderManager` first (timers, matching, fills, marks,
``on_tick``), then to the instrument's :class:`~qk.bars.BarAggregator`; each bar the aggregator
publishes reaches the strategy's ``on_bar`` with the manager's "no hook inside a hook" rule kept
(see :func:`_deliver_bar`). Nothing reads the wall clock and nothing is random, so two runs on
the same inputs give identical results. See ``docs/backtest.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.backtest.errors import BacktestError, BacktestErrorReason
from qk.bars import BarAggregator, FeedConfig
from qk.bars.calendar import NS_PER_SECOND, calendar_for_venue
from qk.execution import (
    FillModel,
    FixedLatency,
    LatencyModel,
    LimitFillRule,
    SimulatedExchange,
    UniformLatency,
)
from qk.fees import FeeError, FeeInput, FeeModel, UnknownFeeModelError, default_fee_models
from qk.instruments import Instrument, InstrumentMaster
from qk.oms import EngineContext, OrderManager, net_position_of
from qk.oms.manager import JournalEntry
from qk.orders import Order
from qk.portfolio import AccountState, Portfolio
from qk.risk import RiskConfig, RiskEngine
from qk.schemas import dtype_of
from qk.schemas.enums import Side, Venue
from qk.schemas.fixed import from_raw
from qk.strategy import Deployment, Models, ParamError, Strategy, parse_params

__all__ = ["BacktestResult", "EquityPoint", "run_backtest"]

_R = BacktestErrorReason


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The strategy's account after the bars published at one instant (or at the end).

    Attributes:
        ts_ns: Market time, ns since epoch UTC.
        account: Exact totals in the account currency.
        net_quantity: Net position of every instrument together, instrument units.
    """

    ts_ns: int
    account: AccountState
    net_quantity: Decimal


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything a backtest produced.

    Attributes:
        deployment: The deployment run (its params are the overridden ones).
        params: The strategy's Params instance used.
        orders: Every order, in creation order.
        decision_prices: Raw last trade price of the order's instrument when each order was
            created, by client order id value (the price the strategy decided on).
        equity: One point per instant bars were published, then one at the end.
        final: The strategy's account at the end.
        trades_processed: Trades fed.
        bars_delivered: Bars delivered to ``on_bar``.
        first_ts_ns: First trade time.
        last_ts_ns: Last trade time.
        fee_model: Name of the fee model applied, or None (no fees).
        journal: What the order manager decided and booked, in order (timers fired, order
            events, risk events; ``OrderManager.journal``): equal across equal runs.
    """

    deployment: Deployment
    params: Any
    orders: tuple[Order, ...]
    decision_prices: Mapping[int, int]
    equity: tuple[EquityPoint, ...]
    final: AccountState
    trades_processed: int
    bars_delivered: int
    first_ts_ns: int
    last_ts_ns: int
    fee_model: str | None
    journal: tuple[JournalEntry, ...] = ()


def override_params(deployment: Deployment, overrides: Mapping[str, object]) -> Any:
    """The deployment's params with ``overrides`` (strings are converted) applied.

    Raises:
        BacktestError: BAD_PARAMS, with the strategy's own message.
    """
    if not overrides:
        return deployment.params
    values: dict[str, object] = {
        f.name: getattr(deployment.params, f.name) for f in dataclasses.fields(deployment.params)
    }
    values.update(overrides)
    try:
        return parse_params(deployment.strategy_class, values)
    except ParamError as exc:
        raise BacktestError(_R.BAD_PARAMS, f"--param refused: {exc}") from exc


def run_backtest(
    deployment: Deployment,
    trades: npt.NDArray[np.void],
    *,
    params: Mapping[str, object] | None = None,
    feed: FeedConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Run the deployment's strategy over a trade tape.

    Args:
        deployment: A loaded descriptor (``qk.strategy.load_descriptor``).
        trades: TradeEvent records of the deployment's instruments, in event-time order.
        params: Parameter overrides (name to value; strings are converted as on the CLI).
        feed: Bar time rules (default: bars published once, final, as soon as a later trade
            closes them).
        progress: Called with the number of trades processed so far, once per published bar
            instant and at the end (a progress bar; it must not touch the run).

    Returns:
        The orders, decision prices and equity curve.

    Raises:
        BacktestError: BAD_PARAMS, NO_DATA, WRONG_RECORDS (also a price or quantity <= 0),
            UNSORTED_DATA, UNKNOWN_FEE_MODEL, FEE_MODEL_NOT_APPLICABLE.
        ValueError: The strategy's own refusal at start (e.g. momentum's fast >= slow).
    """
    wiring = _wire(deployment, trades, params, feed)
    manager, sid = wiring.manager, wiring.strategy_id
    equity: list[EquityPoint] = []
    bars_delivered = 0
    report = progress or (lambda _: None)
    manager.start()
    done = 0
    # Bars depend on the trades alone, so every aggregator runs over the whole tape first and
    # says after which trade each bar is published; the manager then takes the trades up to
    # that one and the bars are delivered exactly where a live feed would deliver them. A new
    # trading day starts before the first trade at or after its session open.
    for position, bars, session_ns in _schedule(wiring, trades):
        manager.process_trades(trades, done, position)
        done = position
        if bars is None:
            manager.start_session(session_ns)
            continue
        for bar in bars:
            manager.process_bar(bar)
        bars_delivered += len(bars)
        equity.append(_point(manager, sid, int(trades["ts_event"][position - 1])))
        report(done)
    manager.process_trades(trades, done, len(trades))
    bars_delivered += _finish(wiring)
    equity.append(_point(manager, sid, int(trades["ts_event"][-1])))
    report(len(trades))
    return _result(wiring, trades, equity, bars_delivered)


@dataclass(frozen=True, slots=True)
class _Wiring:
    """One backtest's components, wired and not yet started."""

    deployment: Deployment
    params: Any
    strategy_id: int
    manager: OrderManager
    aggregators: Mapping[int, BarAggregator]
    fee_model: str | None


def _wire(
    deployment: Deployment,
    trades: npt.NDArray[np.void],
    params: Mapping[str, object] | None,
    feed: FeedConfig | None,
) -> _Wiring:
    strategy_params = override_params(deployment, params or {})
    _check_trades(deployment, trades)
    instruments = {i.instrument_id: i for i in deployment.instruments}
    master = InstrumentMaster.from_instruments(deployment.instruments, name="backtest")
    sid = deployment.strategy_id
    portfolio = Portfolio(master)
    portfolio.deposit(deployment.currency, deployment.capital, strategy_id=sid)
    fee_models = _fee_models(deployment)
    exchange = SimulatedExchange(
        deployment.instruments,
        latency=_latency_model(deployment.models),
        fill_model=FillModel(
            limit_fill=LimitFillRule[deployment.models.fill.upper()],
            slippage_ticks=deployment.models.slippage_ticks,
            slippage_bps=deployment.models.slippage_bps,
        ),
        fee_models=fee_models,
        position=net_position_of(portfolio),
    )
    risk = RiskEngine(RiskConfig(strategies={sid: deployment.risk_limits}), master)
    manager = OrderManager(
        exchange,
        risk,
        portfolio,
        master,
        currency=deployment.currency,
        start_ns=int(trades["ts_event"][0]),
    )
    strategy_class = deployment.strategy_class

    def build(context: EngineContext) -> Strategy:
        return strategy_class(context, strategy_params)

    manager.add_strategy(sid, instruments, build)
    return _Wiring(
        deployment=dataclasses.replace(deployment, params=strategy_params),
        params=strategy_params,
        strategy_id=sid,
        manager=manager,
        aggregators={
            iid: BarAggregator(deployment.timeframes, feed, instrument_id=iid)
            for iid in instruments
        },
        fee_model=fee_models[0].name if fee_models else None,
    )


def _finish(wiring: _Wiring) -> int:
    """End of tape: the last, partial bars close at market time (orders they cause can no
    longer fill: there is no later trade, which is the honest outcome); then ``on_stop``."""
    delivered = 0
    for agg in wiring.aggregators.values():
        for bar in agg.finish():
            wiring.manager.process_bar(bar)
            delivered += 1
    wiring.manager.stop()
    return delivered


def _result(
    wiring: _Wiring,
    trades: npt.NDArray[np.void],
    equity: list[EquityPoint],
    bars_delivered: int,
) -> BacktestResult:
    return BacktestResult(
        deployment=wiring.deployment,
        params=wiring.params,
        orders=tuple(wiring.manager.orders.values()),
        decision_prices=dict(wiring.manager.decision_prices),
        equity=tuple(equity),
        final=equity[-1].account,
        trades_processed=len(trades),
        bars_delivered=bars_delivered,
        first_ts_ns=int(trades["ts_event"][0]),
        last_ts_ns=int(trades["ts_event"][-1]),
        fee_model=wiring.fee_model,
        journal=tuple(wiring.manager.journal),
    )


def _schedule(
    wiring: _Wiring, trades: npt.NDArray[np.void]
) -> list[tuple[int, npt.NDArray[np.void] | None, int]]:
    """What happens between trades, in order: ``(position, bars, 0)`` delivers bars once the
    trades before ``position`` are processed; ``(position, None, ts)`` starts a trading day at
    ``ts`` before the trade at ``position``. At one position, bars (published by the trade
    before) come first."""
    events: list[tuple[int, int, npt.NDArray[np.void] | None, int]] = [
        (after + 1, 0, bars, 0) for after, bars in _bar_schedule(wiring.aggregators, trades)
    ]
    ts = trades["ts_event"]
    for start in session_starts(wiring.deployment.venue, int(ts[0]), int(ts[-1])):
        events.append((int(np.searchsorted(ts, start, "left")), 1, None, start))
    events.sort(key=lambda e: (e[0], e[1]))
    return [(position, bars, start) for position, _, bars, start in events]


def session_starts(venue: Venue, first_ns: int, last_ns: int) -> list[int]:
    """Trading-day starts after ``first_ns`` and at or before ``last_ns``: local midnight on a
    continuous (24/7) calendar, the session open on an exchange calendar (NSE 09:15 IST).
    The daily-loss limit counts from the latest one."""
    calendar = calendar_for_venue(venue)
    if calendar.continuous:
        day = 86_400 * NS_PER_SECOND
        origin = calendar.origin_ns
        first = origin + ((first_ns - origin) // day + 1) * day
        return list(range(first, last_ns + 1, day))
    starts, _ = calendar.sessions()
    return [int(t) for t in starts[(starts > first_ns) & (starts <= last_ns)]]


def _bar_schedule(
    aggregators: Mapping[int, BarAggregator], trades: npt.NDArray[np.void]
) -> list[tuple[int, npt.NDArray[np.void]]]:
    """``(index of the trade after which they are published, bars)`` in tape order."""
    parts: list[npt.NDArray[np.void]] = []
    positions: list[npt.NDArray[np.int64]] = []
    ids = trades["instrument_id"]
    single = len(aggregators) == 1
    for iid, agg in aggregators.items():
        if single:
            bars, after = agg.update_trades_indexed(trades)
        else:
            where = np.flatnonzero(ids == iid)
            bars, local = agg.update_trades_indexed(trades[where])
            after = where[local]
        parts.append(bars)
        positions.append(after)
    if not parts or not sum(len(p) for p in parts):
        return []
    bars = np.concatenate(parts)
    after = np.concatenate(positions)
    # Stable: an instrument's bars keep their publication order; two instruments never
    # publish after the same trade (only the traded instrument's aggregator sees it).
    order = np.argsort(after, kind="stable")
    bars, after = bars[order], after[order]
    starts = np.flatnonzero(np.r_[True, after[1:] != after[:-1]])
    ends = np.r_[starts[1:], len(after)]
    return [(int(after[a]), bars[a:b]) for a, b in zip(starts, ends, strict=True)]


def _latency_model(models: Models) -> LatencyModel:
    low, high = models.latency_ns
    if low == high:
        return FixedLatency(low)
    return UniformLatency(low, high, seed=models.latency_seed)


def _point(manager: OrderManager, sid: int, ts: int) -> EquityPoint:
    account = manager.account_state(sid)
    assert account is not None  # the capital was deposited in the account currency
    net = sum(
        (
            from_raw(p.quantity, p.instrument.size_precision)
            for p in manager.portfolio.positions(sid)
        ),
        Decimal(0),
    )
    return EquityPoint(ts, account, net)


def _fee_models(deployment: Deployment) -> tuple[FeeModel, ...]:
    name = deployment.models.fee
    if name is None:
        return ()
    models = default_fee_models()
    try:
        model = models[name]
    except UnknownFeeModelError:
        raise BacktestError(
            _R.UNKNOWN_FEE_MODEL,
            f"{deployment.path}: [models] fee = {name!r} is not a fee model "
            f"(known: {', '.join(sorted(models))})",
        ) from None
    for instrument in deployment.instruments:
        # Checked here, not at the first order: the exchange would refuse that order mid-run.
        probe = FeeInput(
            instrument=instrument,
            side=Side.BUY,
            price=instrument.price_to_raw(instrument.tick_size),
            quantity=instrument.quantity_to_raw(instrument.lot_size),
        )
        try:
            model.check(probe)
        except FeeError as exc:
            raise BacktestError(
                _R.FEE_MODEL_NOT_APPLICABLE,
                f"{deployment.path}: [models] fee = {name!r} cannot price {instrument.name}: {exc}",
            ) from exc
    return (model,)


def _check_trades(deployment: Deployment, trades: npt.NDArray[np.void]) -> None:
    if trades.dtype != dtype_of("TradeEvent"):
        raise BacktestError(_R.WRONG_RECORDS, f"expected TradeEvent records, got {trades.dtype}")
    if len(trades) == 0:
        raise BacktestError(_R.NO_DATA, "no trades to backtest on")
    known = {i.instrument_id for i in deployment.instruments}
    ids = trades["instrument_id"]
    lo, hi = int(ids.min()), int(ids.max())
    present = {lo} if lo == hi else set(np.unique(ids).tolist())
    unknown = sorted(present - known)
    if unknown:
        raise BacktestError(
            _R.WRONG_RECORDS,
            f"trades of instrument id(s) {unknown} which {deployment.path} does not trade "
            f"(it trades {sorted(known)})",
        )
    bad = np.flatnonzero((trades["price"] <= 0) | (trades["quantity"] <= 0))
    if len(bad):
        i = int(bad[0])
        raise BacktestError(
            _R.WRONG_RECORDS,
            f"trade {i} at {int(trades['ts_event'][i])} ns has price {int(trades['price'][i])} "
            f"and quantity {int(trades['quantity'][i])} (raw); both must be > 0",
        )
    ts = trades["ts_event"]
    backwards = np.flatnonzero(ts[1:] < ts[:-1])
    if len(backwards):
        i = int(backwards[0]) + 1
        raise BacktestError(
            _R.UNSORTED_DATA,
            f"trade {i} at {int(ts[i])} ns is before trade {i - 1} ({int(ts[i - 1])})",
        )


def instrument_of(deployment: Deployment) -> Instrument:
    """The deployment's first instrument (the one synthetic data and files are read for)."""
    return deployment.instruments[0]
