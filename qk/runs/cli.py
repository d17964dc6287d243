"""``qk runs ls|show|compare``: the local run store from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from qk.runs.compare import format_comparison
from qk.runs.store import DEFAULT_RUNS, RUN_KINDS, RunError, RunStore

__all__ = ["register"]

_KEY_METRICS = ("total_return", "sharpe", "max_drawdown", "best_value", "completed",
                "stitched_return")  # fmt: skip
"""Shown by ``qk runs ls``: a backtest's or trial's headline figures, a sweep's best value and
trial count, a walk-forward's stitched return."""


def _cmd_ls(args: argparse.Namespace) -> int:
    store = RunStore(args.runs)
    records = store.list(kind=args.kind, limit=args.limit)
    if not records:
        print(f"{store.root}: no runs" + (f" of kind {args.kind}" if args.kind else ""))
        return 0
    print(f"{'run id':<26} {'kind':<11} {'status':<11} {'parent':<26} {'data':<20} key metrics")
    for record in records:
        metrics = record.get("metrics") or {}
        shown = "  ".join(f"{k}={metrics[k]}" for k in _KEY_METRICS if k in metrics)
        data = (record.get("data_fingerprint") or "-")[:19]
        print(
            f"{record['run_id']:<26} {record['kind']:<11} {record['status']:<11} "
            f"{record.get('parent_run_id') or '-':<26} {data:<20} {shown}".rstrip()
        )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    record = RunStore(args.runs).get(args.run_id)
    print(json.dumps(record, indent=2))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    store = RunStore(args.runs)
    if len(args.run_ids) < 2:
        raise RunError("compare needs at least two run ids")
    print(format_comparison([store.get(run_id) for run_id in args.run_ids]))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``qk runs`` and its subcommands to the ``qk`` parser."""
    runs = sub.add_parser("runs", help="tracked backtests and sweeps: list, show, compare")
    commands = runs.add_subparsers(dest="runs_command", required=True)

    def root_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--runs",
            type=Path,
            default=DEFAULT_RUNS,
            help=f"run store root (default {DEFAULT_RUNS}/)",
        )

    ls = commands.add_parser("ls", help="runs, newest first")
    ls.add_argument("--kind", choices=RUN_KINDS)
    ls.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    root_option(ls)
    ls.set_defaults(func=_cmd_ls)

    show = commands.add_parser("show", help="a run's run.json")
    show.add_argument("run_id", metavar="ID", help="run id or a unique prefix")
    root_option(show)
    show.set_defaults(func=_cmd_show)

    compare = commands.add_parser(
        "compare", help="params and metrics side by side, differences marked"
    )
    compare.add_argument("run_ids", nargs="+", metavar="ID")
    root_option(compare)
    compare.set_defaults(func=_cmd_compare)
