"""The vectorised fast path: many parameter sets of the momentum strategy over one tape at once.

::

    tape = prepare_tape(deployment, trades)           # bars and equity instants, once
    results = evaluate(tape, [{"fast": 5, "slow": 20}, {"fast": 8, "slow": 40}])
    results[0].metrics["sharpe"]

The bars are computed once per tape, each distinct EMA period once per timeframe, then the
numba kernel (:mod:`qk.research.kernel`) runs the parameter sets in parallel. The results equal
``qk.backtest.run_backtest`` on the same parameters: same fills (trade, price, quantity), same
exact realised PnL, fees, cash and equity, same summary metrics (``tests/research`` prove it).

What the kernel cannot reproduce is refused rather than approximated: another strategy class,
several instruments, a sampled latency, fee schedules with caps, flat or per-order parts, and
any risk limit other than max order quantity, max position, order rate and max drawdown. A
parameter set for which one of those limits *might* bind (checked conservatively per order and
per trade) gets a :data:`~ResearchErrorReason.RISK_WOULD_BIND` refusal instead of numbers.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from qk.backtest.engine import _check_trades, override_params
from qk.backtest.errors import BacktestError
from qk.bars import BarAggregator
from qk.fees import FeeModel, UnknownFeeModelError, default_fee_models
from qk.indicators import ema, to_float_array
from qk.instruments import Instrument
from qk.research import kernel as K
from qk.research.errors import ResearchError, ResearchErrorReason
from qk.research.metric_names import METRIC_NAMES
from qk.schemas.enums import BarAggregation, Side
from qk.schemas.fixed import MONEY_PRECISION
from qk.strategy import Deployment

__all__ = [
    "METRIC_NAMES",
    "KernelFill",
    "MomentumTape",
    "VectorResult",
    "evaluate",
    "evaluate_recorded",
    "prepare_tape",
    "vectorized_models",
]

_R = ResearchErrorReason
YEAR_NS: Final = 365 * 86_400 * 1_000_000_000
"""Annualisation, as ``qk.backtest.metrics`` (calendar year)."""
_DIGITS: Final = 12
_MOMENTUM_PARAMS: Final = frozenset({"fast", "slow", "quantity", "timeframe_ns"})
_SUPPORTED_LIMITS: Final = frozenset(
    {"max_order_quantity", "max_position", "max_orders_per_window", "rate_window_ns",
     "max_drawdown", "drawdown_state", "daily_loss_state"}
)  # fmt: skip
_FLAG_TEXT: Final = {
    K.FLAG_MAX_ORDER_QUANTITY: "an order above [risk] max_order_quantity",
    K.FLAG_MAX_POSITION: "a buy that could exceed [risk] max_position",
    K.FLAG_ORDER_RATE: "a buy that could exceed [risk] max_orders_per_window",
    K.FLAG_DRAWDOWN: "a drawdown within 1e-6 of [risk] max_drawdown",
    K.FLAG_SELL_PENDING: "a sell decided while another sell was still pending",
    K.FLAG_BAD_QUANTITY: "an order quantity off the lot grid or outside the instrument's limits",
    K.FLAG_CAPACITY: "more pending orders or open lots than the kernel holds",
}
_LATENCY: Final = re.compile(r"^\s*(\d+)\s*(ns|us|ms|s)?\s*$")
_UNIT_NS: Final = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_MAX_SAFE: Final = 2**62
# numba's Dispatcher type does not describe the compiled signatures.
_evaluate_many: Callable[..., None] = K.evaluate_many
_evaluate_one_recorded: Callable[..., None] = K.evaluate_one_recorded
_WIDE: Final = Context(prec=60)
"""Division precision of the portfolio's ratios, so rounding to 8 decimals happens once."""


