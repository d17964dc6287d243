"""Write a backtest's output directory: trades.csv, round_trips.csv, orders.csv, equity.csv,
summary.json and a self-contained report.html (inline SVG, no scripts, no external files).

The chart helpers here (:func:`line_chart`, :func:`bar_chart`, :func:`downsample_min_max`,
:func:`page`) are shared with the sweep report (``qk.research.report``). Every number in the
files is formatted with a fixed rule and nothing reads the clock, so two runs on the same inputs
write the same bytes. See ``docs/reports.md``.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np

from qk.backtest.engine import BacktestResult
from qk.backtest.metrics import (
    ORDER_COLUMNS,
    FillRow,
    OpenTrade,
    RoundTrip,
    fill_rows,
    number,
    order_row,
    plain,
    round_trips,
    summarize,
    turnover_buckets,
)
from qk.schemas.fixed import from_raw

__all__ = [
    "EQUITY_COLUMNS",
    "FILL_COLUMNS",
    "MAX_CHART_POINTS",
    "ROUND_TRIP_COLUMNS",
    "bar_chart",
    "downsample_min_max",
    "fmt",
    "line_chart",
    "page",
    "table",
    "write_outputs",
]

FILL_COLUMNS: Final = (
    "ts_ns", "client_order_id", "trade_id", "side", "price", "quantity", "fee", "fee_currency",
    "liquidity", "decision_price", "slippage", "slippage_bps", "instrument",
)  # fmt: skip
EQUITY_COLUMNS: Final = (
    "ts_ns", "equity", "cash", "realized_pnl", "unrealized_pnl", "fees", "drawdown",
    "gross_exposure", "exposure", "net_quantity",
)  # fmt: skip
ROUND_TRIP_COLUMNS: Final = (
    "status", "instrument", "direction", "entry_order_id", "exit_order_id", "entry_ts_ns",
    "exit_ts_ns", "holding_ns", "quantity", "entry_price", "exit_price", "gross_pnl", "fees",
    "pnl", "return", "slippage",
)  # fmt: skip
MAX_CHART_POINTS: Final = 2_000
"""Most points a time-series chart draws; longer series are reduced by
:func:`downsample_min_max`, which keeps every bucket's extremes."""
MAX_TABLE_TRADES: Final = 100
"""Round trips listed in report.html (all of them are in round_trips.csv)."""
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec")  # fmt: skip
_WIDTH, _HEIGHT = 800, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 30, 30


