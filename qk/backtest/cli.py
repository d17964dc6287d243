"""``qk backtest``: run a deployment descriptor over synthetic or recorded trades.

::

    qk backtest --config configs/momentum_sim.toml --out out/bt
    qk backtest --config configs/momentum_sim.toml --data trades.parquet --param fast=5 --out x
    qk backtest --config configs/binance.toml --data-store data --from 2025-01-01 --out x

Each run is recorded under ``--runs`` (default ``runs/``, docs/experiments.md) unless
``--no-track`` is given.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from qk.backtest.engine import instrument_of, run_backtest
from qk.backtest.errors import BacktestError, BacktestErrorReason
from qk.backtest.report import write_outputs
from qk.bars.trades_file import TradesFileError, read_trades
from qk.data import DataError, load_trades_from_store
from qk.instruments import Instrument
from qk.marketdata.sim import random_walk_trades
from qk.runs import DEFAULT_RUNS, fingerprint_array, track_backtest
from qk.schemas import new_records
from qk.strategy import Deployment, StrategyError, load_descriptor, parse_assignments

__all__ = ["configure_parser", "load_trades", "run"]

SYNTHETIC_TRADES: Final = 1_000_000
SYNTHETIC_SEED: Final = 7
SYNTHETIC_INTERVAL_MS: Final = 50.0
"""Mean time between synthetic trades: 20 a second, BTCUSDT's usual pace (the bundled recording
has 43 a second); 1M trades span ~13.9 hours, ~833 one-minute bars."""
SYNTHETIC_MAX_LOTS: Final = 5_000
"""Largest synthetic trade, lots (0.05 BTC on SIM BTCUSDT): an order of a few hundredths of a
BTC can fill against one trade, as on a liquid book."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``qk backtest`` arguments to ``parser``."""
    parser.add_argument("--config", required=True, type=Path, help="deployment descriptor TOML")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data",
        type=Path,
        help="trades CSV/Parquet of the deployment's first instrument (default: the "
        "descriptor's [data] path, else synthetic trades)",
    )
    source.add_argument(
        "--synthetic", type=int, metavar="N", nargs="?", const=SYNTHETIC_TRADES,
        help=f"N seeded synthetic trades, 20 a second (default N: {SYNTHETIC_TRADES:,})",
    )  # fmt: skip
    source.add_argument(
        "--data-store", type=Path, metavar="DIR",
        help="the first instrument's trades from this data store (qk data import)",
    )  # fmt: skip
    parser.add_argument("--from", dest="start", type=date.fromisoformat,
                        help="--data-store: first UTC date (YYYY-MM-DD)")  # fmt: skip
    parser.add_argument("--to", dest="end", type=date.fromisoformat,
                        help="--data-store: last UTC date, inclusive")  # fmt: skip
    parser.add_argument("--seed", type=int, default=SYNTHETIC_SEED, help="synthetic data seed")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="override a strategy parameter (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--round", action="store_true",
        help="round --data prices and quantities to the instrument's precision instead of "
        "refusing values with more decimals",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="run store (default runs/)")
    parser.add_argument("--no-track", action="store_true", help="do not record the run")
    parser.add_argument("--mlflow", metavar="URI", help="also log the run to this MLflow server")


def load_trades(
    deployment: Deployment, data: Path | None, *, count: int = SYNTHETIC_TRADES,
    seed: int = SYNTHETIC_SEED, round_values: bool = False,
) -> npt.NDArray[np.void]:  # fmt: skip
    """The trade tape of the first instrument: a file's trades, or ``count`` seeded synthetic
    ones when ``data`` is None.

    Raises:
        BacktestError: BAD_DATA_FILE.
    """
    instrument = instrument_of(deployment)
    if data is None:
        return random_walk_trades(
            instrument,
            count,
            seed=seed,
            mean_interval_ms=SYNTHETIC_INTERVAL_MS,
            max_lots=SYNTHETIC_MAX_LOTS,
        )
    return _read_file(data, instrument, round_values)


def _read_file(path: Path, instrument: Instrument, round_values: bool) -> npt.NDArray[np.void]:
    try:
        table = read_trades(
            path, instrument.price_precision, instrument.size_precision, round_values=round_values
        )
    except (TradesFileError, OSError) as exc:
        raise BacktestError(BacktestErrorReason.BAD_DATA_FILE, str(exc)) from exc
    if round_values:
        # A trade smaller than half a lot rounds to nothing: it cannot be replayed, drop it.
        keep = table.quantity > 0
        table.ts_event, table.price = table.ts_event[keep], table.price[keep]
        table.quantity, table.trade_id = table.quantity[keep], table.trade_id[keep]
    records = new_records("TradeEvent", len(table))
    records["seq"] = np.arange(len(table), dtype=np.uint64)
    records["ts_event"] = table.ts_event
    records["instrument_id"] = instrument.instrument_id
    records["price"] = table.price
    records["quantity"] = table.quantity
    records["venue_trade_id"] = table.trade_id
    return records


def _data_params(args: argparse.Namespace, data: Path | None, round_values: bool) -> dict[str, Any]:
    if args.data_store is not None:
        return {"store": str(args.data_store), "from": args.start, "to": args.end}
    if data is not None:
        return {"file": str(data), "round": round_values}
    return {"synthetic": args.synthetic or SYNTHETIC_TRADES, "seed": args.seed}


def run(args: argparse.Namespace) -> int:
    """Run ``qk backtest``; 0 on success, 2 on bad input (message on stderr)."""
    try:
        deployment = load_descriptor(args.config)
        overrides = parse_assignments(args.param)
        data, round_values = args.data, args.round
        if data is None and args.synthetic is None and deployment.data is not None:
            data, round_values = deployment.data, round_values or deployment.data_round
        if args.data_store is not None:
            instrument = instrument_of(deployment)
            try:
                trades = load_trades_from_store(
                    args.data_store, instrument.venue.name, instrument.symbol, args.start, args.end
                )
            except DataError as exc:
                raise BacktestError(BacktestErrorReason.BAD_DATA_FILE, str(exc)) from exc
            data = args.data_store
        else:
            trades = load_trades(
                deployment, data, count=args.synthetic or SYNTHETIC_TRADES, seed=args.seed,
                round_values=round_values,
            )  # fmt: skip
        print(f"{len(trades):,} trades from {data or 'the seeded synthetic feed'}", file=sys.stderr)
        with tqdm(
            total=len(trades), unit="trade", unit_scale=True, disable=None, file=sys.stderr
        ) as bar:

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            result = run_backtest(deployment, trades, params=overrides, progress=progress)
        summary = write_outputs(result, args.out)
    except (StrategyError, BacktestError) as exc:
        print(f"qk backtest: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # the strategy's own refusal at start, e.g. fast >= slow
        print(f"qk backtest: strategy refused to start: {exc}", file=sys.stderr)
        return 2
    for key in ("total_return", "sharpe", "sortino", "max_drawdown", "exposure_time",
                "turnover", "fees", "realized_pnl", "fills", "slippage_total"):  # fmt: skip
        print(f"{key:>16}: {summary[key]}")
    print(f"report: {args.out / 'report.html'}")
    if not args.no_track:
        run_id = track_backtest(
            args.out,
            summary,
            {"strategy": summary["params"], "data": _data_params(args, data, round_values)},
            fingerprint_array(trades),
            args.config,
            runs_root=args.runs,
            mlflow_uri=args.mlflow,
        )
        print(f"run: {run_id}")
    return 0
