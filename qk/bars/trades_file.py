"""Trades from CSV or Parquet files into fixed-point arrays, and bars out to CSV.

Input columns (``qk bars``):

* ``ts_event``: event time, integer ns since epoch UTC or ISO-8601 text (``2021-01-08T00:00:00.278Z``);
* ``price``, ``quantity``: decimals;
* ``trade_id`` (optional): venue trade id, positive integer (duplicates are dropped);
* ``side`` (optional): ``buy``/``sell`` (the aggressor); read and checked, bars do not use it.

The Binance trade exports of the nautilus_trader test data (``tests/fixtures/binance/``) name the
time column ``timestamp`` and the side ``buyer_maker``; these names are mapped automatically
(``timestamp`` → ``ts_event``; ``buyer_maker`` true → aggressor ``sell``), and the mapping is
reported in ``TradesTable.notes``.

Decimals are read as float64 and converted exactly through their shortest repr
(``qk.schemas.fixed.to_raw_array``); a value with more decimals than the precision is an error,
never rounded away silently. Sources that stored decimals as binary floats (the fixture holds
``0.00031099999999999997``, the float nearest 0.000311 that pyarrow printed in full) need
``round_values=True`` (``qk bars --round``): round to the nearest grid value.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from qk.schemas.fixed import (
    AVERAGE_PRICE_EXTRA_PRECISION,
    FixedPointError,
    check_precision,
    to_raw,
    to_raw_array,
)

__all__ = [
    "BAR_COLUMNS",
    "TradesFileError",
    "TradesTable",
    "format_decimal",
    "read_trades",
    "write_bars_csv",
]

BAR_COLUMNS = (
    "open_time",
    "close_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "vwap",
    "flags",
)
"""Columns of a bars CSV, in order."""

# Largest float64 magnitude below which every integer is exact.
_FLOAT_EXACT = 2.0**53

_ALIASES = {"timestamp": "ts_event", "buyer_maker": "side"}


class TradesFileError(ValueError):
    """A trades file that cannot be read: missing column, unparseable value (file, row, column)."""


@dataclass
class TradesTable:
    """Ticks read from a file, in file order, as fixed-point arrays."""

    ts_event: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.int64]
    trade_id: npt.NDArray[np.uint64]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.ts_event.shape[0])


def _where(path: Path, index: int, column: str, is_csv: bool) -> str:
    row = f"row {index + 1}" + (f" (line {index + 2})" if is_csv else "")
    return f"{path}: {row}, column {column!r}"


def _read_frame(path: Path) -> tuple[pd.DataFrame, bool]:
    suffix = path.suffix.lower()
    if not path.exists():
        raise TradesFileError(f"{path}: no such file")
    if suffix == ".parquet":
        return pq.read_table(path).to_pandas(), False
    if suffix in (".csv", ".txt"):
        # Everything as text: the parsers below name the row and column of a bad value.
        return pd.read_csv(path, dtype=str, keep_default_na=False), True
    raise TradesFileError(f"{path}: unknown file type {suffix!r} (expected .csv or .parquet)")


def _parse_time(values: pd.Series, path: Path, is_csv: bool) -> npt.NDArray[np.int64]:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        if stamps.isna().any():
            bad = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise TradesFileError(f"{_where(path, bad, 'ts_event', is_csv)}: missing time")
        return np.asarray(stamps.dt.as_unit("ns").astype("int64"), dtype=np.int64)
    if pd.api.types.is_integer_dtype(values):
        return np.asarray(values, dtype=np.int64)
    text = values.astype(str).str.strip()
    numeric = text.str.fullmatch(r"-?\d+")
    if numeric.all():
        return np.asarray(text.astype(np.int64), dtype=np.int64)
    if numeric.any():
        bad = int(np.flatnonzero(~numeric.to_numpy())[0])
        value = text.iloc[bad]
        iso = not pd.isna(pd.to_datetime(value, utc=True, format="ISO8601", errors="coerce"))
        problem = (
            "is ISO-8601 but the column's other rows are integer ns"
            if iso
            else "is neither integer ns since epoch nor an ISO-8601 time"
        )
        raise TradesFileError(f"{_where(path, bad, 'ts_event', is_csv)}: {value!r} {problem}")
    stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    if stamps.isna().any():
        bad = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise TradesFileError(
            f"{_where(path, bad, 'ts_event', is_csv)}: {text.iloc[bad]!r} is neither integer ns "
            "since epoch nor an ISO-8601 time"
        )
    return np.asarray(stamps.dt.as_unit("ns").astype("int64"), dtype=np.int64)


def _parse_decimal(
    values: pd.Series, column: str, precision: int, path: Path, is_csv: bool, round_values: bool
) -> npt.NDArray[np.int64]:
    numbers = np.asarray(pd.to_numeric(values, errors="coerce"), dtype=np.float64)
    bad_mask = ~np.isfinite(numbers)
    if bad_mask.any():
        bad = int(np.flatnonzero(bad_mask)[0])
        raise TradesFileError(
            f"{_where(path, bad, column, is_csv)}: {values.iloc[bad]!r} is not a decimal number"
        )
    if round_values:
        scaled = np.rint(numbers * float(10**precision))
        too_big = np.abs(scaled) >= _FLOAT_EXACT
        if too_big.any():
            bad = int(np.flatnonzero(too_big)[0])
            raise TradesFileError(
                f"{_where(path, bad, column, is_csv)}: {values.iloc[bad]!r} is too large to "
                f"round exactly at {precision} decimals"
            )
        return scaled.astype(np.int64)
    try:
        return to_raw_array(numbers, precision)
    except FixedPointError:
        # Find the row to name (the vectorised error names an index; re-check row by row).
        for index, number in enumerate(numbers):
            try:
                to_raw(float(number), precision)
            except FixedPointError as exc:
                option = "--price-precision" if column == "price" else "--size-precision"
                raise TradesFileError(
                    f"{_where(path, index, column, is_csv)}: {values.iloc[index]!r}: {exc} "
                    f"(set {option}, or --round to round to it)"
                ) from None
        raise


def _parse_side(values: pd.Series, source: str, path: Path, is_csv: bool) -> None:
    text = values.astype(str).str.strip().str.lower()
    allowed = {"true", "false"} if source == "buyer_maker" else {"buy", "sell", ""}
    bad_mask = ~text.isin(allowed).to_numpy()
    if bad_mask.any():
        bad = int(np.flatnonzero(bad_mask)[0])
        raise TradesFileError(
            f"{_where(path, bad, source, is_csv)}: {values.iloc[bad]!r} is not one of "
            f"{sorted(allowed)}"
        )


def read_trades(
    path: Path, price_precision: int, size_precision: int, *, round_values: bool = False
) -> TradesTable:
    """Read a CSV or Parquet trades file (see the module doc for the columns).

    Args:
        path: the file (``.csv`` or ``.parquet``).
        price_precision: decimals of prices.
        size_precision: decimals of quantities.
        round_values: round prices and quantities to the nearest grid value instead of refusing
            values with more decimals (for sources that stored decimals as binary floats).

    Raises:
        TradesFileError: naming the file, and the row and column of a bad value.
    """
    check_precision(price_precision)
    check_precision(size_precision)
    frame, is_csv = _read_frame(path)
    notes: list[str] = []
    for alias, canonical in _ALIASES.items():
        if alias in frame.columns and canonical not in frame.columns:
            frame = frame.rename(columns={alias: canonical})
            meaning = " (true = aggressor sell)" if alias == "buyer_maker" else ""
            notes.append(f"column {alias!r} read as {canonical!r}{meaning}")
            if alias == "buyer_maker":
                _parse_side(frame[canonical], alias, path, is_csv)
    missing = [c for c in ("ts_event", "price", "quantity") if c not in frame.columns]
    if missing:
        raise TradesFileError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; found "
            f"{', '.join(map(repr, frame.columns))}"
        )
    if "side" in frame.columns and not any("'side'" in n for n in notes):
        _parse_side(frame["side"], "side", path, is_csv)
    ts = _parse_time(frame["ts_event"], path, is_csv)
    price = _parse_decimal(frame["price"], "price", price_precision, path, is_csv, round_values)
    quantity = _parse_decimal(
        frame["quantity"], "quantity", size_precision, path, is_csv, round_values
    )
    if "trade_id" in frame.columns:
        ids_text = frame["trade_id"].astype(str).str.strip()
        ok = ids_text.str.fullmatch(r"\d+").to_numpy()
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise TradesFileError(
                f"{_where(path, bad, 'trade_id', is_csv)}: {ids_text.iloc[bad]!r} is not a "
                "non-negative integer"
            )
        trade_id = ids_text.astype(np.uint64).to_numpy()
    else:
        trade_id = np.zeros(len(ts), np.uint64)
        notes.append("no 'trade_id' column: duplicates cannot be detected")
    return TradesTable(ts, price, quantity, trade_id, notes)


def format_decimal(raw: int, precision: int) -> str:
    """Raw fixed point as the shortest exact decimal text: (3943248, 2) → ``"39432.48"``."""
    text = format(Decimal(raw).scaleb(-precision), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def write_bars_csv(
    path: Path, bars: npt.NDArray[np.void], price_precision: int, size_precision: int
) -> None:
    """Write bars with ``BAR_COLUMNS`` (times ns since epoch UTC, prices and sizes as decimals,
    ``flags`` the BarFlag bits as an integer)."""
    vwap_precision = price_precision + AVERAGE_PRICE_EXTRA_PRECISION
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(BAR_COLUMNS)
        for bar in bars:
            writer.writerow(
                (
                    int(bar["open_time"]),
                    int(bar["close_time"]),
                    format_decimal(int(bar["open"]), price_precision),
                    format_decimal(int(bar["high"]), price_precision),
                    format_decimal(int(bar["low"]), price_precision),
                    format_decimal(int(bar["close"]), price_precision),
                    format_decimal(int(bar["volume"]), size_precision),
                    int(bar["trade_count"]),
                    format_decimal(int(bar["vwap"]), vwap_precision),
                    int(bar["flags"]),
                )
            )
