"""Calendars and session alignment: 24/7 UTC days, NSE sessions in IST, holidays, session breaks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qk.bars import (
    CONTINUOUS_UTC,
    BarAggregator,
    BarSpec,
    OutsideCalendarError,
    calendar_for_venue,
    nse_calendar,
    parse_duration,
)
from qk.bars.calendar import CalendarDataError
from qk.schemas.enums import BarFlag, Venue

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
UTC = dt.UTC


def ns(year: int, month: int, day: int, hour: int, minute: int, tz: dt.tzinfo = IST) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=tz).timestamp()) * 10**9


def _bars(agg: BarAggregator, times: list[int]) -> np.ndarray:
    n = len(times)
    return np.concatenate(
        [
            agg.update(
                np.array(times),
                np.arange(100, 100 + n),
                np.ones(n, np.int64),
                np.arange(1, n + 1, dtype=np.uint64),
            ),
            agg.finish(),
        ]
    )


def test_nse_data_file_names_its_source_and_date_and_covers_2025_and_2026() -> None:
    cal = nse_calendar()
    assert cal.years == (2025, 2026)
    assert "2026-11-25" in cal.source and "(verified)" in cal.source
    assert (
        dt.date(2026, 1, 15) in cal.holidays
    )  # the municipal-election closure (NSE, January 2026)
    assert dt.date(2025, 12, 25) in cal.holidays
    assert all(day.weekday() < 5 for day in cal.holidays)


def test_nse_sessions_are_0915_to_1530_ist_on_trading_days_only() -> None:
    starts, ends = nse_calendar().sessions()
    assert starts[0] == ns(2025, 1, 1, 9, 15) and ends[0] == ns(2025, 1, 1, 15, 30)
    session_days = {dt.datetime.fromtimestamp(s / 1e9, IST).date() for s in starts.tolist()}
    assert dt.date(2025, 2, 26) not in session_days  # Mahashivratri
    assert dt.date(2025, 1, 4) not in session_days  # a Saturday
    assert dt.date(2025, 2, 27) in session_days
    assert np.all(ends - starts == (6 * 60 + 15) * 60 * 10**9)


def test_venues_map_to_their_calendars() -> None:
    assert calendar_for_venue(Venue.BINANCE) is CONTINUOUS_UTC
    assert calendar_for_venue(Venue.NFO) is nse_calendar()
    with pytest.raises(CalendarDataError, match="MCX"):
        calendar_for_venue(Venue.MCX)


def test_nse_daily_bar_is_the_ist_session_not_the_utc_day() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("1d"))], calendar=nse_calendar())
    (bar,) = _bars(agg, [ns(2025, 3, 3, 9, 20), ns(2025, 3, 3, 15, 29)])
    assert (bar["open_time"], bar["close_time"]) == (ns(2025, 3, 3, 9, 15), ns(2025, 3, 3, 15, 30))
    assert bar["trade_count"] == 2


def test_nse_intraday_bars_start_at_the_open_and_are_cut_at_the_close() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("1h"))], calendar=nse_calendar())
    bars = _bars(agg, [ns(2025, 3, 3, 9, 20), ns(2025, 3, 3, 15, 20)])
    assert list(bars["open_time"]) == [ns(2025, 3, 3, h, 15) for h in range(9, 16)]
    assert bars["close_time"][-1] == ns(2025, 3, 3, 15, 30)  # 15:15-15:30, not 16:15
    assert bars["close_time"][0] == ns(2025, 3, 3, 10, 15)


def test_no_nse_bar_spans_the_overnight_break_or_the_weekend() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("5m"))], calendar=nse_calendar())
    # Friday 15:27 then Monday 09:16 (2025-03-07 is a Friday).
    bars = _bars(agg, [ns(2025, 3, 7, 15, 27), ns(2025, 3, 10, 9, 16)])
    assert list(bars["open_time"]) == [ns(2025, 3, 7, 15, 25), ns(2025, 3, 10, 9, 15)]
    assert not np.any(bars["flags"] & BarFlag.EMPTY)


def test_ticks_outside_sessions_are_counted_and_move_the_watermark() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("5m"))], calendar=nse_calendar())
    agg.on_trade(ns(2025, 3, 3, 15, 28), 0, 100, 1, 1)
    assert agg.on_trade(ns(2025, 3, 3, 15, 40), 0, 101, 1, 2) == 1  # closes 15:25-15:30
    agg.on_trade(ns(2025, 2, 26, 10, 0), 0, 101, 1, 3)  # too late anyway
    agg.on_trade(ns(2025, 3, 4, 8, 0), 0, 101, 1, 4)  # before the open
    metrics = agg.metrics()
    assert metrics["ticks_out_of_session"] == 2 and metrics["ticks_too_late"] == 1


def test_a_holiday_has_no_session() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("1d"))], calendar=nse_calendar())
    agg.on_trade(ns(2025, 2, 26, 10, 0), 0, 100, 1, 1)
    assert agg.metrics()["ticks_out_of_session"] == 1
    assert len(agg.finish()) == 0


def test_a_tick_beyond_the_calendar_years_is_an_error_not_a_silent_drop() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("1m"))], calendar=nse_calendar())
    with pytest.raises(OutsideCalendarError, match="outside the session calendar"):
        agg.on_trade(ns(2027, 1, 4, 10, 0), 0, 100, 1, 1)
    agg = BarAggregator([BarSpec.time(parse_duration("1m"))], calendar=nse_calendar())
    with pytest.raises(OutsideCalendarError, match="tick index 1"):
        agg.update(
            np.array([ns(2025, 3, 3, 10, 0), ns(2027, 3, 4, 10, 0)]),
            np.array([1, 2]),
            np.array([1, 1]),
        )


def test_crypto_daily_bars_align_to_utc_midnight() -> None:
    agg = BarAggregator([BarSpec.time(parse_duration("1d"))])
    (bar,) = _bars(agg, [ns(2025, 3, 3, 1, 0, UTC), ns(2025, 3, 3, 23, 0, UTC)])
    assert (bar["open_time"], bar["close_time"]) == (
        ns(2025, 3, 3, 0, 0, UTC),
        ns(2025, 3, 4, 0, 0, UTC),
    )
