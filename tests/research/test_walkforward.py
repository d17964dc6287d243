"""Walk-forward: in-sample choice, out-of-sample event runs, the stitched curve."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from qk.backtest.engine import run_backtest
from qk.research.evaluator import Evaluator
from qk.research.space import parse_space
from qk.research.splits import make_splits
from qk.research.walkforward import run_walkforward, select_trades, write_walkforward
from qk.strategy import Deployment

from .conftest import tape


def test_select_trades_takes_half_open_windows() -> None:
    trades = tape(200)
    ts = trades["ts_event"]
    picked = select_trades(trades, [(int(ts[10]), int(ts[20])), (int(ts[50]), int(ts[51]))])
    assert list(picked["ts_event"]) == [*ts[10:20], ts[50]]


def test_walk_forward_end_to_end(
    make_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = make_deployment()
    trades = tape(6_000, seed=9)
    ts = trades["ts_event"]
    folds = make_splits(int(ts[0]), int(ts[-1]) + 1, scheme="rolling", train_ns=300 * 10**9,
                        test_ns=150 * 10**9, purge_ns=5 * 10**9)  # fmt: skip
    assert len(folds) >= 3
    space = parse_space(["fast=2:4", "slow=5:9:2"])
    result = run_walkforward(deployment, trades, space, folds, objective="total_return")
    assert len(result.folds) == len(folds)
    base = deployment.capital
    for fold in result.folds:
        assert not fold.skipped
        train = select_trades(trades, fold.fold.train)
        test = select_trades(trades, (fold.fold.test,))
        # The in-sample winner is the best candidate on the in-sample trades.
        outcomes = Evaluator(deployment, train).run(list(space.points()))
        values = [o["total_return"] for o in outcomes if isinstance(o, dict)]
        assert fold.in_sample_value == max(v for v in values if v is not None)
        # Out of sample: the event engine with those parameters on the test window.
        oos = run_backtest(deployment, test, params=fold.best_params)
        assert [e for _, e in fold.oos_equity] == [p.account.equity for p in oos.equity]
        assert int(test["ts_event"][0]) >= fold.fold.test[0]
        base = base * oos.final.equity / deployment.capital
    assert result.final_equity == base
    # Stitched: each fold continues from where the previous ended.
    stitched = result.stitched
    for (_, fa, _, sa), (_, fb, eb, sb) in itertools.pairwise(stitched):
        if fa != fb:
            assert sb == sa * eb / deployment.capital
    write_walkforward(result, tmp_path / "wf", objective="total_return")
    summary = json.loads((tmp_path / "wf" / "folds.json").read_text())
    assert Decimal(summary["stitched_final_equity"]) == result.final_equity
    assert len(summary["folds"]) == len(folds)
    with (tmp_path / "wf" / "oos_equity.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(stitched)


def test_expanding_folds_train_from_the_start(make_deployment: Callable[..., Deployment]) -> None:
    deployment = make_deployment()
    trades = tape(4_000, seed=2)
    ts = trades["ts_event"]
    folds = make_splits(int(ts[0]), int(ts[-1]) + 1, scheme="expanding", train_ns=200 * 10**9,
                        test_ns=150 * 10**9)  # fmt: skip
    result = run_walkforward(deployment, trades, parse_space(["fast=2,3", "slow=6"]), folds,
                             max_candidates=1, seed=4)  # fmt: skip
    sizes = [f.train_trades for f in result.folds]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert all(f.candidates == 1 for f in result.folds if not f.skipped)