@dataclass(frozen=True, slots=True)
class VectorModels:
    """The simulation models of a deployment, as the kernel takes them.

    Attributes:
        latency_ns: Fixed decision → exchange latency.
        slippage_ticks: Ticks against the trader on every (taker) fill.
        slippage_bps: Basis points against the trader on every fill.
        fee_model: Name of the fee model, None for no fees.
        fee_rates: Per component: (rate, charged on buys, charged on sells).
    """

    latency_ns: int = 0
    slippage_ticks: int = 0
    slippage_bps: int = 0
    fee_model: str | None = None
    fee_rates: tuple[tuple[Decimal, bool, bool], ...] = ()


def _latency_ns(text: str) -> int:
    match = _LATENCY.match(text)
    if match is None:
        raise ResearchError(
            _R.NOT_VECTORIZABLE,
            f"[models] latency = {text!r}: the vectorised path takes only a fixed latency "
            '(e.g. "0", "2ms"); a sampled range needs --engine event',
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2) or "ns"]


def _fee_rates(name: str, where: str) -> tuple[tuple[Decimal, bool, bool], ...]:
    try:
        model: FeeModel = default_fee_models()[name]
    except UnknownFeeModelError:
        raise ResearchError(_R.NOT_VECTORIZABLE, f"{where}: unknown fee model {name!r}") from None
    rates = []
    for spec in model.components:
        rate = spec.rate if spec.rate is not None else spec.taker_rate
        if (
            rate is None
            or spec.per_order_cap is not None
            or spec.flat_per_order is not None
            or spec.base
            or spec.round_to is not None
            or rate < 0
        ):
            raise ResearchError(
                _R.NOT_VECTORIZABLE,
                f"{where}: fee model {name!r} component {spec.label!r} is not a plain rate on "
                "turnover (caps, flat, per-order, rounded or based parts need --engine event)",
            )
        rates.append((rate, Side.BUY in spec.sides, Side.SELL in spec.sides))
    return tuple(rates)


def vectorized_models(deployment: Deployment) -> VectorModels:
    """Check that the kernel reproduces ``deployment`` exactly and read its models.

    Raises:
        ResearchError: NOT_VECTORIZABLE, naming the descriptor key that is not supported.
    """
    where = str(deployment.path)
    cls = deployment.strategy_class
    fields_ = {f.name for f in dataclasses.fields(deployment.params)}
    if cls.__name__ != "Momentum" or fields_ != _MOMENTUM_PARAMS:
        raise ResearchError(
            _R.NOT_VECTORIZABLE,
            f"{where}: the vectorised kernel implements strategies/momentum.py:Momentum only, "
            f"not {deployment.strategy_reference}",
        )
    if len(deployment.instruments) != 1:
        raise ResearchError(
            _R.NOT_VECTORIZABLE, f"{where}: the vectorised path trades exactly one instrument"
        )
    instrument = deployment.instruments[0]
    if instrument.multiplier != int(instrument.multiplier) or instrument.min_notional:
        raise ResearchError(
            _R.NOT_VECTORIZABLE,
            f"{where}: {instrument.name} has a fractional multiplier or a min notional",
        )
    limits = deployment.risk_limits
    for f in dataclasses.fields(limits):
        if f.name not in _SUPPORTED_LIMITS and getattr(limits, f.name) is not None:
            raise ResearchError(
                _R.NOT_VECTORIZABLE,
                f"{where}: [risk] {f.name} is not modelled by the vectorised path "
                "(use --engine event)",
            )
    models = deployment.models
    values: dict[str, Any] = {f.name: getattr(models, f.name) for f in dataclasses.fields(models)}
    known = {"fill", "fee", "latency", "latency_ns", "slippage_bps", "slippage_ticks",
             "latency_seed"}  # fmt: skip
    for name, value in values.items():
        if name not in known and value is not None:
            raise ResearchError(
                _R.NOT_VECTORIZABLE, f"{where}: [models] {name} is not modelled by the kernel"
            )
    fill = values.get("fill")
    if fill is not None and str(fill).lower() not in ("through", "touch"):
        raise ResearchError(_R.NOT_VECTORIZABLE, f"{where}: [models] fill = {fill!r} unknown")
    latency = 0
    bounds = values.get("latency_ns")
    if bounds is not None:
        low, high = (bounds, bounds) if isinstance(bounds, int) else bounds
        if low != high:
            raise ResearchError(
                _R.NOT_VECTORIZABLE,
                f"{where}: [models] latency is sampled from {low}..{high} ns; the vectorised "
                "path takes only a fixed latency (use --engine event)",
            )
        latency = int(low)
    elif values.get("latency") is not None:
        latency = _latency_ns(str(values["latency"]))
    fee = values.get("fee")
    return VectorModels(
        latency_ns=latency,
        slippage_ticks=int(values.get("slippage_ticks") or 0),
        slippage_bps=int(values.get("slippage_bps") or 0),
        fee_model=None if fee is None else str(fee),
        fee_rates=() if fee is None else _fee_rates(str(fee), where),
    )


