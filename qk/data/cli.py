"""``qk data import|ls|export|compact-wal``: the research data store from the command line.

::

    qk data import --kind binance-trades BTCUSDT-trades-2025-01-01.csv --venue BINANCE --symbol BTCUSDT
    qk data ls
    qk data export --type TradeEvent --venue BINANCE --symbol BTCUSDT --from 2025-01-01 --out t.parquet
    qk data compact-wal out/demo/wal --instruments sim
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from qk.data.errors import DataError
from qk.data.export import export_from_store, export_from_wal
from qk.data.importers import IMPORT_KINDS, import_files
from qk.data.store import DEFAULT_STORE, NO_INSTRUMENT, DataStore, InstrumentInfo
from qk.data.wal_compaction import compact_wal
from qk.instruments import Instrument, load_instruments
from qk.schemas.records import LAYOUTS

__all__ = ["find_instrument", "instruments_from", "register"]

DEFAULT_INSTRUMENTS = Path("configs/instruments.toml")
SIM_INSTRUMENTS = "sim"
"""``--instruments sim``: the built-in simulated venue's instrument (what ``qk demo`` logs)."""


def instruments_from(source: str | Path) -> list[Instrument]:
    """The instruments of a TOML/CSV file, or the built-in simulated ones for ``sim``."""
    if str(source) == SIM_INSTRUMENTS:
        from qk.marketdata.sim import SIM_BTCUSDT

        return [SIM_BTCUSDT]
    return load_instruments(source)


def find_instrument(source: str | Path, venue: str, symbol: str) -> Instrument:
    """The instrument ``venue``/``symbol`` of an instruments source.

    Raises:
        DataError: not in it (naming what is).
    """
    instruments = instruments_from(source)
    for instrument in instruments:
        if instrument.venue.name == venue.upper() and instrument.symbol == symbol:
            return instrument
    known = ", ".join(f"{i.venue.name} {i.symbol}" for i in instruments)
    raise DataError(f"{venue} {symbol} is not in {source} (it has: {known})")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _cmd_import(args: argparse.Namespace) -> int:
    instrument = find_instrument(args.instruments, args.venue, args.symbol)
    store = DataStore(args.store)
    results = import_files(
        store,
        args.kind,
        list(args.files),
        instrument,
        interval=args.interval,
        round_values=args.round,
    )
    for result in results:
        report = result.report
        dates = f"{report.dates[0]}..{report.dates[-1]}" if report.dates else "-"
        print(
            f"{result.path}: {report.rows_in:,} {report.record_type} rows, {report.rows_written:,} "
            f"new, {report.rows_skipped:,} already stored; dates {dates}"
        )
    print(f"store: {store.root}")
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    store = DataStore(args.store)
    rows = list(store.partitions())
    if not rows:
        print(f"{store.root}: empty")
        return 0
    print(
        f"{'record type':<18} {'venue':<12} {'instrument':<22} {'from':<10} {'to':<10} {'rows':>12} files"
    )
    for p in rows:
        print(
            f"{p.record_type:<18} {p.venue:<12} {p.symbol:<22} {p.first_date} {p.last_date} "
            f"{p.rows:>12,} {p.files}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    venue = args.venue.upper() if args.venue else NO_INSTRUMENT
    symbol = args.symbol or NO_INSTRUMENT
    if (venue == NO_INSTRUMENT) != (symbol == NO_INSTRUMENT):
        raise DataError("give both --venue and --symbol, or neither (records naming no instrument)")
    if args.wal is not None:
        info = None
        if venue != NO_INSTRUMENT:
            info = InstrumentInfo.of(find_instrument(args.instruments, venue, symbol))
        rows = export_from_wal(args.wal, args.type, info, args.out, start=args.start, end=args.end)
    else:
        rows = export_from_store(
            DataStore(args.store),
            args.type,
            venue,
            symbol,
            args.out,
            start=args.start,
            end=args.end,
        )
    print(f"wrote {rows:,} {args.type} rows to {args.out}")
    return 0


def _cmd_compact(args: argparse.Namespace) -> int:
    store = DataStore(args.store)
    report = compact_wal(
        args.wal_dir, store, instruments_from(args.instruments), source=str(args.instruments)
    )
    print(f"{args.wal_dir}: {report.frames:,} frames, {report.records:,} records")
    for write in report.writes:
        print(
            f"  {write.record_type:<18} {write.venue}/{write.symbol}: {write.rows_written:,} new, "
            f"{write.rows_skipped:,} already stored"
        )
    for reason, skipped in report.skipped.items():
        print(f"  skipped {skipped.count:,} frame(s), first seq {skipped.first_seq}: {reason}")
    if report.stopped_at is not None:
        path, offset, reason = report.stopped_at
        print(f"  stopped at a torn tail: {path} offset {offset}: {reason} (run `qk wal recover`)")
    print(f"store: {store.root}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``qk data`` and its subcommands to the ``qk`` parser."""
    data = sub.add_parser("data", help="research data store: import, list, export, compact a WAL")
    commands = data.add_subparsers(dest="data_command", required=True)

    def store_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--store",
            type=Path,
            default=DEFAULT_STORE,
            help=f"store root (default {DEFAULT_STORE}/)",
        )

    def instruments_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--instruments", default=str(DEFAULT_INSTRUMENTS),
            help=f"instrument master file, or '{SIM_INSTRUMENTS}' for the simulated venue "
            f"(default {DEFAULT_INSTRUMENTS})",
        )  # fmt: skip

    imp = commands.add_parser("import", help="import files into the store (idempotent)")
    imp.add_argument("--kind", required=True, choices=sorted(IMPORT_KINDS))
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--venue", required=True, help="venue of the instrument, e.g. BINANCE, NSE")
    imp.add_argument("--symbol", required=True, help="venue symbol, e.g. BTCUSDT, INFY")
    imp.add_argument(
        "--interval", help="kite-candles: minute, 5minute, ..., day or 5m (default: inferred)"
    )
    imp.add_argument(
        "--round", action="store_true",
        help="trades: round prices/quantities to the instrument's precision instead of refusing",
    )  # fmt: skip
    store_option(imp)
    instruments_option(imp)
    imp.set_defaults(func=_cmd_import)

    ls = commands.add_parser("ls", help="record types, instruments, date ranges and rows stored")
    store_option(ls)
    ls.set_defaults(func=_cmd_ls)

    exp = commands.add_parser(
        "export", help="one record type of one instrument -> one Parquet file"
    )
    exp.add_argument("--type", required=True, choices=[layout.name for layout in LAYOUTS])
    exp.add_argument("--venue", help="venue (omit with --symbol for records naming no instrument)")
    exp.add_argument("--symbol", help="venue symbol")
    exp.add_argument("--from", dest="start", type=_date, help="first UTC date, YYYY-MM-DD")
    exp.add_argument("--to", dest="end", type=_date, help="last UTC date (inclusive)")
    exp.add_argument("--out", required=True, type=Path, help="the Parquet file to write")
    exp.add_argument("--wal", type=Path, help="export from this WAL directory instead of the store")
    store_option(exp)
    instruments_option(exp)
    exp.set_defaults(func=_cmd_export)

    compact = commands.add_parser("compact-wal", help="write a WAL's records into the store")
    compact.add_argument("wal_dir", type=Path, metavar="WAL_DIR")
    store_option(compact)
    instruments_option(compact)
    compact.set_defaults(func=_cmd_compact)
