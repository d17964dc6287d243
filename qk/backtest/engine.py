"""The in-process deterministic backtest: one deployment, one trade tape, market time.

Each trade goes to the :class:`~qk.oms.OrderManager` first (timers, matching, fills, marks,
``on_tick``), then to the instrument's :class:`~qk.bars.BarAggregator`; each bar the aggregator
publishes reaches the strategy's ``on_bar`` with the manager's "no hook inside a hook" rule kept
(see :func:`_deliver_bar`). Nothing reads the wall clock and nothing is random, so two runs on
the same inputs give identical results. See ``docs/backtest.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.backtest.errors import BacktestError, BacktestErrorReason
from qk.bars import BarAggregator, FeedConfig
from qk.execution import SimulatedExchange
from qk.fees import FeeError, FeeInput, FeeModel, UnknownFeeModelError, default_fee_models
from qk.instruments import Instrument, InstrumentMaster
from qk.oms import EngineContext, OrderManager, net_position_of
from qk.orders import Order
from qk.portfolio import AccountState, Portfolio
from qk.risk import RiskConfig, RiskEngine
from qk.schemas import dtype_of
from qk.schemas.enums import Side
from qk.schemas.fixed import from_raw
from qk.strategy import Deployment, ParamError, Strategy, parse_params

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
) -> BacktestResult:
    """Run the deployment's strategy over a trade tape.

    Args:
        deployment: A loaded descriptor (``qk.strategy.load_descriptor``).
        trades: TradeEvent records of the deployment's instruments, in event-time order.
        params: Parameter overrides (name to value; strings are converted as on the CLI).
        feed: Bar time rules (default: bars published once, final, as soon as a later trade
            closes them).

    Returns:
        The orders, decision prices and equity curve.

    Raises:
        BacktestError: BAD_PARAMS, NO_DATA, WRONG_RECORDS (also a price or quantity <= 0),
            UNSORTED_DATA, UNKNOWN_FEE_MODEL, FEE_MODEL_NOT_APPLICABLE.
        ValueError: The strategy's own refusal at start (e.g. momentum's fast >= slow).
    """
    strategy_params = override_params(deployment, params or {})
    _check_trades(deployment, trades)
    instruments = {i.instrument_id: i for i in deployment.instruments}
    master = InstrumentMaster.from_instruments(deployment.instruments, name="backtest")
    sid = deployment.strategy_id
    portfolio = Portfolio(master)
    portfolio.deposit(deployment.currency, deployment.capital, strategy_id=sid)
    fee_models = _fee_models(deployment)
    exchange = SimulatedExchange(
        deployment.instruments, fee_models=fee_models, position=net_position_of(portfolio)
    )
    risk = RiskEngine(RiskConfig(strategies={sid: deployment.risk_limits}), master)
    first_ts = int(trades["ts_event"][0])
    manager = OrderManager(
        exchange, risk, portfolio, master, currency=deployment.currency, start_ns=first_ts
    )
    strategy_class = deployment.strategy_class

    def build(context: EngineContext) -> Strategy:
        return strategy_class(context, strategy_params)

    strategy = manager.add_strategy(sid, instruments, build)
    aggregators = {
        iid: BarAggregator(deployment.timeframes, feed, instrument_id=iid) for iid in instruments
    }
    on_trades = {iid: agg.on_trade for iid, agg in aggregators.items()}
    last_price: dict[int, int] = {}
    decision_prices: dict[int, int] = {}
    order_ids: list[int] = []
    equity: list[EquityPoint] = []
    bars_delivered = 0

    def note_new_orders() -> None:
        # Orders are only created inside hooks; the dict keeps creation order, so new ones are
        # at its end. The decision price is the last trade of the order's instrument.
        orders = manager.orders
        if len(orders) == len(order_ids):
            return
        for order_id in list(orders)[len(order_ids) :]:
            order_ids.append(order_id)
            decision_prices[order_id] = last_price.get(orders[order_id].instrument_id, 0)

    manager.start()
    note_new_orders()
    for record in trades:
        iid = int(record["instrument_id"])
        price = int(record["price"])
        last_price[iid] = price
        manager.process_record(record)
        note_new_orders()
        waiting = on_trades[iid](
            int(record["ts_event"]), int(record["ts_recv"]), price, int(record["quantity"]),
            int(record["venue_trade_id"]),
        )  # fmt: skip
        if waiting:
            bars_delivered += _deliver_bars(manager, strategy, aggregators[iid].take_bars())
            note_new_orders()
            equity.append(_point(manager, portfolio, sid, int(record["ts_event"])))
    last_ts = int(trades["ts_event"][-1])
    for agg in aggregators.values():
        # End of tape: the last, partial bars close at market time; orders they cause can no
        # longer fill (there is no later trade), which is the honest outcome.
        bars_delivered += _deliver_bars(manager, strategy, agg.finish())
    note_new_orders()
    manager.stop()
    note_new_orders()
    equity.append(_point(manager, portfolio, sid, last_ts))
    return BacktestResult(
        deployment=dataclasses.replace(deployment, params=strategy_params),
        params=strategy_params,
        orders=tuple(manager.orders[i] for i in order_ids),
        decision_prices=decision_prices,
        equity=tuple(equity),
        final=equity[-1].account,
        trades_processed=len(trades),
        bars_delivered=bars_delivered,
        first_ts_ns=first_ts,
        last_ts_ns=last_ts,
        fee_model=fee_models[0].name if fee_models else None,
    )


def _deliver_bars(manager: OrderManager, strategy: Strategy, bars: npt.NDArray[np.void]) -> int:
    for bar in bars:
        manager.process_bar(bar)
    return len(bars)


def _point(manager: OrderManager, portfolio: Portfolio, sid: int, ts: int) -> EquityPoint:
    account = manager.account_state(sid)
    assert account is not None  # the capital was deposited in the account currency
    net = sum(
        (from_raw(p.quantity, p.instrument.size_precision) for p in portfolio.positions(sid)),
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
    unknown = sorted(set(np.unique(trades["instrument_id"]).tolist()) - known)
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
