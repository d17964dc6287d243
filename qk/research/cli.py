"""``qk sweep`` and ``qk walkforward``.

::

    qk sweep --config configs/momentum_sim.toml --param fast=5:50 --param slow=20:200 \\
        --trials 200 --jobs 4 --out out/sweep
    qk walkforward --config configs/momentum_sim.toml --param fast=5:30 --param slow=20:120 \\
        --scheme rolling --train 6h --test 2h --purge 5m --out out/wf

Both record a run under ``--runs`` (default ``runs/``, docs/experiments.md) unless ``--no-track``
is given: a sweep run with one trial run per completed trial, or a walkforward run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from qk.backtest.cli import SYNTHETIC_SEED, SYNTHETIC_TRADES, load_trades
from qk.bars import TimeframeError
from qk.bars.spec import parse_duration
from qk.research.errors import ResearchError, ResearchErrorReason
from qk.research.evaluator import ENGINES, OBJECTIVES
from qk.research.space import parse_space
from qk.research.splits import SCHEMES, make_splits
from qk.research.sweep import SAMPLERS, SweepConfig, run_sweep
from qk.research.walkforward import run_walkforward, write_walkforward
from qk.runs import DEFAULT_RUNS, Tracking, fingerprint_array, track_walkforward
from qk.strategy import load_descriptor

__all__ = ["register"]


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="deployment descriptor TOML")
    parser.add_argument(
        "--param", action="append", default=[], required=True, metavar="NAME=SPACE",
        help="searched parameter: LOW:HIGH[:STEP] or A,B,C (repeatable)",
    )  # fmt: skip
    parser.add_argument("--data", type=Path, help="trades CSV/Parquet (default: synthetic)")
    parser.add_argument("--synthetic", type=int, default=SYNTHETIC_TRADES,
                        help="number of synthetic trades (without --data)")  # fmt: skip
    parser.add_argument("--data-seed", type=int, default=SYNTHETIC_SEED,
                        help="synthetic data seed")  # fmt: skip
    parser.add_argument("--objective", choices=OBJECTIVES, default="sharpe",
                        help="metric maximised")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="study seed")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="run store (default runs/)")
    parser.add_argument("--no-track", action="store_true", help="do not record the run")
    parser.add_argument("--mlflow", metavar="URI", help="also log the run to this MLflow server")


def _tracking(args: argparse.Namespace) -> Tracking | None:
    return None if args.no_track else Tracking(args.runs, args.mlflow)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``qk sweep`` and ``qk walkforward`` to the ``qk`` sub-commands."""
    sweep = sub.add_parser(
        "sweep", help="parameter sweep on Optuna (docs/research.md)",
        description="Search strategy parameters with Optuna (TPE or grid) in worker processes "
        "sharing one RDB study; writes results.csv, best_params.json, sweep_report.html.",
    )  # fmt: skip
    _data_arguments(sweep)
    sweep.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    sweep.add_argument("--trials", type=int, default=100, help="study-wide trial budget")
    sweep.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="worker processes on this host (default: all cores)")  # fmt: skip
    sweep.add_argument("--storage", help="Optuna storage URL (default sqlite:///OUT/study.db; "
                       "a postgresql:// URL lets other hosts join)")  # fmt: skip
    sweep.add_argument("--study", default="qk-sweep", help="study name (shared across hosts)")
    sweep.add_argument("--engine", choices=ENGINES, default="vectorized")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(func=_sweep)

    walk = sub.add_parser(
        "walkforward", help="walk-forward optimisation (docs/research.md)",
        description="Optimise in-sample with the vectorised kernel, evaluate out-of-sample "
        "with the event engine, stitch the out-of-sample equity; folds.json, oos_equity.csv.",
    )  # fmt: skip
    _data_arguments(walk)
    walk.add_argument("--scheme", choices=SCHEMES, default="rolling")
    walk.add_argument("--train", default="0s", help="in-sample span, e.g. 6h (rolling/expanding)")
    walk.add_argument("--test", default="0s", help="test window, e.g. 2h (rolling/expanding)")
    walk.add_argument("--step", help="distance between test windows (default: --test)")
    walk.add_argument("--folds", type=int, default=0, help="number of folds (kfold)")
    walk.add_argument("--purge", default="0s", help="label horizon dropped before each test")
    walk.add_argument("--embargo", default="0s", help="gap after each test window (kfold)")
    walk.add_argument("--max-candidates", type=int, default=1000,
                      help="most parameter sets tried in-sample (seeded sample of the grid)")  # fmt: skip
    walk.set_defaults(func=_walkforward)


