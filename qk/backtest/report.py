"""Write a backtest's output directory: trades.csv, orders.csv, equity.csv, summary.json and a
self-contained report.html (inline SVG, no scripts, no external files)."""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from qk.backtest.engine import BacktestResult
from qk.backtest.metrics import ORDER_COLUMNS, FillRow, fill_rows, order_row, plain, summarize
from qk.schemas.fixed import from_raw

__all__ = ["write_outputs"]

FILL_COLUMNS: Final = (
    "ts_ns", "client_order_id", "trade_id", "side", "price", "quantity", "fee", "fee_currency",
    "liquidity", "decision_price", "slippage", "slippage_bps",
)  # fmt: skip
EQUITY_COLUMNS: Final = (
    "ts_ns", "equity", "cash", "realized_pnl", "unrealized_pnl", "fees", "drawdown",
    "gross_exposure", "exposure", "net_quantity",
)  # fmt: skip


def write_outputs(result: BacktestResult, out_dir: Path) -> dict[str, Any]:
    """Write every output file into ``out_dir`` (created if missing).

    Returns:
        The summary (also written as summary.json).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    fills = fill_rows(result)
    summary = summarize(result, fills)
    _write_csv(out_dir / "trades.csv", FILL_COLUMNS, [_fill_cells(f) for f in fills])
    by_id = {i.instrument_id: i for i in result.deployment.instruments}
    orders = []
    for order in result.orders:
        instrument = by_id[order.instrument_id]
        decision = from_raw(result.decision_prices[order.client_order_id.value],
                            instrument.price_precision)  # fmt: skip
        orders.append(order_row(order, decision, instrument))
    _write_csv(out_dir / "orders.csv", ORDER_COLUMNS, orders)
    _write_csv(
        out_dir / "equity.csv",
        EQUITY_COLUMNS,
        [
            [
                str(p.ts_ns),
                plain(p.account.equity),
                plain(p.account.cash),
                plain(p.account.realized_pnl),
                plain(p.account.unrealized_pnl),
                plain(p.account.fees),
                plain(-p.account.drawdown_fraction),
                plain(p.account.gross_exposure),
                plain(p.account.leverage or Decimal(0)),
                plain(p.net_quantity),
            ]
            for p in result.equity
        ],
    )
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    (out_dir / "report.html").write_text(_html(result, summary), encoding="utf-8")
    return summary


def _fill_cells(f: FillRow) -> list[str]:
    return [
        str(f.ts_ns), str(f.client_order_id), str(f.trade_id), f.side.name, plain(f.price),
        plain(f.quantity), plain(f.fee), f.fee_currency, f.liquidity, plain(f.decision_price),
        plain(f.slippage), plain(f.slippage_bps),
    ]  # fmt: skip


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _svg(title: str, times: Sequence[int], values: Sequence[float], colour: str) -> str:
    """A line chart as inline SVG (fixed size; axes labelled with the value range)."""
    width, height, pad = 800, 220, 40
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    t0, t1 = times[0], times[-1]
    lo, hi = min(values), max(values)
    span_t = (t1 - t0) or 1
    span_v = (hi - lo) or 1.0
    points = " ".join(
        f"{pad + (t - t0) / span_t * (width - 2 * pad):.1f},"
        f"{height - pad - (v - lo) / span_v * (height - 2 * pad):.1f}"
        for t, v in zip(times, values, strict=True)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>'
        f'<text x="{pad}" y="20" font-size="14">{html.escape(title)}</text>'
        f'<text x="4" y="{pad}" font-size="10">{hi:.6g}</text>'
        f'<text x="4" y="{height - pad}" font-size="10">{lo:.6g}</text>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'
        "</svg>"
    )


def _html(result: BacktestResult, summary: dict[str, Any]) -> str:
    times = [p.ts_ns for p in result.equity]
    equity = [float(p.account.equity) for p in result.equity]
    drawdown = [-float(p.account.drawdown_fraction) for p in result.equity]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in summary.items()
    )
    name = html.escape(str(result.deployment.path))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Backtest {name}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>"
        f"<h1>Backtest of {html.escape(result.deployment.strategy_reference)}</h1>"
        f"<p>Descriptor: {name}</p>"
        + _svg(f"Equity ({result.deployment.currency})", times, equity, "#1f5fbf")
        + "<br>"
        + _svg("Drawdown (fraction of peak)", times, drawdown, "#bf1f1f")
        + f"<h2>Summary</h2><table>{rows}</table></body></html>\n"
    )
