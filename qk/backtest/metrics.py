"""Backtest metrics: fills with their slippage, and the summary numbers (``docs/backtest.md``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import numpy as np

from qk.backtest.engine import BacktestResult
from qk.instruments import Instrument
from qk.orders import Order
from qk.schemas.enums import Side
from qk.schemas.fixed import MONEY_PRECISION, from_raw

__all__ = ["ORDER_COLUMNS", "FillRow", "fill_rows", "order_row", "plain", "summarize"]

YEAR_NS: Final = 365 * 86_400 * 1_000_000_000
"""Annualisation: calendar year (crypto trades 24/7), ns."""
_BPS: Final = Decimal(10_000)
_DIGITS: Final = 12
"""Significant digits of the float metrics in summary.json (stable text across runs)."""


@dataclass(frozen=True, slots=True)
class FillRow:
    """One execution, with what it cost against the decision price.

    Attributes:
        ts_ns: Fill time.
        client_order_id: Order it filled.
        trade_id: Simulated venue trade id.
        side: Buy or sell.
        price: Fill price.
        quantity: Fill quantity.
        fee: Fee, money (negative: rebate).
        fee_currency: Fee currency, empty when no fee model.
        liquidity: MAKER / TAKER.
        decision_price: Last trade price when the order was created.
        slippage: (price - decision) x quantity x multiplier, signed so that a cost is positive.
        slippage_bps: The same per unit, in basis points of the decision price.
    """

    ts_ns: int
    client_order_id: int
    trade_id: int
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str
    decision_price: Decimal
    slippage: Decimal
    slippage_bps: Decimal


def fill_rows(result: BacktestResult) -> list[FillRow]:
    """Every fill of the run, in (time, trade id) order."""
    by_id = {i.instrument_id: i for i in result.deployment.instruments}
    rows: list[FillRow] = []
    for order in result.orders:
        instrument = by_id[order.instrument_id]
        decision = from_raw(result.decision_prices[order.client_order_id.value],
                            instrument.price_precision)  # fmt: skip
        sign = 1 if order.side == Side.BUY else -1
        for fill in order.fills:
            price = from_raw(fill.price, instrument.price_precision)
            quantity = from_raw(fill.quantity, instrument.size_precision)
            per_unit = (price - decision) * sign
            rows.append(
                FillRow(
                    ts_ns=fill.ts_event,
                    client_order_id=order.client_order_id.value,
                    trade_id=fill.trade_id,
                    side=order.side,
                    price=price,
                    quantity=quantity,
                    fee=from_raw(fill.fee, MONEY_PRECISION),
                    fee_currency=fill.fee_currency,
                    liquidity=fill.liquidity.name,
                    decision_price=decision,
                    slippage=per_unit * quantity * instrument.multiplier,
                    slippage_bps=(per_unit / decision * _BPS).quantize(Decimal("0.01"))
                    if decision
                    else Decimal(0),
                )
            )
    rows.sort(key=lambda r: (r.ts_ns, r.trade_id))
    return rows


def plain(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent, ``-0`` as ``0``), for stable CSV and JSON text."""
    text = format(value, "f")
    return "0" if text.lstrip("-").strip("0.") == "" else text


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{_DIGITS}g}") + 0.0  # + 0.0 turns -0.0 into 0.0


def summarize(result: BacktestResult, fills: list[FillRow]) -> dict[str, Any]:
    """The summary.json content (definitions in ``docs/backtest.md``)."""
    capital = result.deployment.capital
    final = result.final
    equity = np.array([float(p.account.equity) for p in result.equity], dtype=np.float64)
    previous = np.concatenate(([float(capital)], equity[:-1]))
    returns = equity / previous - 1.0
    times = np.array([p.ts_ns for p in result.equity], dtype=np.int64)
    spacing = np.diff(times)
    spacing = spacing[spacing > 0]
    periods_per_year = YEAR_NS / float(np.median(spacing)) if len(spacing) else 0.0
    sharpe: float | None = None
    sortino: float | None = None
    if len(returns) >= 2 and periods_per_year > 0:
        std = float(np.std(returns, ddof=1))
        mean = float(np.mean(returns))
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        scale = math.sqrt(periods_per_year)
        sharpe = mean / std * scale if std > 0 else None
        sortino = mean / downside * scale if downside > 0 else None
    exposed = [p for p in result.equity if p.net_quantity != 0]
    leverage = [float(p.account.leverage or 0) for p in result.equity]
    notional = sum((f.price * f.quantity for f in fills), Decimal(0))
    slippage = sum((f.slippage for f in fills), Decimal(0))
    statuses: dict[str, int] = {}
    for order in result.orders:
        statuses[order.status.name] = statuses.get(order.status.name, 0) + 1
    return {
        "strategy": result.deployment.strategy_reference,
        "strategy_id": result.deployment.strategy_id,
        "params": {k: str(v) for k, v in sorted(_params(result).items())},
        "instruments": [i.name for i in result.deployment.instruments],
        "timeframes": [s.label for s in result.deployment.timeframes],
        "currency": result.deployment.currency,
        "fee_model": result.fee_model,
        "first_trade_ns": result.first_ts_ns,
        "last_trade_ns": result.last_ts_ns,
        "trades_processed": result.trades_processed,
        "bars_delivered": result.bars_delivered,
        "initial_capital": plain(capital),
        "final_equity": plain(final.equity),
        "cash": plain(final.cash),
        "realized_pnl": plain(final.realized_pnl),
        "unrealized_pnl": plain(final.unrealized_pnl),
        "fees": plain(final.fees),
        "total_return": _num(float(final.equity / capital - 1)),
        "sharpe": _num(sharpe),
        "sortino": _num(sortino),
        "periods_per_year": _num(periods_per_year),
        "max_drawdown": _num(
            min((-float(p.account.drawdown_fraction) for p in result.equity), default=0.0)
        ),
        "exposure_time": _num(len(exposed) / len(result.equity)),
        "average_exposure": _num(float(np.mean(leverage))),
        "turnover": _num(float(notional / capital)),
        "orders": len(result.orders),
        "order_statuses": dict(sorted(statuses.items())),
        "fills": len(fills),
        "slippage_total": plain(slippage),
        "slippage_bps_weighted": _num(
            float(sum((f.slippage for f in fills), Decimal(0)) / notional * _BPS)
            if notional
            else None
        ),
        "slippage_reference": "last trade price when the order was created",
    }


def _params(result: BacktestResult) -> dict[str, Any]:
    params = result.params
    return {name: getattr(params, name) for name in params.__dataclass_fields__}


def order_row(order: Order, decision_price: Decimal, instrument: Instrument) -> list[str]:
    """One orders.csv row (columns :data:`ORDER_COLUMNS`)."""
    filled = sum((f.quantity for f in order.fills), 0)
    value = sum((f.price * f.quantity for f in order.fills), 0)
    avg = (
        ""
        if filled == 0
        else str(
            (Decimal(value) / Decimal(filled))
            .scaleb(-instrument.price_precision)
            .quantize(Decimal(1).scaleb(-instrument.price_precision - 4))
        )
    )
    return [
        str(order.ts_init),
        str(order.client_order_id.value),
        order.side.name,
        order.order_type.name,
        str(from_raw(order.quantity, instrument.size_precision)),
        str(from_raw(filled, instrument.size_precision)),
        avg,
        order.status.name,
        plain(decision_price),
    ]


ORDER_COLUMNS: Final = (
    "ts_init_ns", "client_order_id", "side", "type", "quantity", "filled_quantity", "avg_price",
    "status", "decision_price",
)  # fmt: skip