@dataclass(slots=True)
class _Timeframe:
    bar_pub: npt.NDArray[np.int64]
    closes: npt.NDArray[np.float64]
    emas: dict[int, npt.NDArray[np.float64]] = field(default_factory=dict)


@dataclass(slots=True)
class MomentumTape:
    """A trade tape prepared for the kernel: trades as arrays, bars and equity instants.

    Attributes:
        deployment: The deployment the tape is for.
        models: Its models, as the kernel takes them.
        ts: Trade times.
        price: Trade prices, raw.
        qty: Trade quantities, raw.
        eq_idx: Trade indices at which bars were published (the equity curve's instants, the
            final point at the end of tape excluded).
        point_ts: Times of every equity point, the final one included.
    """

    deployment: Deployment
    models: VectorModels
    ts: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]
    qty: npt.NDArray[np.int64]
    eq_idx: npt.NDArray[np.int64]
    point_ts: npt.NDArray[np.int64]
    _frames: dict[int, _Timeframe]
    _bars_all: npt.NDArray[np.void]
    _bar_pub: npt.NDArray[np.int64]
    _finish_bars: npt.NDArray[np.void]

    @property
    def instrument(self) -> Instrument:
        """The traded instrument."""
        return self.deployment.instruments[0]

    def timeframe(self, timeframe_ns: int) -> _Timeframe:
        """The strategy's bars of one timeframe (empty when the deployment does not build
        that timeframe: the strategy then never trades)."""
        frame = self._frames.get(timeframe_ns)
        if frame is None:
            bars = np.concatenate((self._bars_all, self._finish_bars))
            keep = (bars["aggregation"] == int(BarAggregation.TIME)) & (
                bars["timeframe_ns"] == timeframe_ns
            )
            pub = np.concatenate(
                (self._bar_pub, np.full(len(self._finish_bars), len(self.ts), np.int64))
            )
            closes = to_float_array(bars["close"][keep], self.instrument.price_precision)
            frame = _Timeframe(pub[keep].copy(), np.ascontiguousarray(closes))
            self._frames[timeframe_ns] = frame
        return frame

    def ema(self, timeframe_ns: int, period: int) -> npt.NDArray[np.float64]:
        """EMA of the closes of one timeframe's bars (cached per period)."""
        frame = self.timeframe(timeframe_ns)
        values = frame.emas.get(period)
        if values is None:
            values = ema(frame.closes, period) if len(frame.closes) else np.zeros(0, np.float64)
            frame.emas[period] = values
        return values


def prepare_tape(deployment: Deployment, trades: npt.NDArray[np.void]) -> MomentumTape:
    """Compute what every parameter set shares: bars (same aggregator as the backtest), the
    trades each bar is published on, and the equity instants.

    Raises:
        ResearchError: NOT_VECTORIZABLE (see :func:`vectorized_models`), NUMERIC_RANGE.
        BacktestError: Bad trades, as ``run_backtest`` refuses them.
    """
    models = vectorized_models(deployment)
    _check_trades(deployment, trades)  # the same refusals as the backtest
    instrument = deployment.instruments[0]
    aggregator = BarAggregator(deployment.timeframes, None, instrument_id=instrument.instrument_id)
    # The same aggregator and rule as the backtest's bar schedule: each bar with the index of
    # the trade after which it is published.
    bars, pub = aggregator.update_trades_indexed(trades)
    pub = np.ascontiguousarray(pub, dtype=np.int64)
    finish = aggregator.finish()
    ts = np.ascontiguousarray(trades["ts_event"], dtype=np.int64)
    eq_idx = np.unique(pub)
    point_ts = np.concatenate((ts[eq_idx], ts[-1:]))
    _check_range(deployment, trades)
    return MomentumTape(
        deployment=deployment,
        models=models,
        ts=ts,
        price=np.ascontiguousarray(trades["price"], dtype=np.int64),
        qty=np.ascontiguousarray(trades["quantity"], dtype=np.int64),
        eq_idx=eq_idx.astype(np.int64),
        point_ts=point_ts.astype(np.int64),
        _frames={},
        _bars_all=bars,
        _bar_pub=pub,
        _finish_bars=finish,
    )


