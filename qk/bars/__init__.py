"""Bars: ticks (trades or quotes) into OHLCV bars of many timeframes at once.

Time, tick-count and volume bars; event-time watermarks with allowed lateness, revisions of
published bars, duplicate and gap handling, wall-clock flushes of quiet feeds; 24/7 and NSE session
calendars. See ``docs/marketdata.md`` ("Bars and time").
"""

from qk.bars.aggregator import (
    BarAggregator,
    FeedConfig,
    OutsideCalendarError,
    TickResult,
    final_bars,
)
from qk.bars.calendar import CONTINUOUS_UTC, Calendar, calendar_for_venue, nse_calendar
from qk.bars.spec import BarSpec, TimeframeError, parse_duration, parse_spec

__all__ = [
    "CONTINUOUS_UTC",
    "BarAggregator",
    "BarSpec",
    "Calendar",
    "FeedConfig",
    "OutsideCalendarError",
    "TickResult",
    "TimeframeError",
    "calendar_for_venue",
    "final_bars",
    "nse_calendar",
    "parse_duration",
    "parse_spec",
]
