"""The sweep report: trial checks, binning, heat-map cells, the page and its determinism."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.research.report import (
    SweepReportError,
    bin_values,
    heat_map,
    parse_trials,
    write_sweep_report,
)


def _trial(number: int, state: str = "COMPLETE", **values: Any) -> dict[str, Any]:
    metrics = {k: v for k, v in values.items() if k in ("sharpe", "drawdown")}
    params = {k: v for k, v in values.items() if k not in metrics}
    return {"number": number, "params": params, "metrics": metrics, "state": state}


GRID = [
    _trial(0, fast=1, slow=10, sharpe=1.0),
    _trial(1, fast=1, slow=10, sharpe=3.0),
    _trial(2, fast=2, slow=10, sharpe=-1.0),
    _trial(3, fast=1, slow=20, sharpe=0.5),
    _trial(4, "PRUNED", fast=2, slow=20, sharpe=9.0),
    _trial(5, "FAIL", fast=2, slow=20),
    _trial(6, fast=2, slow=20, sharpe=None),
]


def test_heat_map_when_best_then_cells_hold_the_max_and_empty_cells_none() -> None:
    grid = heat_map(parse_trials(GRID), "fast", "slow", "sharpe")
    assert grid.x_bins.labels == ("1", "2") and grid.y_bins.labels == ("10", "20")
    # Rows are slow (10, 20), columns fast (1, 2); pruned, failed and valueless trials are out.
    assert grid.values == ((3.0, -1.0), (0.5, None))
    assert grid.counts == ((2, 1), (1, 0))


def test_heat_map_when_mean_or_minimize_then_cells_follow() -> None:
    trials = parse_trials(GRID)
    assert heat_map(trials, "fast", "slow", "sharpe", aggregate="mean").values[0] == (2.0, -1.0)
    assert heat_map(trials, "fast", "slow", "sharpe", direction="minimize").values[0] == (1.0, -1.0)


def test_heat_map_when_no_trial_has_both_then_error_names_them() -> None:
    with pytest.raises(SweepReportError, match="'fast' and 'nope'"):
        heat_map(parse_trials(GRID), "fast", "nope", "sharpe")


def test_bin_values_when_few_distinct_then_one_bin_each() -> None:
    binning = bin_values([3, 1, 2, 1])
    assert binning.kind == "values"
    assert binning.labels == ("1", "2", "3")
    assert [binning.index(v) for v in (1, 2, 3)] == [0, 1, 2]


def test_bin_values_when_many_fractions_then_equal_width_bins() -> None:
    binning = bin_values([v / 10 for v in range(0, 101)], max_bins=4)
    assert binning.kind == "linear"
    assert binning.points == (0.0, 2.5, 5.0, 7.5, 10.0)
    assert binning.labels[0] == "0-2.5"
    assert [binning.index(v) for v in (0.0, 2.49, 2.5, 9.9, 10.0)] == [0, 0, 1, 3, 3]


def test_bin_values_when_many_whole_numbers_then_whole_number_bins() -> None:
    binning = bin_values([float(v) for v in range(2, 21)], max_bins=10)
    assert binning.kind == "integer"
    assert binning.labels == ("2-3", "4-5", "6-7", "8-9", "10-11", "12-13", "14-15", "16-17",
                              "18-19", "20")  # fmt: skip
    assert [binning.index(v) for v in (2, 3, 4, 19, 20)] == [0, 0, 1, 8, 9]


def test_bin_values_when_positive_over_decades_then_log_bins() -> None:
    binning = bin_values([1e-5, 3e-5, 1e-4, 1e-3, 1e-2, 1e-1], max_bins=4)
    assert binning.kind == "log"
    assert binning.points[0] == 1e-5 and binning.points[-1] == 1e-1
    assert binning.points[2] == pytest.approx(1e-3)
    assert [binning.index(v) for v in (1e-5, 1e-4, 1e-2, 1e-1)] == [0, 1, 3, 3]


def _sweep() -> list[dict[str, Any]]:
    rng = random.Random(3)
    trials = []
    for n in range(40):
        fast, slow, rate = rng.randint(2, 20), rng.choice([30, 40, 50]), 10 ** rng.uniform(-5, -1)
        state = "FAIL" if n % 9 == 8 else "COMPLETE"
        trials.append(
            _trial(
                n,
                state,
                fast=fast,
                slow=slow,
                rate=rate,
                kind=rng.choice(["ema", "sma"]),
                **(
                    {"sharpe": round(fast / slow + rng.random(), 6), "drawdown": -0.1}
                    if state == "COMPLETE"
                    else {}
                ),
            )
        )
    return trials


def test_write_when_sweep_then_heat_map_per_numeric_pair_scatter_per_parameter(
    tmp_path: Path,
) -> None:
    out = tmp_path / "deep" / "sweep.html"
    write_sweep_report(_sweep(), out, objective="sharpe")
    page = out.read_text()
    labels = re.findall(r'aria-label="([^"]*)"', page)
    assert labels == [
        "sharpe (best) by fast (x) and rate (y)",
        "sharpe (best) by fast (x) and slow (y)",
        "sharpe (best) by rate (x) and slow (y)",
        "sharpe vs fast",
        "sharpe vs kind",
        "sharpe vs rate",
        "sharpe vs slow",
    ]
    assert "<script" not in page and "https://" not in page
    assert "<td>36</td>" in page.replace('<td class="n">', "<td>")  # complete trials
    complete = [t for t in _sweep() if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: (t["metrics"]["sharpe"], -t["number"]))
    assert f"<h2>Best trial: {best['number']}</h2>" in page


def test_write_when_small_grid_then_cell_values_are_in_the_svg(tmp_path: Path) -> None:
    out = tmp_path / "grid.html"
    write_sweep_report(GRID, out, objective="sharpe")
    heat = re.search(r"<svg[^>]*by fast \(x\) and slow \(y\).*?</svg>", out.read_text())
    assert heat is not None
    cells = re.findall(r'text-anchor="middle" fill="[^"]+">([^<]+)</text>', heat.group(0))
    assert sorted(cells) == ["-1", "0.5", "3"]
    assert "over 0 trial(s)" in heat.group(0)  # the empty cell is drawn grey with a tooltip


def test_write_when_trials_shuffled_then_bytes_identical(tmp_path: Path) -> None:
    trials = _sweep()
    write_sweep_report(trials, tmp_path / "a.html", objective="sharpe")
    random.Random(5).shuffle(trials)
    write_sweep_report(trials, tmp_path / "b.html", objective="sharpe")
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()


def test_write_when_minimize_then_lowest_trial_is_best(tmp_path: Path) -> None:
    out = tmp_path / "min.html"
    write_sweep_report(GRID, out, objective="sharpe", direction="minimize")
    assert "<h2>Best trial: 2</h2>" in out.read_text()


def test_write_when_every_trial_failed_then_page_says_so(tmp_path: Path) -> None:
    out = tmp_path / "failed.html"
    write_sweep_report([_trial(0, "FAIL", fast=1), _trial(1, "PRUNED", fast=2)], out,
                       objective="sharpe")  # fmt: skip
    page = out.read_text()
    assert "No complete trial has a value of sharpe" in page
    assert "<svg" not in page


def test_write_when_complete_trials_report_no_metrics_then_page_not_error(tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    write_sweep_report([_trial(0, fast=1), _trial(1, fast=2)], out, objective="sharpe")
    assert "No complete trial has a value of sharpe" in out.read_text()


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        ([_trial(0, fast=1, sharpe=1.0), _trial(0, fast=2, sharpe=1.0)], "repeats trial 0"),
        ([_trial(0, "DONE", fast=1)], "state must be one of"),
        ([{"number": 0, "params": {}, "state": "COMPLETE"}], "missing field.*metrics"),
        ([_trial(0, fast=float("nan"), sharpe=1.0)], r"params\.fast is nan"),
        ([{"number": 0, "params": {}, "metrics": {"sharpe": "1"}, "state": "COMPLETE"}],
         r"trial 0 \(number 0\): metrics\.sharpe must be a number"),
        ([_trial(0, fast=[1], sharpe=1.0)], r"params\.fast must be a number, string or bool"),
        ([_trial(-1, fast=1)], "number must be an int >= 0"),
        (["x"], "trial 0: expected a mapping"),
        ([_trial(0, fast=1, sharpe=1.0)], "objective 'sharp' is in no complete trial's metrics "
         r"\(they have: sharpe\)"),
    ],
)  # fmt: skip
def test_write_when_bad_trials_then_error_names_trial_and_field(
    tmp_path: Path, trials: list[Any], message: str
) -> None:
    objective = "sharp" if "sharp'" in message else "sharpe"
    with pytest.raises(SweepReportError, match=message):
        write_sweep_report(trials, tmp_path / "x.html", objective=objective)
    assert not (tmp_path / "x.html").exists()


def test_write_when_bad_option_then_error(tmp_path: Path) -> None:
    with pytest.raises(SweepReportError, match="aggregate"):
        write_sweep_report(GRID, tmp_path / "x.html", objective="sharpe", aggregate="max")  # type: ignore[arg-type]
    with pytest.raises(SweepReportError, match="direction"):
        write_sweep_report(GRID, tmp_path / "x.html", objective="sharpe", direction="up")  # type: ignore[arg-type]


_TRIALS = st.lists(
    st.tuples(
        st.integers(1, 60) | st.floats(0.001, 50.0),
        st.floats(-5.0, 5.0),
        st.floats(-3.0, 3.0),
        st.sampled_from(["COMPLETE", "COMPLETE", "PRUNED", "FAIL"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(_TRIALS)
def test_heat_map_when_any_trials_then_counts_cover_scored_trials_and_best_cell_is_best(
    raw: list[tuple[float, float, float, str]],
) -> None:
    trials = parse_trials(
        [_trial(n, state, a=a, b=b, sharpe=v) for n, (a, b, v, state) in enumerate(raw)]
    )
    scored = [t for t in trials if t.state == "COMPLETE"]
    if not scored:
        with pytest.raises(SweepReportError):
            heat_map(trials, "a", "b", "sharpe")
        return
    aggregates: tuple[Literal["best", "mean"], ...] = ("best", "mean")
    for aggregate in aggregates:
        grid = heat_map(trials, "a", "b", "sharpe", aggregate=aggregate)
        assert sum(map(sum, grid.counts)) == len(scored)
        for row_values, row_counts in zip(grid.values, grid.counts, strict=True):
            assert [v is None for v in row_values] == [c == 0 for c in row_counts]
        cells = [v for row in grid.values for v in row if v is not None]
        objective = [t.value("sharpe") or 0.0 for t in scored]
        if aggregate == "best":
            assert max(cells) == max(objective)
        else:
            assert min(objective) - 1e-9 <= min(cells) <= max(cells) <= max(objective) + 1e-9