def _scales(instrument: Instrument) -> tuple[int, int]:
    pnl_scale = instrument.price_precision + instrument.size_precision
    return pnl_scale, max(pnl_scale, MONEY_PRECISION)


def _check_range(deployment: Deployment, trades: npt.NDArray[np.void]) -> None:
    instrument = deployment.instruments[0]
    pnl_scale, money = _scales(instrument)
    capital = int(deployment.capital.scaleb(money))
    top = int(trades["price"].max()) * int(instrument.multiplier) * 10 ** (money - pnl_scale)
    if capital >= _MAX_SAFE or top >= _MAX_SAFE // 10**8:
        raise ResearchError(
            _R.NUMERIC_RANGE,
            f"capital {deployment.capital} or prices up to {int(trades['price'].max())} (raw) "
            "are too large for the kernel's int64 money",
        )


@dataclass(frozen=True, slots=True)
class VectorResult:
    """One parameter set's outcome.

    Attributes:
        params: The strategy's Params instance used.
        metrics: :data:`METRIC_NAMES` → value (None where undefined).
        equity: Equity at each equity point (the final one last), raw at
            :attr:`money_scale` decimals.
        money_scale: Decimals of ``equity``.
        final_equity: Exact equity at the end.
        realized_pnl: Exact realised PnL.
        fees: Exact fees paid.
        cash: Exact cash at the end.
        position: Final position, raw.
        fills: Number of fills.
        orders: Number of orders sent.
    """

    params: Any
    metrics: dict[str, float | None]
    equity: npt.NDArray[np.int64]
    money_scale: int
    final_equity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    cash: Decimal
    position: int
    fills: int
    orders: int


@dataclass(frozen=True, slots=True)
class KernelFill:
    """One fill of the kernel: trade index, price and quantity raw, fee raw, side."""

    trade_index: int
    price: int
    quantity: int
    fee: int
    side: Side


def _params_of(tape: MomentumTape, overrides: Mapping[str, object]) -> tuple[Any, int]:
    try:
        params = override_params(tape.deployment, overrides)
    except BacktestError as exc:
        raise ResearchError(_R.BAD_PARAMS, str(exc)) from exc
    if params.fast >= params.slow:
        raise ResearchError(
            _R.BAD_PARAMS, f"fast ({params.fast}) must be shorter than slow ({params.slow})"
        )
    instrument = tape.instrument
    if params.quantity % instrument.lot_size != 0:
        raise ResearchError(
            _R.BAD_PARAMS,
            f"quantity {params.quantity} is not a multiple of {instrument.name}'s lot size "
            f"{instrument.lot_size}",
        )
    return params, instrument.quantity_to_raw(params.quantity)


