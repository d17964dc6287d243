"""Binance public data dumps (data.binance.vision) → TradeEvent and BarEvent records.

Column layouts (binance/binance-public-data README; the header names are those of the USD-M
futures files, which have a header row since 2022-08; spot files have none):

* trades: ``id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]`` (spot has the 7th);
* aggTrades: ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,
  is_buyer_maker[,is_best_match]``;
* klines: ``open_time,open,high,low,close,volume,close_time,quote_volume,count,
  taker_buy_volume,taker_buy_quote_volume,ignore``.

Files are read as CSV or straight from the ``.zip`` data.binance.vision serves (one CSV inside).
A first line whose first field is not a number is a header and must name these columns. Times are
ms since the epoch, except spot files from 2025-01-01 on, which are in µs; the unit is told by
magnitude (:func:`qk.data.parsing.parse_epoch_column`). ``is_buyer_maker`` true means the seller
took liquidity (aggressor SELLER). Trade ids and aggregate trade ids are separate id spaces, both
stored as ``venue_trade_id``: keep them in separate stores.

Klines become venue TIME bars: ``timeframe_ns`` is ``close_time - open_time`` plus one unit of
the file's time resolution, ``close_time``/``ts_event`` is the exclusive end of the interval,
``vwap`` is ``quote_volume / volume`` rounded half-even to the average-price precision (the dump
holds no exact VWAP), 0 when the volume is 0.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv

from qk.data.errors import DataFileError
from qk.data.parsing import (
    Locator,
    parse_bool_column,
    parse_decimal_column,
    parse_epoch_column,
    parse_int_column,
)
from qk.instruments import Instrument
from qk.schemas.enums import AggressorSide, BarAggregation, BarSource
from qk.schemas.fixed import AVERAGE_PRICE_EXTRA_PRECISION
from qk.schemas.records import new_records

__all__ = [
    "AGG_TRADE_COLUMNS",
    "KLINE_COLUMNS",
    "TRADE_COLUMNS",
    "read_binance_aggtrades",
    "read_binance_klines",
    "read_binance_trades",
]

TRADE_COLUMNS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match")
"""Columns of a trades dump; futures files stop before ``is_best_match``."""
AGG_TRADE_COLUMNS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
    "is_best_match",
)
"""Columns of an aggTrades dump; futures files stop before ``is_best_match``."""
KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
"""Columns of a klines dump."""

_UNIT_NS = {"ms": 1_000_000, "us": 1_000}


def _read_dump(
    path: Path, columns: Sequence[str], optional_last: bool, what: str
) -> tuple[pa.Table, int]:
    """The dump as text columns named ``columns``, and the file line of data row 1."""
    data = _dump_bytes(path)
    first_line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
    first = next(csv.reader([first_line]), None) if first_line.strip() else None
    if first is None:
        problem = "the first line is empty" if data.strip() else "empty file"
        raise DataFileError(path, f"{problem} (expected a Binance {what} dump)")
    counts = (len(columns) - 1, len(columns)) if optional_last else (len(columns),)
    expected = ",".join(columns[:-1]) + (
        f"[,{columns[-1]}]" if optional_last else f",{columns[-1]}"
    )
    has_header = not first[0].strip().lstrip("-").isdigit()
    if has_header:
        names = [c.strip().lower() for c in first]
        if len(names) not in counts or tuple(names) != tuple(columns[: len(names)]):
            raise DataFileError(
                path,
                f"header {','.join(first)!r} is not a Binance {what} header; expected {expected}",
            )
    elif len(first) not in counts:
        raise DataFileError(
            path,
            f"{len(first)} fields, a Binance {what} dump has {' or '.join(map(str, counts))} "
            f"({expected})",
            row=1,
            line=1,
        )
    width = len(first)
    names = list(columns[:width])
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if has_header else 0),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DataFileError(path, f"not a Binance {what} dump: {exc}") from None
    if invalid:
        _raise_wrong_width(path, data, width, has_header)
    return table, 2 if has_header else 1


def _raise_wrong_width(path: Path, data: bytes, width: int, has_header: bool) -> None:
    # Arrow's invalid-row callback does not know the line; find it (error path only).
    text = io.StringIO(data.decode("utf-8", "replace"), newline="")
    for line, fields in enumerate(csv.reader(text), start=1):
        if fields and len(fields) != width and not (has_header and line == 1):
            raise DataFileError(
                path, f"{len(fields)} fields, the first row has {width}",
                row=line - (1 if has_header else 0), line=line,
            )  # fmt: skip
    raise DataFileError(path, f"a row does not have {width} fields")


def _dump_bytes(path: Path) -> bytes:
    """The CSV bytes of a dump: the file, or the one CSV inside a data.binance.vision ``.zip``."""
    if not path.exists():
        raise DataFileError(path, "no such file")
    if path.suffix.lower() != ".zip":
        return path.read_bytes()
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise DataFileError(path, f"expected one .csv in the zip, found {len(members)}")
            return archive.read(members[0])
    except zipfile.BadZipFile as exc:
        raise DataFileError(path, f"not a zip file: {exc}") from None


def _locator(path: Path, column: str, first_line: int) -> Locator:
    return Locator(path, column, first_line)


def _trade_records(
    path: Path,
    frame: pa.Table,
    first_line: int,
    instrument: Instrument,
    names: tuple[str, str, str, str, str],
) -> npt.NDArray[np.void]:
    id_col, price_col, qty_col, time_col, maker_col = names
    trade_id = parse_int_column(frame.column(id_col), _locator(path, id_col, first_line), minimum=1)
    price = parse_decimal_column(
        frame.column(price_col), instrument.price_precision, _locator(path, price_col, first_line)
    )
    quantity = parse_decimal_column(
        frame.column(qty_col), instrument.size_precision, _locator(path, qty_col, first_line)
    )
    ts, _unit = parse_epoch_column(frame.column(time_col), _locator(path, time_col, first_line))
    maker = parse_bool_column(frame.column(maker_col), _locator(path, maker_col, first_line))
    records = new_records("TradeEvent", frame.num_rows)
    records["ts_event"] = ts
    records["instrument_id"] = instrument.instrument_id
    records["aggressor"] = np.where(maker, AggressorSide.SELLER, AggressorSide.BUYER)
    records["price"] = price
    records["quantity"] = quantity
    records["venue_trade_id"] = trade_id.astype(np.uint64)
    return records


def read_binance_trades(path: Path, instrument: Instrument) -> npt.NDArray[np.void]:
    """A Binance trades dump → TradeEvent records (``venue_trade_id`` = trade id), file order.

    Raises:
        DataFileError: naming the file, row and column of the first bad value.
    """
    frame, first_line = _read_dump(path, TRADE_COLUMNS, True, "trades")
    return _trade_records(
        path, frame, first_line, instrument, ("id", "price", "qty", "time", "is_buyer_maker")
    )


def read_binance_aggtrades(path: Path, instrument: Instrument) -> npt.NDArray[np.void]:
    """A Binance aggTrades dump → TradeEvent records (``venue_trade_id`` = aggregate trade id).

    Raises:
        DataFileError: naming the file, row and column of the first bad value.
    """
    frame, first_line = _read_dump(path, AGG_TRADE_COLUMNS, True, "aggTrades")
    locate = _locator(path, "last_trade_id", first_line)
    first_id = parse_int_column(
        frame.column("first_trade_id"), _locator(path, "first_trade_id", first_line)
    )
    last_id = parse_int_column(frame.column("last_trade_id"), locate)
    backwards = last_id < first_id
    if backwards.any():
        index = int(np.flatnonzero(backwards)[0])
        raise locate.error(
            index, f"{int(last_id[index])} is before first_trade_id {int(first_id[index])}"
        )
    return _trade_records(
        path, frame, first_line, instrument,
        ("agg_trade_id", "price", "quantity", "transact_time", "is_buyer_maker"),
    )  # fmt: skip


def read_binance_klines(path: Path, instrument: Instrument) -> npt.NDArray[np.void]:
    """A Binance klines dump → BarEvent records (venue TIME bars, revision 0), file order.

    Raises:
        DataFileError: naming the file, row and column of the first bad value.
    """
    frame, first_line = _read_dump(path, KLINE_COLUMNS, False, "klines")

    def where(column: str) -> Locator:
        return _locator(path, column, first_line)

    pp, sp = instrument.price_precision, instrument.size_precision
    open_time, unit = parse_epoch_column(frame.column("open_time"), where("open_time"))
    close_raw, close_unit = parse_epoch_column(frame.column("close_time"), where("close_time"))
    if frame.num_rows and close_unit != unit:
        raise where("close_time").error(0, f"is in {close_unit}, open_time in {unit}")
    end = close_raw + _UNIT_NS[unit]
    not_after = end <= open_time
    if not_after.any():
        index = int(np.flatnonzero(not_after)[0])
        raise where("close_time").error(
            index, f"{frame.column('close_time')[index].as_py()!r} is not after open_time"
        )
    prices = {
        c: parse_decimal_column(frame.column(c), pp, where(c))
        for c in ("open", "high", "low", "close")
    }
    _check_ohlc(prices, where)
    volume = parse_decimal_column(frame.column("volume"), sp, where("volume"))
    count = parse_int_column(frame.column("count"), where("count"))
    vwap = _vwaps(
        frame.column("quote_volume").to_pylist(),
        frame.column("volume").to_pylist(),
        pp + AVERAGE_PRICE_EXTRA_PRECISION,
        where("quote_volume"),
    )
    bars = new_records("BarEvent", frame.num_rows)
    bars["ts_event"] = end
    bars["instrument_id"] = instrument.instrument_id
    bars["bar_source"] = BarSource.VENUE
    bars["aggregation"] = BarAggregation.TIME
    bars["timeframe_ns"] = end - open_time
    bars["open_time"] = open_time
    bars["close_time"] = end
    for column, values in prices.items():
        bars[column] = values
    bars["volume"] = volume
    bars["vwap"] = vwap
    bars["trade_count"] = count.astype(np.uint64)
    return bars


def _check_ohlc(prices: dict[str, npt.NDArray[np.int64]], where: Callable[[str], Locator]) -> None:
    high, low = prices["high"], prices["low"]
    for column in ("open", "close", "low"):
        above = prices[column] > high
        if above.any():
            index = int(np.flatnonzero(above)[0])
            raise where(column).error(index, f"{column} is above high")
    for column in ("open", "close"):
        below = prices[column] < low
        if below.any():
            index = int(np.flatnonzero(below)[0])
            raise where(column).error(index, f"{column} is below low")


_CONTEXT = Context(prec=60)


def _vwaps(
    quote: list[str], volume: list[str], precision: int, where: Locator
) -> npt.NDArray[np.int64]:
    out = np.zeros(len(quote), dtype=np.int64)
    step = Decimal(1).scaleb(-precision)
    for index, (q, v) in enumerate(zip(quote, volume, strict=True)):
        try:
            quote_value, volume_value = Decimal(q.strip()), Decimal(v.strip())
        except InvalidOperation:
            raise where.error(index, f"{q!r} is not a decimal number") from None
        if not quote_value.is_finite() or quote_value < 0:
            raise where.error(index, f"{q!r} is not a non-negative decimal number")
        if volume_value:
            average = _CONTEXT.divide(quote_value, volume_value)
            out[index] = int(
                average.quantize(step, rounding=ROUND_HALF_EVEN, context=_CONTEXT).scaleb(precision)
            )
    return out
