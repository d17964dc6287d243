"""The sweep report: one self-contained HTML page (inline SVG, no scripts) over a parameter
sweep's trials, with the best trials, a heat-map of the objective for every pair of numeric
parameters and the objective against each parameter.

::

    write_sweep_report(
        [{"number": 0, "params": {"fast": 5, "slow": 20}, "metrics": {"sharpe": 1.2},
          "state": "COMPLETE"}, ...],
        Path("out/sweep.html"),
        objective="sharpe",
    )

Trials are sorted by number first and every number is formatted with a fixed rule, so the same
trials give the same bytes whatever order they arrive in. See ``docs/reports.md``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from qk.backtest.report import fmt, page, table

__all__ = [
    "STATES",
    "Binning",
    "HeatMap",
    "SweepReportError",
    "Trial",
    "bin_values",
    "heat_map",
    "parse_trials",
    "write_sweep_report",
]

STATES: Final = ("COMPLETE", "PRUNED", "FAIL")
"""Trial states the report accepts (Optuna's finished states)."""
MAX_BINS: Final = 10
"""Most bins per heat-map axis; a parameter with more distinct values is binned."""
LOG_RATIO: Final = 1_000.0
"""A positive parameter whose max / min reaches this is binned (and plotted) on a log scale."""
TOP_TRIALS: Final = 10
"""Rows of the best-trials table."""

Direction = Literal["maximize", "minimize"]
Aggregate = Literal["best", "mean"]
ParamValue = int | float | str | bool


class SweepReportError(ValueError):
    """Trials or options the sweep report cannot use; the message names the trial and field."""


@dataclass(frozen=True, slots=True)
class Trial:
    """One validated trial.

    Attributes:
        number: Trial number (unique).
        params: Parameter values by name.
        metrics: Metric values by name; None when the run had no value (e.g. no Sharpe).
        state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
    """

    number: int
    params: Mapping[str, ParamValue]
    metrics: Mapping[str, float | None]
    state: str

    def value(self, objective: str) -> float | None:
        """The objective if the trial completed with a finite value of it, else None."""
        if self.state != "COMPLETE":
            return None
        value = self.metrics.get(objective)
        return value if value is not None and math.isfinite(value) else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_trials(trials: Sequence[Mapping[str, Any]]) -> list[Trial]:
    """Check trial dicts and return them as :class:`Trial`, sorted by number.

    Raises:
        SweepReportError: A trial that is not a mapping, a missing or mistyped field, a state
            outside :data:`STATES`, a non-finite parameter, a duplicate number.
    """
    parsed: list[Trial] = []
    seen: dict[int, int] = {}
    for index, trial in enumerate(trials):
        where = f"trial {index}"
        if not isinstance(trial, Mapping):
            raise SweepReportError(f"{where}: expected a mapping, got {type(trial).__name__}")
        missing = [k for k in ("number", "params", "metrics", "state") if k not in trial]
        if missing:
            raise SweepReportError(f"{where}: missing field(s) {', '.join(missing)}")
        number = trial["number"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise SweepReportError(f"{where}: number must be an int >= 0, got {number!r}")
        where = f"trial {index} (number {number})"
        if number in seen:
            raise SweepReportError(f"{where}: number {number} repeats trial {seen[number]}")
        seen[number] = index
        state = trial["state"]
        if state not in STATES:
            raise SweepReportError(
                f"{where}: state must be one of {', '.join(STATES)}, got {state!r}"
            )
        parsed.append(
            Trial(number, _params(where, trial["params"]), _metrics(where, trial["metrics"]), state)
        )
    parsed.sort(key=lambda t: t.number)
    return parsed


def _params(where: str, params: object) -> dict[str, ParamValue]:
    if not isinstance(params, Mapping):
        raise SweepReportError(f"{where}: params must be a mapping, got {type(params).__name__}")
    checked: dict[str, ParamValue] = {}
    for name, value in sorted(params.items(), key=lambda item: str(item[0])):
        if not isinstance(name, str) or not name:
            raise SweepReportError(f"{where}: parameter name {name!r} is not a non-empty string")
        if not isinstance(value, int | float | str | bool):
            raise SweepReportError(
                f"{where}: params.{name} must be a number, string or bool, got "
                f"{type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise SweepReportError(f"{where}: params.{name} is {value}, not a finite number")
        checked[name] = value
    return checked


def _metrics(where: str, metrics: object) -> dict[str, float | None]:
    if not isinstance(metrics, Mapping):
        raise SweepReportError(f"{where}: metrics must be a mapping, got {type(metrics).__name__}")
    checked: dict[str, float | None] = {}
    for name, value in sorted(metrics.items(), key=lambda item: str(item[0])):
        if not isinstance(name, str) or not name:
            raise SweepReportError(f"{where}: metric name {name!r} is not a non-empty string")
        if value is not None and not _is_number(value):
            raise SweepReportError(
                f"{where}: metrics.{name} must be a number or null, got {type(value).__name__}"
            )
        checked[name] = None if value is None else float(value)
    return checked


# -- binning and heat-maps -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Binning:
    """How one parameter's values map to heat-map rows or columns.

    Attributes:
        kind: ``values`` (one bin per distinct value), ``integer`` (runs of equally many whole
            numbers), ``linear`` or ``log`` (equal-width bins of the value or of its log10).
        labels: One label per bin, low to high.
        points: The distinct values (``values``) or the bin edges (the others,
            ``len(labels) + 1`` of them, in value units; an ``integer`` bin is
            ``[edge_i, edge_{i+1})``).
    """

    kind: Literal["values", "integer", "linear", "log"]
    labels: tuple[str, ...]
    points: tuple[float, ...]

    def index(self, value: float) -> int:
        """The bin of ``value`` (values outside the range go to the first or last bin)."""
        if self.kind == "values":
            return self.points.index(value)
        low, high = self.points[0], self.points[-1]
        count = len(self.labels)
        if self.kind == "integer":
            width = self.points[1] - self.points[0]
            return min(max(int((value - low) // width), 0), count - 1)
        if self.kind == "log":
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        position = int((value - low) / (high - low) * count)
        return min(max(position, 0), count - 1)


def bin_values(values: Sequence[float], max_bins: int = MAX_BINS) -> Binning:
    """Bins for a numeric parameter: its distinct values when there are at most ``max_bins``,
    else ``max_bins`` equal-width bins, on log10 when all values are positive and
    max / min >= :data:`LOG_RATIO`.

    Raises:
        SweepReportError: No values, or ``max_bins < 1``.
    """
    if not values or max_bins < 1:
        raise SweepReportError(f"bin_values: need values and max_bins >= 1 (got {max_bins})")
    distinct = sorted(set(values))
    if len(distinct) <= max_bins:
        return Binning("values", tuple(fmt(v) for v in distinct), tuple(distinct))
    low, high = distinct[0], distinct[-1]
    if all(float(v).is_integer() for v in distinct) and high - low < 2**53:
        # Whole numbers (periods, counts) get whole-number bins: "4-5", never "3.8-5.6".
        width = math.ceil((high - low + 1) / max_bins)
        count = math.ceil((high - low + 1) / width)
        starts = [low + i * width for i in range(count)]
        labels = tuple(
            fmt(a) if a == min(a + width - 1, high) else f"{fmt(a)}-{fmt(min(a + width - 1, high))}"
            for a in starts
        )
        return Binning("integer", labels, (*starts, low + count * width))
    if low > 0 and high / low >= LOG_RATIO:
        log_low, log_high = math.log10(low), math.log10(high)
        step = (log_high - log_low) / max_bins
        inner = [10 ** (log_low + i * step) for i in range(1, max_bins)]
        edges = (low, *inner, high)
        kind: Literal["linear", "log"] = "log"
    else:
        step = (high - low) / max_bins
        edges = (low, *(low + i * step for i in range(1, max_bins)), high)
        kind = "linear"
    labels = tuple(f"{fmt(edges[i], 3)}-{fmt(edges[i + 1], 3)}" for i in range(max_bins))
    return Binning(kind, labels, edges)


@dataclass(frozen=True, slots=True)
class HeatMap:
    """The objective over a grid of two parameters.

    Attributes:
        x: Column parameter.
        y: Row parameter.
        x_bins: Column binning.
        y_bins: Row binning.
        values: ``values[row][column]``: the aggregated objective, None for an empty cell.
        counts: Trials in each cell.
    """

    x: str
    y: str
    x_bins: Binning
    y_bins: Binning
    values: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]


def _check_options(direction: str, aggregate: str) -> None:
    if direction not in ("maximize", "minimize"):
        raise SweepReportError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    if aggregate not in ("best", "mean"):
        raise SweepReportError(f"aggregate must be 'best' or 'mean', got {aggregate!r}")


def heat_map(
    trials: Sequence[Trial],
    x: str,
    y: str,
    objective: str,
    *,
    direction: Direction = "maximize",
    aggregate: Aggregate = "best",
    max_bins: int = MAX_BINS,
) -> HeatMap:
    """Aggregate the objective of the trials that have it over the (x, y) grid.

    ``best`` keeps the maximum (``maximize``) or minimum (``minimize``) of a cell, ``mean``
    the arithmetic mean. Trials without a finite objective or without both parameters, and
    non-numeric values, are left out.

    Raises:
        SweepReportError: No trial with the objective and numeric values of both parameters,
            or a bad option.
    """
    _check_options(direction, aggregate)
    used: list[tuple[float, float, float]] = []
    for trial in trials:
        value = trial.value(objective)
        px, py = trial.params.get(x), trial.params.get(y)
        if value is None or not _is_number(px) or not _is_number(py):
            continue
        assert isinstance(px, int | float) and isinstance(py, int | float)
        used.append((float(px), float(py), value))
    if not used:
        raise SweepReportError(
            f"heat_map: no complete trial has {objective!r} and numeric {x!r} and {y!r}"
        )
    x_bins = bin_values([u[0] for u in used], max_bins)
    y_bins = bin_values([u[1] for u in used], max_bins)
    cells: dict[tuple[int, int], list[float]] = {}
    for px, py, value in used:
        cells.setdefault((y_bins.index(py), x_bins.index(px)), []).append(value)
    best = max if direction == "maximize" else min
    rows = len(y_bins.labels)
    columns = len(x_bins.labels)
    values: list[tuple[float | None, ...]] = []
    counts: list[tuple[int, ...]] = []
    for row in range(rows):
        row_values: list[float | None] = []
        row_counts: list[int] = []
        for column in range(columns):
            members = cells.get((row, column), [])
            row_counts.append(len(members))
            if not members:
                row_values.append(None)
            elif aggregate == "best":
                row_values.append(best(members))
            else:
                row_values.append(math.fsum(members) / len(members))
        values.append(tuple(row_values))
        counts.append(tuple(row_counts))
    return HeatMap(x, y, x_bins, y_bins, tuple(values), tuple(counts))


# -- SVG -----------------------------------------------------------------------------------------

_CELL_W, _CELL_H = 64, 26
_MARGIN_L, _MARGIN_T, _MARGIN_B = 110, 30, 70
_LOW_RGB: Final = (255, 255, 204)
_HIGH_RGB: Final = (37, 52, 148)


def _shade(fraction: float) -> tuple[str, str]:
    """Fill and text colours for a cell, ``fraction`` 0 (worst) to 1 (best), in 20 steps."""
    step = round(min(max(fraction, 0.0), 1.0) * 20) / 20
    rgb = tuple(round(lo + (hi - lo) * step) for lo, hi in zip(_LOW_RGB, _HIGH_RGB, strict=True))
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", "#fff" if step > 0.5 else "#000"


def _heat_map_svg(grid: HeatMap, objective: str, direction: Direction, aggregate: str) -> str:
    filled = [v for row in grid.values for v in row if v is not None]
    low, high = min(filled), max(filled)
    span = high - low
    columns, rows = len(grid.x_bins.labels), len(grid.y_bins.labels)
    width = _MARGIN_L + columns * _CELL_W + 20
    height = _MARGIN_T + rows * _CELL_H + _MARGIN_B
    title = f"{objective} ({aggregate}) by {grid.x} (x) and {grid.y} (y)"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(title)}">',
        f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>',
        f'<text x="4" y="18" font-size="13">{html.escape(title)}</text>',
    ]
    for row in range(rows):
        # Row 0 (lowest y) at the bottom, as on a plot's y axis.
        top = _MARGIN_T + (rows - 1 - row) * _CELL_H
        parts.append(
            f'<text x="{_MARGIN_L - 4}" y="{top + _CELL_H / 2 + 4:.1f}" font-size="10" '
            f'text-anchor="end">{html.escape(grid.y_bins.labels[row])}</text>'
        )
        for column in range(columns):
            left = _MARGIN_L + column * _CELL_W
            value = grid.values[row][column]
            count = grid.counts[row][column]
            tip = (
                f"{grid.x}={grid.x_bins.labels[column]}, {grid.y}={grid.y_bins.labels[row]}: "
                f"{fmt(value)} over {count} trial(s)"
            )
            if value is None:
                parts.append(
                    f'<rect x="{left}" y="{top}" width="{_CELL_W}" height="{_CELL_H}" '
                    f'fill="#eee" stroke="#fff"><title>{html.escape(tip)}</title></rect>'
                )
                continue
            fraction = (value - low) / span if span else 1.0
            if direction == "minimize":
                fraction = 1.0 - fraction if span else 1.0
            fill, ink = _shade(fraction)
            parts.append(
                f'<rect x="{left}" y="{top}" width="{_CELL_W}" height="{_CELL_H}" fill="{fill}" '
                f'stroke="#fff"><title>{html.escape(tip)}</title></rect>'
                f'<text x="{left + _CELL_W / 2:.1f}" y="{top + _CELL_H / 2 + 4:.1f}" '
                f'font-size="10" text-anchor="middle" fill="{ink}">{fmt(value, 4)}</text>'
            )
    base = _MARGIN_T + rows * _CELL_H
    for column in range(columns):
        centre = _MARGIN_L + column * _CELL_W + _CELL_W / 2
        parts.append(
            f'<text x="{centre:.1f}" y="{base + 12}" font-size="10" text-anchor="end" '
            f'transform="rotate(-35 {centre:.1f} {base + 12})">'
            f"{html.escape(grid.x_bins.labels[column])}</text>"
        )
    parts.append(
        f'<text x="{_MARGIN_L}" y="{height - 6}" font-size="11">x: {html.escape(grid.x)}; '
        f"y: {html.escape(grid.y)}; darker is better; grey: no trial</text></svg>"
    )
    return "".join(parts)


_PLOT_W, _PLOT_H = 360, 200
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 60, 15, 28, 40


def _scatter_svg(
    trials: Sequence[Trial], name: str, objective: str, best_number: int | None
) -> str:
    points = [
        (t.params[name], value, t.number)
        for t in trials
        if name in t.params and (value := t.value(objective)) is not None
    ]
    title = f"{objective} vs {name}"
    if not points:
        return f"<p>{html.escape(title)}: no complete trial with both</p>"
    numeric = all(_is_number(p[0]) for p in points)
    inner_w = _PLOT_W - _PAD_L - _PAD_R
    inner_h = _PLOT_H - _PAD_T - _PAD_B
    ys = [p[1] for p in points]
    y_low, y_high = min(ys), max(ys)
    y_span = (y_high - y_low) or 1.0
    if numeric:
        raw = [float(p[0]) for p in points]
        log = min(raw) > 0 and max(raw) / min(raw) >= LOG_RATIO
        xs = [math.log10(v) for v in raw] if log else raw
        x_low, x_high = min(xs), max(xs)
        x_span = (x_high - x_low) or 1.0
        positions = [_PAD_L + (x - x_low) / x_span * inner_w for x in xs]
        axis = (
            f'<text x="{_PAD_L}" y="{_PLOT_H - 22}" font-size="10">{fmt(min(raw))}</text>'
            f'<text x="{_PLOT_W - _PAD_R}" y="{_PLOT_H - 22}" font-size="10" '
            f'text-anchor="end">{fmt(max(raw))}</text>'
        )
        caption = f"{name}{' (log scale)' if log else ''}"
    else:
        categories = sorted({str(p[0]) for p in points})
        slot = inner_w / len(categories)
        where = {c: _PAD_L + slot * (i + 0.5) for i, c in enumerate(categories)}
        positions = [where[str(p[0])] for p in points]
        axis = "".join(
            f'<text x="{where[c]:.1f}" y="{_PLOT_H - 22}" font-size="10" '
            f'text-anchor="middle">{html.escape(c)}</text>'
            for c in categories
        )
        caption = name
    dots = []
    for (_, value, number), x in zip(points, positions, strict=True):
        y = _PAD_T + inner_h - (value - y_low) / y_span * inner_h
        colour, radius = ("#d62728", 4.5) if number == best_number else ("#1f5fbf", 3)
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}" fill-opacity="0.7">'
            f"<title>trial {number}: {fmt(value)}</title></circle>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_PLOT_W}" height="{_PLOT_H}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f'<rect width="{_PLOT_W}" height="{_PLOT_H}" fill="#fff" stroke="#ccc"/>'
        f'<text x="4" y="16" font-size="12">{html.escape(title)}</text>'
        f'<text x="4" y="{_PAD_T + 8}" font-size="10">{fmt(y_high)}</text>'
        f'<text x="4" y="{_PAD_T + inner_h}" font-size="10">{fmt(y_low)}</text>'
        + axis
        + f'<text x="{_PAD_L}" y="{_PLOT_H - 6}" font-size="10">{html.escape(caption)}</text>'
        + "".join(dots)
        + "</svg>"
    )


# -- the page ------------------------------------------------------------------------------------


def _cell(value: ParamValue | float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool | str):
        return str(value)
    return fmt(value)


def write_sweep_report(
    trials: list[dict[str, Any]],
    out_path: Path,
    *,
    objective: str,
    direction: Direction = "maximize",
    aggregate: Aggregate = "best",
    top: int = TOP_TRIALS,
) -> None:
    """Write the sweep report for ``trials`` to ``out_path`` (parent directories created).

    Args:
        trials: ``{"number": int, "params": {name: value}, "metrics": {name: float | None},
            "state": "COMPLETE" | "PRUNED" | "FAIL"}`` each, in any order.
        out_path: The HTML file to write.
        objective: The metric ranked, mapped and plotted.
        direction: Whether a higher (``maximize``) or lower objective is better.
        aggregate: Heat-map cells show the ``best`` trial of the cell or the ``mean``.
        top: Rows of the best-trials table.

    Raises:
        SweepReportError: Malformed trials (see :func:`parse_trials`), a bad option, or complete
            trials that report metrics but none of them ``objective``.
    """
    _check_options(direction, aggregate)
    if not isinstance(objective, str) or not objective:
        raise SweepReportError(f"objective must be a non-empty metric name, got {objective!r}")
    if top < 1:
        raise SweepReportError(f"top must be >= 1, got {top}")
    parsed = parse_trials(trials)
    complete = [t for t in parsed if t.state == "COMPLETE"]
    known = sorted({name for t in complete for name in t.metrics})
    # Complete trials that report metrics but never the objective mean a misspelt name; trials
    # without any metrics are a sweep that produced none, which the page states.
    if known and not any(objective in t.metrics for t in complete):
        raise SweepReportError(
            f"objective {objective!r} is in no complete trial's metrics "
            f"(they have: {', '.join(known)})"
        )
    scored = [t for t in parsed if t.value(objective) is not None]
    sign = -1.0 if direction == "maximize" else 1.0
    ranked = sorted(scored, key=lambda t: (sign * (t.value(objective) or 0.0), t.number))
    best = ranked[0] if ranked else None
    states = {state: sum(1 for t in parsed if t.state == state) for state in STATES}
    param_names = sorted({name for t in parsed for name in t.params})
    numeric = [
        name
        for name in param_names
        if any(name in t.params for t in scored)
        and all(_is_number(t.params[name]) for t in scored if name in t.params)
    ]
    metric_names = sorted({name for t in scored for name in t.metrics} - {objective})
    body = [
        f"<h1>Sweep report: {html.escape(objective)} ({direction})</h1>",
        table(
            ("Trials", "Complete", "Pruned", "Failed", f"Complete with {objective}"),
            [
                (
                    str(len(parsed)),
                    str(states["COMPLETE"]),
                    str(states["PRUNED"]),
                    str(states["FAIL"]),
                    str(len(scored)),
                )
            ],
            numeric_from=0,
        ),
    ]
    if best is None:
        body.append(f"<p>No complete trial has a value of {html.escape(objective)}.</p>")
        _write(out_path, objective, body)
        return
    body.append(
        f"<h2>Best trial: {best.number}</h2><p>{html.escape(objective)} = "
        f"{fmt(best.value(objective))}; "
        + ", ".join(f"{html.escape(k)} = {html.escape(_cell(v))}" for k, v in best.params.items())
        + "</p>"
    )
    body.append(f"<h2>Top {min(top, len(ranked))} trials</h2>")
    body.append(
        table(
            ("Rank", "Trial", objective, *param_names, *metric_names),
            [
                (
                    str(rank),
                    str(t.number),
                    fmt(t.value(objective)),
                    *(_cell(t.params.get(n)) for n in param_names),
                    *(_cell(t.metrics.get(n)) for n in metric_names),
                )
                for rank, t in enumerate(ranked[:top], start=1)
            ],
            numeric_from=0,
        )
    )
    body.append("<h2>Heat-maps</h2>")
    pairs = [(x, y) for i, x in enumerate(numeric) for y in numeric[i + 1 :]]
    if not pairs:
        body.append("<p>Fewer than two numeric parameters: no heat-map.</p>")
    for x, y in pairs:
        grid = heat_map(scored, x, y, objective, direction=direction, aggregate=aggregate)
        body.append(_heat_map_svg(grid, objective, direction, aggregate))
    body.append(f"<h2>{html.escape(objective)} against each parameter</h2>")
    body.append(
        "".join(
            _scatter_svg(scored, name, objective, best.number).replace(
                "<svg ", '<svg style="display:inline-block;margin:4px" ', 1
            )
            for name in param_names
        )
    )
    _write(out_path, objective, body)


def _write(out_path: Path, objective: str, body: Sequence[str]) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page(f"Sweep report: {objective}", "".join(body)), encoding="utf-8")
