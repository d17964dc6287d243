"""Fixtures of the strategy tests: synthetic BarEvent records."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pytest

from qk.instruments import Instrument
from qk.schemas import new_records
from qk.schemas.enums import BarAggregation

MINUTE_NS = 60_000_000_000
START_NS = 1_767_225_600_000_000_000


def bar(
    instrument: Instrument,
    close: str,
    index: int,
    *,
    timeframe_ns: int = MINUTE_NS,
    aggregation: BarAggregation = BarAggregation.TIME,
) -> np.void:
    """One bar closing at ``close`` (a decimal string), the ``index``-th minute."""
    record = new_records("BarEvent", 1)[0]
    raw = instrument.price_to_raw(close)
    record["instrument_id"] = instrument.instrument_id
    record["aggregation"] = aggregation
    record["timeframe_ns"] = timeframe_ns
    record["open_time"] = START_NS + index * timeframe_ns
    record["close_time"] = record["ts_event"] = START_NS + (index + 1) * timeframe_ns
    for field in ("open", "high", "low", "close"):
        record[field] = raw
    return record


def bars(instrument: Instrument, closes: Iterable[str]) -> list[np.void]:
    """Consecutive one-minute bars with the given closes."""
    return [bar(instrument, close, index) for index, close in enumerate(closes)]


@pytest.fixture
def make_bar() -> Callable[..., np.void]:
    """``make_bar(instrument, close, index, timeframe_ns=..., aggregation=...)``."""
    return bar


@pytest.fixture
def make_bars() -> Callable[[Instrument, Iterable[str]], list[np.void]]:
    """``make_bars(instrument, closes)``: consecutive one-minute bars."""
    return bars
