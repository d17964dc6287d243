"""``qk backtest``: run a deployment descriptor over synthetic or recorded trades.

::

    qk backtest --config configs/momentum_sim.toml --out out/bt
    qk backtest --config configs/momentum_sim.toml --data trades.parquet --param fast=5 --out x
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from qk.backtest.engine import instrument_of, run_backtest
from qk.backtest.errors import BacktestError, BacktestErrorReason
from qk.backtest.report import write_outputs
from qk.bars.trades_file import TradesFileError, read_trades
from qk.instruments import Instrument
from qk.marketdata.sim import random_walk_trades
from qk.schemas import new_records
from qk.strategy import Deployment, StrategyError, load_descriptor, parse_assignments

__all__ = ["configure_parser", "load_trades", "run"]

SYNTHETIC_TRADES: Final = 200_000
SYNTHETIC_SEED: Final = 7
SYNTHETIC_INTERVAL_MS: Final = 300.0
"""Mean time between synthetic trades: 200k trades span ~16.7 hours, ~1000 one-minute bars."""
SYNTHETIC_MAX_LOTS: Final = 5_000
"""Largest synthetic trade, lots (0.05 BTC on SIM BTCUSDT): an order of a few hundredths of a
BTC can fill against one trade, as on a liquid book."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``qk backtest`` arguments to ``parser``."""
    parser.add_argument("--config", required=True, type=Path, help="deployment descriptor TOML")
    parser.add_argument(
        "--data",
        type=Path,
        help="trades CSV/Parquet of the deployment's first instrument (default: seeded "
        f"synthetic trades, {SYNTHETIC_TRADES} of them)",
    )
    parser.add_argument("--trades", type=int, default=SYNTHETIC_TRADES,
                        help="number of synthetic trades (without --data)")  # fmt: skip
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


def load_trades(
    deployment: Deployment, data: Path | None, *, count: int = SYNTHETIC_TRADES,
    seed: int = SYNTHETIC_SEED, round_values: bool = False,
) -> npt.NDArray[np.void]:  # fmt: skip
    """The trade tape: a file's trades, or seeded synthetic ones, for the first instrument.

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


def run(args: argparse.Namespace) -> int:
    """Run ``qk backtest``; 0 on success, 2 on bad input (message on stderr)."""
    try:
        deployment = load_descriptor(args.config)
        overrides = parse_assignments(args.param)
        trades = load_trades(
            deployment, args.data, count=args.trades, seed=args.seed, round_values=args.round
        )
        result = run_backtest(deployment, trades, params=overrides)
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
    return 0
