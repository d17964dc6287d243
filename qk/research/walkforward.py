"""Walk-forward analysis: optimise in-sample with the vectorised kernel, trade the winner
out-of-sample with the event engine, stitch the out-of-sample equity curves.

For each fold (:func:`qk.research.splits.make_splits`), the trades of its in-sample windows
are evaluated for every candidate parameter set in one kernel call; the best by the objective
runs with ``run_backtest`` on the trades of the test window. Each test window starts from the
deployment's capital with cold indicators (the strategy warms up inside the window, as it would
after a restart); the stitched curve chains the folds' growth: fold ``k`` scaled to start where
fold ``k - 1`` ended.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qk.backtest.engine import run_backtest
from qk.backtest.metrics import fill_rows, summarize
from qk.research.errors import ResearchError, ResearchErrorReason
from qk.research.evaluator import Evaluator, check_objective
from qk.research.space import SearchSpace
from qk.research.splits import Fold
from qk.strategy import Deployment

__all__ = ["FoldResult", "WalkForwardResult", "run_walkforward", "select_trades"]

_R = ResearchErrorReason


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One fold's outcome.

    Attributes:
        fold: The split.
        train_trades: In-sample trades.
        test_trades: Out-of-sample trades.
        best_params: Winning parameters (text values); empty if none could be chosen.
        in_sample_value: The winner's in-sample objective.
        candidates: Parameter sets evaluated in-sample.
        refused: Candidates refused (strategy or kernel) in-sample.
        oos_metrics: Out-of-sample summary metrics (event engine); empty when skipped.
        oos_equity: (ts_ns, equity) of the out-of-sample run.
        skipped: Why the fold produced nothing out-of-sample, or "".
    """

    fold: Fold
    train_trades: int
    test_trades: int
    best_params: dict[str, str]
    in_sample_value: float | None
    candidates: int
    refused: int
    oos_metrics: dict[str, Any]
    oos_equity: tuple[tuple[int, Decimal], ...]
    skipped: str


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """All folds and the stitched out-of-sample curve.

    Attributes:
        folds: Per-fold results.
        stitched: (ts_ns, fold index, fold equity, stitched equity) rows.
        capital: Starting capital of every fold.
    """

    folds: tuple[FoldResult, ...]
    stitched: tuple[tuple[int, int, Decimal, Decimal], ...]
    capital: Decimal

    @property
    def final_equity(self) -> Decimal:
        """Stitched equity at the end (the capital when no fold traded)."""
        return self.stitched[-1][3] if self.stitched else self.capital


def select_trades(
    trades: npt.NDArray[np.void], windows: Sequence[tuple[int, int]]
) -> npt.NDArray[np.void]:
    """The trades whose ``ts_event`` falls in any of the half-open windows, in tape order."""
    ts = trades["ts_event"]
    keep = np.zeros(len(trades), dtype=bool)
    for a, b in windows:
        keep[np.searchsorted(ts, a, "left") : np.searchsorted(ts, b, "left")] = True
    return trades[keep]


def _candidates(space: SearchSpace, limit: int, seed: int) -> list[dict[str, str]]:
    size = space.grid_size()
    if size <= limit:
        return list(space.points())
    # Too many to try all: a seeded uniform sample of grid indices, the same on every run.
    rng = np.random.Generator(np.random.PCG64(seed))
    picks = np.sort(rng.choice(size, size=limit, replace=False))
    values = [d.values for d in space.dimensions]
    out = []
    for flat in picks.tolist():
        point: dict[str, str] = {}
        for dim, options in zip(reversed(space.dimensions), reversed(values), strict=True):
            flat, index = divmod(flat, len(options))
            point[dim.name] = options[index]
        out.append({name: point[name] for name in space.names})
    return out


def run_walkforward(
    deployment: Deployment,
    trades: npt.NDArray[np.void],
    space: SearchSpace,
    folds: Sequence[Fold],
    *,
    objective: str = "sharpe",
    max_candidates: int = 1000,
    seed: int = 0,
) -> WalkForwardResult:
    """Optimise in-sample, evaluate out-of-sample, stitch.

    Raises:
        ResearchError: BAD_OBJECTIVE; NOT_VECTORIZABLE (the in-sample optimiser is the
            vectorised kernel).
    """
    check_objective(objective)
    candidates = _candidates(space, max_candidates, seed)
    results: list[FoldResult] = []
    for fold in folds:
        train = select_trades(trades, fold.train)
        test = select_trades(trades, (fold.test,))
        if len(train) < 2 or len(test) < 2:
            results.append(
                FoldResult(
                    fold,
                    len(train),
                    len(test),
                    {},
                    None,
                    0,
                    0,
                    {},
                    (),
                    "fewer than 2 trades in-sample or out-of-sample",
                )
            )
            continue
        outcomes = Evaluator(deployment, train, "vectorized").run(candidates)
        best: tuple[float, int] | None = None
        refused = 0
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, ResearchError):
                refused += 1
                continue
            value = outcome.get(objective)
            if value is not None and (best is None or value > best[0]):
                best = (value, i)
        if best is None:
            results.append(
                FoldResult(
                    fold,
                    len(train),
                    len(test),
                    {},
                    None,
                    len(candidates),
                    refused,
                    {},
                    (),
                    f"no candidate has a defined in-sample {objective}",
                )
            )
            continue
        chosen = candidates[best[1]]
        oos = run_backtest(deployment, test, params=chosen)
        summary = summarize(oos, fill_rows(oos))
        equity = tuple((p.ts_ns, p.account.equity) for p in oos.equity)
        results.append(
            FoldResult(
                fold,
                len(train),
                len(test),
                dict(chosen),
                best[0],
                len(candidates),
                refused,
                summary,
                equity,
                "",
            )
        )
    return WalkForwardResult(tuple(results), _stitch(results, deployment.capital),
                             deployment.capital)  # fmt: skip


def _stitch(
    results: Sequence[FoldResult], capital: Decimal
) -> tuple[tuple[int, int, Decimal, Decimal], ...]:
    rows = []
    base = capital
    for result in results:
        if not result.oos_equity:
            continue
        for ts, equity in result.oos_equity:
            rows.append((ts, result.fold.index, equity, base * equity / capital))
        base = rows[-1][3]
    return tuple(rows)


def write_walkforward(result: WalkForwardResult, out: Path, *, objective: str) -> dict[str, Any]:
    """folds.json (per fold: windows, winner, in-sample value, out-of-sample metrics) and
    oos_equity.csv (the stitched curve); returns what folds.json holds."""
    out.mkdir(parents=True, exist_ok=True)
    folds = []
    for r in result.folds:
        folds.append(
            {
                "fold": r.fold.index,
                "train": [list(w) for w in r.fold.train],
                "test": list(r.fold.test),
                "train_trades": r.train_trades,
                "test_trades": r.test_trades,
                "candidates": r.candidates,
                "refused": r.refused,
                "best_params": r.best_params,
                f"in_sample_{objective}": r.in_sample_value,
                "oos": {
                    k: r.oos_metrics.get(k)
                    for k in ("total_return", "sharpe", "max_drawdown", "fills", "final_equity")
                },
                "skipped": r.skipped,
            }
        )
    summary = {
        "objective": objective,
        "capital": str(result.capital),
        "stitched_final_equity": str(result.final_equity),
        "stitched_return": float(result.final_equity / result.capital - 1),
        "folds": folds,
    }
    (out / "folds.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    with (out / "oos_equity.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ts_ns", "fold", "fold_equity", "stitched_equity"])
        for ts, fold, equity, stitched in result.stitched:
            writer.writerow([ts, fold, equity, stitched])
    return summary
