"""Kite Connect historical candles (``GET /instruments/historical/{token}/{interval}``) → BarEvent.

The response is ``{"status": "success", "data": {"candles": [[time, open, high, low, close,
volume(, oi)], ...]}}`` with times like ``2017-12-15T09:15:00+0530`` (the candle's start, IST).
Prices are JSON numbers in rupees; they are converted exactly through their shortest repr and
must fit the instrument's price precision. Volume is in shares (units of the instrument).
BarEvent has no open-interest field, so ``oi`` (present when ``oi=1`` was asked) is checked to be
a number and otherwise not stored. Kite gives no VWAP or trade count: both are stored as 0.

The response does not say its interval. Pass it (``minute``, ``3minute`` ... ``60minute``,
``day``, or a duration such as ``5m``); otherwise the smallest gap between consecutive candles is
taken, which needs at least two candles.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from qk.data.errors import DataFileError
from qk.instruments import Instrument
from qk.schemas.enums import BarAggregation, BarSource
from qk.schemas.fixed import FixedPointError, to_raw
from qk.schemas.records import new_records

__all__ = ["CANDLE_COLUMNS", "KITE_INTERVALS", "interval_ns", "read_kite_candles"]

CANDLE_COLUMNS: Final = ("time", "open", "high", "low", "close", "volume", "oi")
"""Positions in one candle array."""

_MINUTE: Final = 60 * 10**9
KITE_INTERVALS: Final = {
    "minute": _MINUTE,
    "3minute": 3 * _MINUTE,
    "5minute": 5 * _MINUTE,
    "10minute": 10 * _MINUTE,
    "15minute": 15 * _MINUTE,
    "30minute": 30 * _MINUTE,
    "60minute": 60 * _MINUTE,
    "day": 1440 * _MINUTE,
}
"""Kite's interval names and their durations, ns."""

_DURATION_RE = re.compile(r"^(\d+)(s|m|h|d)$")
_UNIT_NS = {"s": 10**9, "m": _MINUTE, "h": 60 * _MINUTE, "d": 1440 * _MINUTE}


def interval_ns(text: str) -> int:
    """A Kite interval name or a duration (``30s``, ``5m``, ``1h``, ``1d``) in ns.

    Raises:
        ValueError: anything else.
    """
    if text in KITE_INTERVALS:
        return KITE_INTERVALS[text]
    match = _DURATION_RE.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"interval {text!r} is neither a Kite interval ({', '.join(KITE_INTERVALS)}) nor a "
            "duration like 5m"
        )
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def _number(path: Path, row: int, column: str, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataFileError(path, f"{value!r} is not a number", row=row, column=column)
    if isinstance(value, float) and not math.isfinite(value):
        raise DataFileError(path, f"{value!r} is not a finite number", row=row, column=column)
    return value


def _raw(path: Path, row: int, column: str, value: Any, precision: int) -> int:
    number = _number(path, row, column, value)
    try:
        return to_raw(number, precision)
    except FixedPointError as exc:
        raise DataFileError(path, str(exc), row=row, column=column) from None


def _candles(path: Path) -> list[Any]:
    if not path.exists():
        raise DataFileError(path, "no such file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(path, f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DataFileError(path, "expected a JSON object with data.candles")
    if document.get("status", "success") != "success":
        raise DataFileError(path, f"status is {document.get('status')!r}, not 'success'")
    data = document.get("data")
    candles = data.get("candles") if isinstance(data, dict) else None
    if not isinstance(candles, list):
        raise DataFileError(path, "no list at data.candles (not a Kite historical response)")
    return candles


def read_kite_candles(
    path: Path, instrument: Instrument, *, interval: str | None = None
) -> npt.NDArray[np.void]:
    """A Kite historical candles JSON file → BarEvent records (venue TIME bars), file order.

    Args:
        path: the JSON response saved to a file.
        instrument: the instrument the candles are of.
        interval: the candle interval (see the module doc); inferred when None.

    Raises:
        DataFileError: naming the file, the candle (1-based row) and the column of a bad value.
    """
    candles = _candles(path)
    count = len(candles)
    opens = np.zeros(count, dtype=np.int64)
    values = np.zeros((count, 5), dtype=np.int64)
    pp, sp = instrument.price_precision, instrument.size_precision
    for index, candle in enumerate(candles):
        row = index + 1
        if not isinstance(candle, list) or len(candle) not in (6, 7):
            size = len(candle) if isinstance(candle, list) else type(candle).__name__
            raise DataFileError(
                path, f"a candle is [time, open, high, low, close, volume(, oi)], got {size} items",
                row=row,
            )  # fmt: skip
        stamp = candle[0]
        try:
            opened = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
        except (TypeError, ValueError):
            raise DataFileError(
                path, f"{stamp!r} is not a time like 2017-12-15T09:15:00+0530", row=row,
                column="time",
            ) from None  # fmt: skip
        opens[index] = int(opened.timestamp()) * 10**9
        for position, column in enumerate(("open", "high", "low", "close"), start=1):
            values[index, position - 1] = _raw(path, row, column, candle[position], pp)
        values[index, 4] = _raw(path, row, "volume", candle[5], sp)
        if values[index, 4] < 0:
            raise DataFileError(path, f"{candle[5]!r} is negative", row=row, column="volume")
        if len(candle) == 7:
            _number(path, row, "oi", candle[6])
        o, h, low, c = values[index, :4].tolist()
        if not low <= min(o, c) <= max(o, c) <= h:
            raise DataFileError(
                path, f"open {candle[1]}, high {candle[2]}, low {candle[3]}, close {candle[4]} "
                "are not low <= open, close <= high", row=row, column="high",
            )  # fmt: skip
    timeframe = _timeframe(path, opens, interval)
    bars = new_records("BarEvent", count)
    bars["ts_event"] = opens + timeframe
    bars["instrument_id"] = instrument.instrument_id
    bars["bar_source"] = BarSource.VENUE
    bars["aggregation"] = BarAggregation.TIME
    bars["timeframe_ns"] = timeframe
    bars["open_time"] = opens
    bars["close_time"] = opens + timeframe
    for position, column in enumerate(("open", "high", "low", "close", "volume")):
        bars[column] = values[:, position]
    return bars


def _timeframe(path: Path, opens: npt.NDArray[np.int64], interval: str | None) -> int:
    if interval is not None:
        return interval_ns(interval)
    if len(opens) < 2:
        raise DataFileError(path, "cannot infer the interval from fewer than 2 candles; pass it")
    gaps = np.diff(opens)
    not_forward = np.flatnonzero(gaps <= 0)
    if len(not_forward):
        index = int(not_forward[0]) + 1
        raise DataFileError(
            path, "candle time is not after the previous candle's", row=index + 1, column="time"
        )
    return int(gaps.min())