def _config(tape: MomentumTape) -> tuple[npt.NDArray[np.int64], float, tuple[Any, ...]]:
    instrument, models, deployment = tape.instrument, tape.models, tape.deployment
    limits = deployment.risk_limits
    pnl_scale, money = _scales(instrument)
    config = np.zeros(K.C_CONFIG_SIZE, np.int64)
    config[K.C_LATENCY] = models.latency_ns
    config[K.C_TICK] = instrument.price_to_raw(instrument.tick_size)
    config[K.C_SLIP_TICKS] = models.slippage_ticks
    config[K.C_SLIP_BPS] = models.slippage_bps
    config[K.C_LOT] = instrument.quantity_to_raw(instrument.lot_size)
    config[K.C_MIN_QTY] = int(instrument.min_quantity.scaleb(instrument.size_precision))
    config[K.C_MAX_QTY] = int(instrument.max_quantity.scaleb(instrument.size_precision))
    size_unit = Decimal(1).scaleb(instrument.size_precision)
    config[K.C_MAX_ORDER_QTY] = (
        -1 if limits.max_order_quantity is None else int(limits.max_order_quantity * size_unit)
    )
    config[K.C_MAX_POSITION] = (
        -1 if limits.max_position is None else int(limits.max_position * size_unit)
    )
    if limits.max_orders_per_window is not None and limits.rate_window_ns is not None:
        config[K.C_RATE_COUNT] = limits.max_orders_per_window
        config[K.C_RATE_WINDOW] = limits.rate_window_ns
    config[K.C_MULTIPLIER] = int(instrument.multiplier)
    config[K.C_PNL_TO_MONEY] = 10 ** (money - pnl_scale)
    config[K.C_FEE_TO_MONEY] = 10 ** (money - MONEY_PRECISION)
    config[K.C_CAPITAL] = int(deployment.capital.scaleb(money))
    max_dd = -1.0 if limits.max_drawdown is None else float(limits.max_drawdown)
    nums, dens, muls, sides = [], [], [], []
    for rate, on_buy, on_sell in models.fee_rates:
        _sign, digits, exponent = rate.as_tuple()
        assert isinstance(exponent, int)
        num = int("".join(map(str, digits)) or "0")
        shift = MONEY_PRECISION - pnl_scale + exponent  # fee = turnover x num x 10^shift
        nums.append(num)
        muls.append(10**shift if shift >= 0 else 1)
        dens.append(1 if shift >= 0 else 10**-shift)
        sides.append((1 if on_buy else 0) | (2 if on_sell else 0))
    fee_arrays = tuple(np.array(v, dtype=np.int64) for v in (nums, dens, muls, sides))
    return config, max_dd, fee_arrays


def _flag_error(tape: MomentumTape, params: Any, flag: int, trade: int) -> ResearchError:
    at = (
        "after the end of the tape"
        if trade >= len(tape.ts)
        else f"at trade {trade} ({int(tape.ts[trade])} ns)"
    )
    return ResearchError(
        _R.RISK_WOULD_BIND if flag != K.FLAG_BAD_QUANTITY else _R.BAD_PARAMS,
        f"fast={params.fast} slow={params.slow} quantity={params.quantity}: "
        f"{_FLAG_TEXT.get(flag, f'flag {flag}')} {at}; the event engine "
        "(--engine event) models this, the vectorised path refuses it",
    )


