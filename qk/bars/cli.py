"""``qk bars``: a CSV or Parquet file of trades into one bars CSV per timeframe.

    qk bars --input trades.parquet --timeframes 1s,1m,5m --out DIR [--lateness 2s]

The file is aggregated in file order, as a feed would deliver it, with the same engine the live
path uses; each output file holds the final state of every bar (the last revision). A research
tool, and the way anyone can check the aggregator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from qk.schemas.enums import BarFlag

__all__ = ["configure_parser", "main", "run"]

_FLAG_HELP = ", ".join(f"{flag.value}={flag.name}" for flag in BarFlag)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``qk bars`` options to ``parser`` (``qk`` wires it as a subcommand)."""
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    parser.add_argument(
        "--input",
        type=Path,
        required=True,
        metavar="PATH",
        help="trades file (.csv or .parquet): ts_event (ns or ISO-8601), price, quantity, "
        "optional side, trade_id; 'timestamp' and 'buyer_maker' are read as ts_event and side",
    )
    parser.add_argument(
        "--timeframes",
        required=True,
        help="comma-separated: durations (1s,1m,5m,15m,1h,1d, any <int><ns|us|ms|s|m|h|d>), "
        "<int>t tick bars, <decimal>v volume bars",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    parser.add_argument(
        "--lateness", default="0s", help="allowed lateness of out-of-order ticks (e.g. 2s)"
    )
    parser.add_argument(
        "--price-precision", type=int, default=8, help="decimals of prices (default 8)"
    )
    parser.add_argument(
        "--size-precision", type=int, default=8, help="decimals of quantities (default 8)"
    )
    parser.add_argument(
        "--round",
        action="store_true",
        help="round prices and quantities to the precisions instead of refusing extra decimals "
        "(for files that stored decimals as binary floats)",
    )
    parser.add_argument(
        "--calendar",
        choices=("24x7", "nse"),
        default="24x7",
        help="24x7 (UTC days) or nse (09:15-15:30 IST sessions, NSE holidays)",
    )
    parser.add_argument(
        "--contiguous-ids",
        action="store_true",
        help="trade ids go up by 1 (Binance): a jump marks bars INCOMPLETE",
    )
    parser.add_argument(
        "--no-empty", action="store_true", help="do not write EMPTY bars for quiet intervals"
    )
    parser.epilog = f"Output columns: open_time, close_time (ns since epoch UTC), open, high, low, close, volume, trades, vwap, flags ({_FLAG_HELP})."


def run(args: argparse.Namespace) -> int:
    """Run ``qk bars`` with parsed arguments. Raises ValueError subclasses on bad input."""
    # Imported here so that building the ``qk`` parser does not load numpy, pandas and pyarrow.
    import numpy as np

    from qk.bars.aggregator import BarAggregator, FeedConfig, final_bars
    from qk.bars.calendar import CONTINUOUS_UTC, nse_calendar
    from qk.bars.spec import TimeframeError, parse_duration, parse_spec
    from qk.bars.trades_file import read_trades, write_bars_csv

    try:
        specs = [
            parse_spec(text, args.size_precision)
            for text in args.timeframes.split(",")
            if text.strip()
        ]
    except TimeframeError as exc:
        raise TimeframeError(f"--timeframes: {exc}") from None
    try:
        lateness = parse_duration(args.lateness, allow_zero=True)
    except TimeframeError as exc:
        raise TimeframeError(f"--lateness: {exc}") from None
    if not specs:
        raise TimeframeError("--timeframes names no timeframe")
    labels = [s.label for s in specs]
    if len(set(labels)) != len(labels):
        raise TimeframeError(f"--timeframes repeats a timeframe: {args.timeframes}")

    table = read_trades(
        args.input, args.price_precision, args.size_precision, round_values=args.round
    )
    for note in table.notes:
        print(f"note: {note}")
    calendar = nse_calendar() if args.calendar == "nse" else CONTINUOUS_UTC
    aggregator = BarAggregator(
        specs,
        FeedConfig(
            lateness_ns=lateness,
            emit_delay_ns=lateness,
            contiguous_ids=args.contiguous_ids,
            emit_empty=not args.no_empty,
        ),
        calendar=calendar,
    )
    published = [aggregator.update(table.ts_event, table.price, table.quantity, table.trade_id)]
    published.append(aggregator.finish())
    bars = final_bars(np.concatenate(published))

    args.out.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        mine = bars[
            (bars["aggregation"] == int(spec.aggregation)) & (bars["timeframe_ns"] == spec.size)
        ]
        path = args.out / f"bars_{_file_label(spec.label)}.csv"
        write_bars_csv(path, mine, args.price_precision, args.size_precision)
        print(f"{path}: {len(mine):,} bars")
    metrics = aggregator.metrics()
    print(
        f"{len(table):,} trades: {metrics['ticks_accepted']:,} aggregated, "
        f"{metrics['ticks_too_late']:,} too late, {metrics['ticks_duplicate']:,} duplicates, "
        f"{metrics['ticks_out_of_session']:,} outside sessions, {metrics['gaps']:,} gaps"
    )
    return 0


def _file_label(label: str) -> str:
    return label.replace(".", "_")


def main(argv: Sequence[str] | None = None) -> int:
    """``qk bars`` on its own: parse ``argv``, run, print one clear line on bad input (exit 2)."""
    parser = argparse.ArgumentParser(prog="qk bars")
    configure_parser(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (OSError, ValueError) as exc:  # TradesFileError, TimeframeError are ValueErrors
        print(f"qk bars: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
