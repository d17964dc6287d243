"""Column parsers shared by the importers: exact decimals, epoch times in ms or µs, booleans.

Columns arrive as Arrow string arrays (the CSV reader keeps every field as text) and are checked
and converted with Arrow compute kernels, so a dump of millions of rows is parsed in C++. Every
parser takes a :class:`Locator` that turns a 0-based index into the file, 1-based data row, line and
column of a :class:`~qk.data.errors.DataFileError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from qk.data.errors import DataFileError
from qk.schemas.fixed import FixedPointError, check_precision, to_raw

__all__ = [
    "MS_LIMIT",
    "US_LIMIT",
    "Locator",
    "parse_bool_column",
    "parse_decimal_column",
    "parse_epoch_column",
    "parse_int_column",
]

MS_LIMIT = 10**14
"""Epoch values below this are milliseconds (10**14 ms is the year 5138; 10**14 µs is 1973)."""
US_LIMIT = 10**17
"""Epoch values in [MS_LIMIT, US_LIMIT) are microseconds (10**17 µs is the year 5138)."""

_DECIMAL_PATTERN = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$"
_INT_PATTERN = r"^\s*[+-]?\d+\s*$"
_MAX_DIGITS = 18  # every 18-digit integer fits int64

Column: TypeAlias = Any
"""A pyarrow Array or ChunkedArray of strings (pyarrow has no type stubs)."""


@dataclass(frozen=True, slots=True)
class Locator:
    """Where a column's values come from, to name them in errors.

    Attributes:
        path: The file.
        column: Column name as the error shows it.
        first_line: File line of data row 1 (2 when the file has a header line, else 1); 0 when the
            source has no lines (JSON, Parquet).
    """

    path: Path
    column: str
    first_line: int = 0

    def error(self, index: int, problem: str) -> DataFileError:
        """The error for the value at 0-based ``index``."""
        line = self.first_line + index if self.first_line else None
        return DataFileError(self.path, problem, row=index + 1, column=self.column, line=line)


def _array(values: Column) -> pa.Array:
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    return pc.fill_null(array.cast(pa.string()), "")


def _first_false(mask: pa.Array) -> int:
    flags = np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)
    return int(np.flatnonzero(~flags)[0])


def _check_pattern(array: pa.Array, pattern: str, what: str, where: Locator) -> None:
    matches = pc.match_substring_regex(array, pattern)
    if not pc.all(matches).as_py() and len(array):
        bad = _first_false(matches)
        value = array[bad].as_py()
        raise where.error(
            bad, "missing value" if value.strip() == "" else f"{value!r} is not {what}"
        )


def parse_decimal_column(values: Column, precision: int, where: Locator) -> npt.NDArray[np.int64]:
    """Decimal text → raw fixed point at ``precision``, exactly (never rounds).

    Raises:
        DataFileError: a value that is missing, not a decimal, has more decimals than
            ``precision`` or does not fit int64 (naming its row and column).
    """
    check_precision(precision)
    array = _array(values)
    _check_pattern(array, _DECIMAL_PATTERN, "a decimal number", where)
    trimmed = pc.utf8_trim_whitespace(array)
    try:
        # Arrow refuses a cast that would drop decimals ("would cause data loss"): exact by design.
        decimals = pc.cast(trimmed, pa.decimal128(38, precision))
    except pa.ArrowException:
        for index, value in enumerate(trimmed.to_pylist()):
            try:
                to_raw(value, precision)
            except FixedPointError as exc:
                raise where.error(index, str(exc)) from None
        raise
    # decimal128 holds the unscaled integer in 16 little-endian bytes; it fits int64 when the
    # high word is the sign extension of the low one.
    words = np.frombuffer(
        decimals.buffers()[1], dtype=np.int64, count=2 * len(decimals), offset=16 * decimals.offset
    )
    low, high = words[0::2], words[1::2]
    overflow = high != (low >> 63)
    if overflow.any():
        bad = int(np.flatnonzero(overflow)[0])
        raise where.error(
            bad, f"{trimmed[bad].as_py()!r} at precision {precision} is outside the int64 range"
        )
    return low.copy()


def parse_int_column(values: Column, where: Locator, *, minimum: int = 0) -> npt.NDArray[np.int64]:
    """Integer text → int64 (values below ``minimum`` are refused).

    Raises:
        DataFileError: a value that is missing, not an integer, too long or below ``minimum``.
    """
    array = _array(values)
    _check_pattern(array, _INT_PATTERN, "an integer", where)
    digits = pc.utf8_length(pc.utf8_ltrim(pc.utf8_trim_whitespace(array), "+-0"))
    long = np.asarray(digits.to_numpy(zero_copy_only=False)) > _MAX_DIGITS
    if long.any():
        bad = int(np.flatnonzero(long)[0])
        raise where.error(bad, f"{array[bad].as_py()!r} has more than {_MAX_DIGITS} digits")
    numbers = np.asarray(
        pc.cast(pc.utf8_trim_whitespace(array), pa.int64()).to_numpy(), dtype=np.int64
    )
    low = numbers < minimum
    if low.any():
        bad = int(np.flatnonzero(low)[0])
        raise where.error(bad, f"{array[bad].as_py()!r} is below {minimum}")
    return numbers


def parse_bool_column(values: Column, where: Locator) -> npt.NDArray[np.bool_]:
    """``True``/``False`` in any letter case (Binance spot writes ``True``, futures ``true``).

    Raises:
        DataFileError: anything else.
    """
    array = _array(values)
    lower = pc.utf8_lower(pc.utf8_trim_whitespace(array))
    known = pc.is_in(lower, value_set=pa.array(["true", "false"]))
    if not pc.all(known).as_py() and len(array):
        bad = _first_false(known)
        value = array[bad].as_py()
        raise where.error(
            bad, "missing value" if value.strip() == "" else f"{value!r} is not true or false"
        )
    return np.asarray(pc.equal(lower, "true").to_numpy(zero_copy_only=False), dtype=bool)


def parse_epoch_column(values: Column, where: Locator) -> tuple[npt.NDArray[np.int64], str]:
    """Epoch milliseconds or microseconds → ns since epoch UTC, with the unit found.

    The unit is chosen by the magnitude of the first value (below :data:`MS_LIMIT` it is ms,
    below :data:`US_LIMIT` µs) and every other value must have the same unit: Binance wrote spot
    dumps in ms until 2024-12-31 and in µs from 2025-01-01, and one file is never mixed.

    Returns:
        (ns since epoch, ``"ms"`` or ``"us"``).

    Raises:
        DataFileError: a value that is not a non-negative integer, is ns-sized, or whose unit
            differs from the first row's.
    """
    numbers = parse_int_column(values, where, minimum=0)
    if len(numbers) == 0:
        return numbers, "ms"
    first = int(numbers[0])
    if first >= US_LIMIT:
        raise where.error(0, f"{first} is neither ms nor µs since the epoch (too large)")
    unit, scale, low, high = (
        ("ms", 1_000_000, 0, MS_LIMIT) if first < MS_LIMIT else ("us", 1_000, MS_LIMIT, US_LIMIT)
    )
    outside = (numbers < low) | (numbers >= high)
    if outside.any():
        bad = int(np.flatnonzero(outside)[0])
        raise where.error(
            bad,
            f"{int(numbers[bad])} is not in {unit} like row 1 ({first}); a file has one time unit",
        )
    return numbers * scale, unit