def write_outputs(result: BacktestResult, out_dir: Path) -> dict[str, Any]:
    """Write every output file into ``out_dir`` (created if missing).

    Returns:
        The summary (also written as summary.json).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    fills = fill_rows(result)
    summary = summarize(result, fills)
    multipliers = {i.name: i.multiplier for i in result.deployment.instruments}
    closed, still_open = round_trips(fills, multipliers)
    _write_csv(out_dir / "trades.csv", FILL_COLUMNS, [_fill_cells(f) for f in fills])
    _write_csv(
        out_dir / "round_trips.csv",
        ROUND_TRIP_COLUMNS,
        [_trip_cells(t) for t in closed] + [_open_cells(t) for t in still_open],
    )
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
    (out_dir / "report.html").write_text(
        _html(result, summary, fills, closed, still_open), encoding="utf-8"
    )
    return summary


def _fill_cells(f: FillRow) -> list[str]:
    return [
        str(f.ts_ns), str(f.client_order_id), str(f.trade_id), f.side.name, plain(f.price),
        plain(f.quantity), plain(f.fee), f.fee_currency, f.liquidity, plain(f.decision_price),
        plain(f.slippage), plain(f.slippage_bps), f.instrument,
    ]  # fmt: skip


def _trip_cells(t: RoundTrip) -> list[str]:
    return [
        "CLOSED", t.instrument, t.direction, str(t.entry_order_id), str(t.exit_order_id),
        str(t.entry_ts_ns), str(t.exit_ts_ns), str(t.holding_ns), plain(t.quantity),
        plain(t.entry_price), plain(t.exit_price), plain(t.gross_pnl), plain(t.fees),
        plain(t.pnl), repr(number(t.return_fraction)), plain(t.slippage),
    ]  # fmt: skip


def _open_cells(t: OpenTrade) -> list[str]:
    return [
        "OPEN", t.instrument, t.direction, str(t.entry_order_id), "", str(t.entry_ts_ns), "", "",
        plain(t.quantity), plain(t.entry_price), "", "", plain(t.fees), "", "", plain(t.slippage),
    ]  # fmt: skip


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


# -- chart helpers -------------------------------------------------------------------------------


def downsample_min_max(
    times: Sequence[int], values: Sequence[float], max_points: int = MAX_CHART_POINTS
) -> tuple[list[int], list[float]]:
    """Reduce a time series to at most ``max_points`` points, keeping its shape.

    The time range is cut into ``(max_points - 2) // 2`` equal buckets; each keeps its lowest
    and its highest point (ties: the earliest lowest and the latest highest), and the first and
    last points are always kept. The result is in time order and depends only on the input.

    Raises:
        ValueError: Lengths differ, ``max_points < 4`` or times not in order.
    """
    if len(times) != len(values):
        raise ValueError(f"downsample_min_max: {len(times)} times but {len(values)} values")
    if max_points < 4:
        raise ValueError(f"downsample_min_max: max_points must be >= 4, got {max_points}")
    if len(values) <= max_points:
        return list(times), list(values)
    t = np.asarray(times, dtype=np.int64)
    if np.any(t[1:] < t[:-1]):
        raise ValueError("downsample_min_max: times are not in non-decreasing order")
    v = np.asarray(values, dtype=np.float64)
    buckets = (max_points - 2) // 2
    span = int(t[-1] - t[0])
    if span > 0:
        ids = np.minimum(((t - t[0]) / span * buckets).astype(np.int64), buckets - 1)
    else:
        ids = np.arange(len(t), dtype=np.int64) * buckets // len(t)
    order = np.lexsort((v, ids))
    grouped = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    ends = np.concatenate((starts[1:], [len(order)])) - 1
    keep = np.unique(np.concatenate(([0, len(t) - 1], order[starts], order[ends])))
    return [int(x) for x in t[keep]], [float(x) for x in v[keep]]


def fmt(value: float | Decimal | None, digits: int = 6) -> str:
    """A number for display: ``digits`` significant digits, ``-`` for None."""
    if value is None:
        return "-"
    text = f"{float(value):.{digits}g}"
    return "0" if text in ("-0", "0") else text


def _duration(ns: int) -> str:
    seconds = ns // 1_000_000_000
    for unit, size in (("day", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


def _time_label(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _frame(title: str, low: float, high: float, left_label: str, right_label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f'<rect width="{_WIDTH}" height="{_HEIGHT}" fill="#fff" stroke="#ccc"/>'
        f'<text x="{_LEFT}" y="18" font-size="14">{html.escape(title)}</text>'
        f'<text x="4" y="{_TOP + 4}" font-size="10">{fmt(high)}</text>'
        f'<text x="4" y="{_HEIGHT - _BOTTOM}" font-size="10">{fmt(low)}</text>'
        f'<text x="{_LEFT}" y="{_HEIGHT - 8}" font-size="10">{html.escape(left_label)}</text>'
        f'<text x="{_WIDTH - _RIGHT}" y="{_HEIGHT - 8}" font-size="10" text-anchor="end">'
        f"{html.escape(right_label)}</text>"
    )


def _y(value: float, low: float, span: float) -> float:
    return _HEIGHT - _BOTTOM - (value - low) / span * (_HEIGHT - _TOP - _BOTTOM)


def _zero_line(low: float, high: float, span: float) -> str:
    if not low < 0 < high:
        return ""
    y = _y(0.0, low, span)
    return (
        f'<line x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}" stroke="#999" '
        'stroke-dasharray="4 3"/>'
    )


def line_chart(
    title: str,
    times: Sequence[int],
    values: Sequence[float],
    colour: str,
    *,
    fill_to_zero: bool = False,
) -> str:
    """A time-series chart as inline SVG, reduced to :data:`MAX_CHART_POINTS` points.

    Args:
        title: Caption (escaped).
        times: ns since epoch UTC, non-decreasing.
        values: One per time.
        colour: Stroke colour (CSS).
        fill_to_zero: Shade between the line and zero (an underwater or exposure area).
    """
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    times, values = downsample_min_max(times, values)
    low, high = min(values), max(values)
    if fill_to_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    span_v = (high - low) or 1.0
    t0 = times[0]
    span_t = (times[-1] - t0) or 1
    plot_width = _WIDTH - _LEFT - _RIGHT
    xs = [_LEFT + (t - t0) / span_t * plot_width for t in times]
    coords = " ".join(f"{x:.1f},{_y(v, low, span_v):.1f}" for x, v in zip(xs, values, strict=True))
    area = ""
    if fill_to_zero:
        zero = _y(0.0, low, span_v)
        area = (
            f'<polygon fill="{colour}" fill-opacity="0.25" stroke="none" '
            f'points="{xs[0]:.1f},{zero:.1f} {coords} {xs[-1]:.1f},{zero:.1f}"/>'
        )
    return (
        _frame(title, low, high, _time_label(times[0]), _time_label(times[-1]))
        + _zero_line(low, high, span_v)
        + area
        + f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>'
        + "</svg>"
    )


def bar_chart(
    title: str,
    values: Sequence[float],
    *,
    left_label: str,
    right_label: str,
    colours: Sequence[str] | None = None,
    low: float | None = None,
    high: float | None = None,
) -> str:
    """Equal-width vertical bars from zero as inline SVG.

    Args:
        title: Caption (escaped).
        values: Bar heights, left to right.
        left_label: Text under the first bar (escaped).
        right_label: Text under the last bar (escaped).
        colours: One CSS colour per bar (default: all blue).
        low: Bottom of the value axis (default: min(0, values)).
        high: Top of the value axis (default: max(0, values)).
    """
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    bottom = min(0.0, *values) if low is None else low
    top = max(0.0, *values) if high is None else high
    span = (top - bottom) or 1.0
    width = (_WIDTH - _LEFT - _RIGHT) / len(values)
    zero = _y(0.0, bottom, span)
    bars = []
    for i, value in enumerate(values):
        if value == 0:
            continue  # nothing to draw; keeps long, mostly idle runs small
        y = _y(value, bottom, span)
        colour = colours[i] if colours is not None else "#1f5fbf"
        bars.append(
            f'<rect x="{_LEFT + i * width:.2f}" y="{min(y, zero):.1f}" '
            f'width="{max(width - 1, 0.5):.2f}" height="{abs(zero - y):.1f}" fill="{colour}"/>'
        )
    return (
        _frame(title, bottom, top, left_label, right_label)
        + _zero_line(bottom, top, span)
        + "".join(bars)
        + "</svg>"
    )


_CSS: Final = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;margin:0.5em 0}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "svg{display:block;margin:0.5em 0}"
)


def page(title: str, body: str) -> str:
    """A complete HTML page with the reports' style sheet; ``title`` is escaped, ``body`` is
    inserted as it is."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"{body}</body></html>\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """An HTML table; headers and cells are escaped, columns from ``numeric_from`` on are
    right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{html.escape(c)}</td>'
            if i >= numeric_from
            else f"<td>{html.escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


# -- report.html ---------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _return_colour(value: float | None, scale: float) -> str:
    if value is None or value == 0 or scale <= 0:
        return "#fff"
    # Five steps of shade, so the colour depends on the rounded magnitude only.
    step = min(5, max(1, round(abs(value) / scale * 5)))
    light = 235 - step * 25
    return f"rgb({light},235,{light})" if value > 0 else f"rgb(235,{light},{light})"


def _monthly_section(summary: dict[str, Any]) -> str:
    months: list[dict[str, Any]] = summary["monthly_returns"]
    if not months:
        return "<h2>Monthly returns</h2><p>no equity points</p>"
    scale = max((abs(m["return"]) for m in months if m["return"] is not None), default=0.0)
    grid: dict[int, dict[int, float | None]] = {}
    for m in months:
        year, month = (int(x) for x in m["month"].split("-"))
        grid.setdefault(year, {})[month] = m["return"]
    yearly = {y["year"]: y["return"] for y in summary["yearly_returns"]}
    head = "".join(f"<th>{name}</th>" for name in ("Year", *_MONTHS, "Year total"))
    rows = []
    for year in sorted(grid):
        cells = []
        for month in range(1, 13):
            if month not in grid[year]:
                cells.append("<td></td>")
                continue
            value = grid[year][month]
            cells.append(
                f'<td class="n" style="background:{_return_colour(value, scale)}">'
                f"{_percent(value)}</td>"
            )
        rows.append(
            f"<tr><th>{year}</th>{''.join(cells)}"
            f'<td class="n"><b>{_percent(yearly.get(year))}</b></td></tr>'
        )
    turnover = table(
        ("Month", "Return", "Turnover", "Start equity", "End equity"),
        [
            (m["month"], _percent(m["return"]), fmt(m["turnover"]), m["start_equity"],
             m["end_equity"])
            for m in months
        ],
    )  # fmt: skip
    return (
        "<h2>Monthly returns (UTC months)</h2>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table>"
        "<details><summary>Per month: return, turnover, equity</summary>"
        f"{turnover}</details>"
    )


def _stat(key: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value  # an exact amount
    if key.endswith("_ns") and isinstance(value, int | float):
        return fmt(value / 1e9)
    if key in ("win_rate", "average_return") and isinstance(value, float):
        return _percent(value)
    return fmt(value) if isinstance(value, float) else str(value)


def _trades_section(
    summary: dict[str, Any], closed: Sequence[RoundTrip], still_open: Sequence[OpenTrade]
) -> str:
    stats: dict[str, Any] = summary["round_trips"]
    histogram = stats["pnl_histogram"]
    edges: list[float] = histogram["edges"]
    counts: list[int] = histogram["counts"]
    chart = bar_chart(
        f"Round-trip PnL histogram ({summary['currency']}; red: losing bins)",
        [float(c) for c in counts],
        left_label=fmt(edges[0]) if edges else "",
        right_label=fmt(edges[-1]) if edges else "",
        colours=["#bf1f1f" if edges[i + 1] <= 0 else "#1f8f3f" for i in range(len(counts))],
    )
    rows = [
        (key.replace("_", " ").replace(" ns", " (s)"), _stat(key, value))
        for key, value in stats.items()
        if key != "pnl_histogram"
    ]
    listed = closed[:MAX_TABLE_TRADES]
    trades = table(
        ("Exit (UTC)", "Instrument", "Direction", "Quantity", "Entry", "Exit", "Holding s", "PnL",
         "Return", "Slippage"),
        [
            (_time_label(t.exit_ts_ns), t.instrument, t.direction, plain(t.quantity),
             plain(t.entry_price), plain(t.exit_price), fmt(t.holding_ns / 1e9), plain(t.pnl),
             _percent(t.return_fraction), plain(t.slippage))
            for t in listed
        ],
        numeric_from=3,
    )  # fmt: skip
    opened = (
        table(
            ("Instrument", "Direction", "Entry order", "Entry (UTC)", "Quantity", "Entry price"),
            [
                (
                    t.instrument,
                    t.direction,
                    str(t.entry_order_id),
                    _time_label(t.entry_ts_ns),
                    plain(t.quantity),
                    plain(t.entry_price),
                )
                for t in still_open
            ],
            numeric_from=4,
        )
        if still_open
        else "<p>none</p>"
    )
    return (
        "<h2>Trade distribution (FIFO round trips)</h2>"
        + chart
        + table(("Statistic", "Value"), rows)
        + f"<h3>Round trips (first {len(listed)} of {len(closed)}; all in round_trips.csv)</h3>"
        + trades
        + "<h3>Open at the end</h3>"
        + opened
    )


def _slippage_section(summary: dict[str, Any]) -> str:
    rows = [
        (r["instrument"], str(r["fills"]), str(r["attributed_fills"]), r["quantity"],
         r["notional"], r["slippage"], r["slippage_buy"], r["slippage_sell"],
         fmt(r["slippage_bps"]), r["fees"])
        for r in summary["slippage_by_instrument"]
    ]  # fmt: skip
    return (
        "<h2>Slippage by instrument</h2>"
        f"<p>Against the decision price ({html.escape(summary['slippage_reference'])}); "
        f"positive is a cost, in {html.escape(summary['currency'])}.</p>"
        + table(
            (
                "Instrument",
                "Fills",
                "With decision price",
                "Quantity",
                "Notional",
                "Slippage",
                "Buys",
                "Sells",
                "bps",
                "Fees",
            ),
            rows,
        )
    )


_OWN_SECTIONS: Final = frozenset(
    ("slippage_by_instrument", "round_trips", "monthly_returns", "yearly_returns")
)
"""Summary keys shown in a section of their own rather than in the summary table."""
_HEADLINE: Final = (
    ("Total return", "total_return", _percent), ("Sharpe", "sharpe", fmt),
    ("Sortino", "sortino", fmt), ("Max drawdown", "max_drawdown", _percent),
    ("Exposure time", "exposure_time", _percent), ("Average exposure", "average_exposure", fmt),
    ("Max exposure", "max_exposure", fmt), ("Turnover", "turnover", fmt),
    ("Annual turnover", "annual_turnover", fmt),
)  # fmt: skip


def _html(
    result: BacktestResult,
    summary: dict[str, Any],
    fills: Sequence[FillRow],
    closed: Sequence[RoundTrip],
    still_open: Sequence[OpenTrade],
) -> str:
    times = [p.ts_ns for p in result.equity]
    equity = [float(p.account.equity) for p in result.equity]
    drawdown = [-float(p.account.drawdown_fraction) for p in result.equity]
    exposure = [float(p.account.leverage or 0) for p in result.equity]
    buckets = turnover_buckets(fills, result.deployment.capital, result.first_ts_ns,
                               result.last_ts_ns)  # fmt: skip
    headline = [(label, render(summary[key])) for label, key, render in _HEADLINE]
    headline += [
        (f"Realised PnL ({summary['currency']})", summary["realized_pnl"]),
        (f"Fees ({summary['currency']})", summary["fees"]),
        (f"Slippage ({summary['currency']})", summary["slippage_total"]),
        ("Fills", str(summary["fills"])),
        ("Round trips", str(summary["round_trips"]["count"])),
        ("Win rate", _percent(summary["round_trips"]["win_rate"])),
        ("Profit factor", fmt(summary["round_trips"]["profit_factor"])),
    ]
    scalars = [
        (key, json.dumps(value)) for key, value in summary.items() if key not in _OWN_SECTIONS
    ]
    name = str(result.deployment.path)
    body = (
        f"<h1>Backtest of {html.escape(result.deployment.strategy_reference)}</h1>"
        f"<p>Descriptor: {html.escape(name)}<br>Trades from {_time_label(result.first_ts_ns)} "
        f"to {_time_label(result.last_ts_ns)} UTC</p>"
        + table(("Metric", "Value"), headline)
        + "<h2>Equity, drawdown, exposure, turnover</h2>"
        + line_chart(f"Equity ({result.deployment.currency})", times, equity, "#1f5fbf")
        + line_chart(
            "Drawdown (fraction of peak, underwater)", times, drawdown, "#bf1f1f", fill_to_zero=True
        )
        + line_chart(
            "Exposure (gross exposure / equity)", times, exposure, "#7f3fbf", fill_to_zero=True
        )
        + bar_chart(
            f"Turnover per {_duration(buckets.width_ns)} (fill notional / capital)",
            list(buckets.turnover),
            left_label=_time_label(buckets.starts_ns[0]),
            right_label=_time_label(buckets.starts_ns[-1]),
        )
        + _monthly_section(summary)
        + _trades_section(summary, closed, still_open)
        + _slippage_section(summary)
        + "<h2>Summary</h2>"
        + table(("Key", "Value"), scalars)
    )
    return page(f"Backtest {name}", body)