def evaluate(
    tape: MomentumTape,
    param_sets: Sequence[Mapping[str, object]],
    *,
    chunk_points: int = 20_000_000,
) -> list[VectorResult | ResearchError]:
    """Evaluate many parameter sets at once.

    Args:
        tape: From :func:`prepare_tape`.
        param_sets: Parameter overrides per set (as ``--param``: strings are converted).
        chunk_points: Most equity values held at once (parameter sets run in chunks).

    Returns:
        One entry per set, in order: its result, or the ResearchError refusing it
        (BAD_PARAMS, RISK_WOULD_BIND) — one refused set does not stop the others.
    """
    out: list[VectorResult | ResearchError | None] = [None] * len(param_sets)
    parsed: list[tuple[int, Any, int]] = []
    for k, overrides in enumerate(param_sets):
        try:
            params, qty_raw = _params_of(tape, overrides)
        except ResearchError as exc:
            out[k] = exc
            continue
        parsed.append((k, params, qty_raw))
    config, max_dd, fees = _config(tape)
    points = len(tape.eq_idx) + 1
    per_chunk = max(1, chunk_points // points)
    for start in range(0, len(parsed), per_chunk):
        chunk = parsed[start : start + per_chunk]
        rows: dict[tuple[int, int], int] = {}
        table: list[npt.NDArray[np.float64]] = []
        fast_row = np.empty(len(chunk), np.int64)
        slow_row = np.empty(len(chunk), np.int64)
        for i, (_, params, _) in enumerate(chunk):
            for period, target in ((params.fast, fast_row), (params.slow, slow_row)):
                key = (params.timeframe_ns, period)
                if key not in rows:
                    rows[key] = len(table)
                    table.append(tape.ema(params.timeframe_ns, period))
                target[i] = rows[key]
        # One kernel call per timeframe: bars differ between timeframes.
        by_frame: dict[int, list[int]] = {}
        for i, (_, params, _) in enumerate(chunk):
            by_frame.setdefault(params.timeframe_ns, []).append(i)
        equity = np.zeros((len(chunk), points), np.int64)
        peak = np.zeros((len(chunk), points), np.int64)
        stats = np.zeros((len(chunk), len(K.STAT_COLUMNS)), np.int64)
        for timeframe_ns, members in by_frame.items():
            frame = tape.timeframe(timeframe_ns)
            idx = np.array(members, np.int64)
            width = len(frame.bar_pub)
            ema_table = np.full((len(table), width), np.nan)
            for key, row in rows.items():
                if key[0] == timeframe_ns:
                    ema_table[row] = table[row]
            sub_eq = np.zeros((len(idx), points), np.int64)
            sub_peak = np.zeros((len(idx), points), np.int64)
            sub_stats = np.zeros((len(idx), len(K.STAT_COLUMNS)), np.int64)
            _evaluate_many(
                tape.ts, tape.price, tape.qty, tape.eq_idx, frame.bar_pub, ema_table,
                fast_row[idx], slow_row[idx], np.array([chunk[i][2] for i in members], np.int64),
                config, max_dd, *fees, sub_eq, sub_peak, sub_stats,
            )  # fmt: skip
            equity[idx], peak[idx], stats[idx] = sub_eq, sub_peak, sub_stats
        for i, (k, params, _) in enumerate(chunk):
            flag = int(stats[i, K.S_FLAG])
            if flag != K.FLAG_NONE:
                out[k] = _flag_error(tape, params, flag, int(stats[i, K.S_FLAG_TRADE]))
            else:
                out[k] = _result(tape, params, equity[i], peak[i], stats[i])
    return [r for r in out if r is not None]


def evaluate_recorded(
    tape: MomentumTape, overrides: Mapping[str, object]
) -> tuple[VectorResult, list[KernelFill]]:
    """One parameter set with its fills (for checks against the event engine).

    Raises:
        ResearchError: BAD_PARAMS or RISK_WOULD_BIND.
    """
    params, qty_raw = _params_of(tape, overrides)
    config, max_dd, fees = _config(tape)
    points = len(tape.eq_idx) + 1
    equity = np.zeros(points, np.int64)
    peak = np.zeros(points, np.int64)
    stats = np.zeros(len(K.STAT_COLUMNS), np.int64)
    cap = 2 * len(tape.timeframe(params.timeframe_ns).bar_pub) + 8
    buffers = [np.zeros(cap, np.int64) for _ in range(4)]
    buys = np.zeros(cap, np.bool_)
    _evaluate_one_recorded(
        tape.ts, tape.price, tape.qty, tape.eq_idx, tape.timeframe(params.timeframe_ns).bar_pub,
        tape.ema(params.timeframe_ns, params.fast), tape.ema(params.timeframe_ns, params.slow),
        qty_raw, config, max_dd, *fees, equity, peak, stats, *buffers, buys,
    )  # fmt: skip
    flag = int(stats[K.S_FLAG])
    if flag != K.FLAG_NONE:
        raise _flag_error(tape, params, flag, int(stats[K.S_FLAG_TRADE]))
    count = int(stats[K.S_FILLS])
    if count > cap:
        raise ResearchError(_R.NOT_VECTORIZABLE, f"{count} fills exceed the record buffer")
    fills = [
        KernelFill(
            int(buffers[0][i]),
            int(buffers[1][i]),
            int(buffers[2][i]),
            int(buffers[3][i]),
            Side.BUY if buys[i] else Side.SELL,
        )
        for i in range(count)
    ]
    return _result(tape, params, equity, peak, stats), fills


def _sig(value: float | None) -> float | None:
    # Same text-stable rounding as summary.json (qk.backtest.metrics).
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{_DIGITS}g}") + 0.0