def _sweep(args: argparse.Namespace) -> int:
    config = SweepConfig(
        config=args.config,
        params=tuple(args.param),
        out=args.out,
        sampler=args.sampler,
        trials=args.trials,
        jobs=args.jobs,
        storage=args.storage,
        study=args.study,
        data=args.data,
        synthetic_trades=args.synthetic,
        data_seed=args.data_seed,
        engine=args.engine,
        objective=args.objective,
        seed=args.seed,
    )
    summary = run_sweep(config, progress=not args.no_progress, log=print, tracking=_tracking(args))
    if summary.best_number is None:
        raise ResearchError(
            ResearchErrorReason.BAD_PARAMS,
            f"no trial completed ({summary.pruned} pruned): see {summary.results_csv}",
        )
    print(f"best trial {summary.best_number}: {args.objective} = {summary.best_value}")
    for name, value in summary.best_params.items():
        print(f"{name:>16}: {value}")
    print(f"results: {summary.results_csv}")
    print(f"report: {summary.report}")
    if summary.run_id is not None:
        print(f"run: {summary.run_id} (best trial: {summary.best_run_id})")
    return 0


def _duration(text: str, flag: str) -> int:
    try:
        return parse_duration(text, allow_zero=True)
    except TimeframeError as exc:
        raise ResearchError(ResearchErrorReason.BAD_SPLIT, f"{flag}: {exc}") from None


def _walkforward(args: argparse.Namespace) -> int:
    space = parse_space(args.param)
    deployment = load_descriptor(args.config)
    trades = load_trades(deployment, args.data, count=args.synthetic, seed=args.data_seed)
    ts = trades["ts_event"]
    folds = make_splits(
        int(ts[0]),
        int(ts[-1]) + 1,
        scheme=args.scheme,
        train_ns=_duration(args.train, "--train"),
        test_ns=_duration(args.test, "--test"),
        step_ns=None if args.step is None else _duration(args.step, "--step"),
        folds=args.folds,
        purge_ns=_duration(args.purge, "--purge"),
        embargo_ns=_duration(args.embargo, "--embargo"),
    )
    result = run_walkforward(
        deployment, trades, space, folds, objective=args.objective,
        max_candidates=args.max_candidates, seed=args.seed,
    )  # fmt: skip
    written = write_walkforward(result, args.out, objective=args.objective)
    for r in result.folds:
        if r.skipped:
            print(f"fold {r.fold.index}: skipped ({r.skipped})")
        else:
            params = " ".join(f"{k}={v}" for k, v in r.best_params.items())
            print(
                f"fold {r.fold.index}: {params}  in-sample {args.objective}="
                f"{r.in_sample_value}  out-of-sample return={r.oos_metrics['total_return']}"
            )
    print(f"stitched out-of-sample equity: {result.final_equity} (from {result.capital})")
    print(f"folds: {args.out / 'folds.json'}  curve: {args.out / 'oos_equity.csv'}")
    tracking = _tracking(args)
    if tracking is not None:
        run_id = track_walkforward(
            tracking, args.out, written, _walkforward_params(args), fingerprint_array(trades),
            args.config,
        )  # fmt: skip
        print(f"run: {run_id}")
    return 0


def _walkforward_params(args: argparse.Namespace) -> dict[str, Any]:
    # The inputs that determine the result, as given on the command line.
    data: dict[str, Any] = (
        {"file": str(args.data)}
        if args.data is not None
        else {"synthetic": args.synthetic, "seed": args.data_seed}
    )
    return {
        "space": {n.strip(): spec.strip() for n, _, spec in (p.partition("=") for p in args.param)},
        "scheme": args.scheme,
        "train": args.train,
        "test": args.test,
        "step": args.step,
        "folds": args.folds,
        "purge": args.purge,
        "embargo": args.embargo,
        "objective": args.objective,
        "max_candidates": args.max_candidates,
        "seed": args.seed,
        "data": data,
    }