def _result(
    tape: MomentumTape,
    params: Any,
    equity_raw: npt.NDArray[np.int64],
    peak_raw: npt.NDArray[np.int64],
    stats: npt.NDArray[np.int64],
) -> VectorResult:
    deployment = tape.deployment
    pnl_scale, money = _scales(tape.instrument)
    capital = deployment.capital
    equity = equity_raw.astype(np.float64) / np.float64(10.0**money)
    previous = np.concatenate(([float(capital)], equity[:-1]))
    returns = equity / previous - 1.0
    spacing = np.diff(tape.point_ts)
    spacing = spacing[spacing > 0]
    periods = YEAR_NS / float(np.median(spacing)) if len(spacing) else 0.0
    sharpe: float | None = None
    sortino: float | None = None
    if len(returns) >= 2 and periods > 0:
        std = float(np.std(returns, ddof=1))
        mean = float(np.mean(returns))
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        scale = math.sqrt(periods)
        sharpe = mean / std * scale if std > 0 else None
        sortino = mean / downside * scale if downside > 0 else None
    final = Decimal(int(equity_raw[-1])).scaleb(-money)
    fees = Decimal(int(stats[K.S_FEES])).scaleb(-MONEY_PRECISION)
    realized = Decimal(int(stats[K.S_REALIZED])).scaleb(-money)
    cash = Decimal(int(stats[K.S_CASH])).scaleb(-money)
    turnover = Decimal(int(stats[K.S_TURNOVER])).scaleb(-pnl_scale)
    metrics: dict[str, float | None] = {
        "total_return": _sig(float(final / capital - 1)),
        "sharpe": _sig(sharpe),
        "sortino": _sig(sortino),
        "max_drawdown": _sig(-float(_max_drawdown(equity_raw, peak_raw, money))),
        "exposure_time": _sig(int(stats[K.S_EXPOSED]) / len(equity_raw)),
        "turnover": _sig(float(turnover / capital)),
        "realized_pnl": float(realized),
        "fees": float(fees),
        "final_equity": float(final),
        "fills": float(stats[K.S_FILLS]),
        "orders": float(stats[K.S_ORDERS]),
    }
    return VectorResult(
        params=params,
        metrics=metrics,
        equity=equity_raw.copy(),
        money_scale=money,
        final_equity=final,
        realized_pnl=realized,
        fees=fees,
        cash=cash,
        position=int(stats[K.S_POSITION]),
        fills=int(stats[K.S_FILLS]),
        orders=int(stats[K.S_ORDERS]),
    )


def _max_drawdown(
    equity_raw: npt.NDArray[np.int64], peak_raw: npt.NDArray[np.int64], money: int
) -> Decimal:
    """Largest drawdown fraction at the equity points, rounded half even to 8 decimals as the
    portfolio reports it; exact on the few candidates the float pre-selection keeps."""
    positive = peak_raw > 0
    if not np.any(positive):
        return Decimal(0)
    loss = np.maximum(peak_raw - equity_raw, 0).astype(np.float64)
    ratio = np.where(positive, loss / np.where(positive, peak_raw, 1).astype(np.float64), 0.0)
    top = float(ratio.max())
    best = Decimal(0)
    quantum = Decimal(1).scaleb(-MONEY_PRECISION)
    for i in np.flatnonzero(ratio >= top - 1e-9 * max(top, 1e-300)):
        peak = Decimal(int(peak_raw[i])).scaleb(-money)
        with localcontext(_WIDE):
            value = max(peak - Decimal(int(equity_raw[i])).scaleb(-money), Decimal(0)) / peak
        best = max(best, value.quantize(quantum, rounding=ROUND_HALF_EVEN))
    return best
