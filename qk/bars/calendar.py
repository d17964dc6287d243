"""Trading calendars: where a venue's time bars start and end.

Two kinds exist:

* **Continuous** (crypto, the simulator): trading never stops; time bars sit on the grid
  ``origin + k * duration`` with origin 00:00 UTC, so a daily bar is a UTC day.
* **Sessions** (NSE/BSE equity and F&O): one session per trading day, 09:15-15:30 IST, none on
  weekends and exchange holidays. Bars start at the session open, are cut at the session close
  (an intraday bar never spans the overnight break) and a daily bar is exactly the session. The
  holidays come from a data file that names its source and date (``data/nse_holidays.toml``).

IST is a fixed UTC+05:30 offset (India has had no daylight saving time since 1945), so no tz
database is needed and session times are exact.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import numpy.typing as npt

from qk.schemas.enums import Venue

__all__ = [
    "CONTINUOUS_UTC",
    "Calendar",
    "CalendarDataError",
    "calendar_for_venue",
    "nse_calendar",
]

NS_PER_SECOND = 1_000_000_000


class CalendarDataError(ValueError):
    """The calendar data file is missing a field or holds a bad value."""


@dataclass(frozen=True)
class Calendar:
    """A venue's trading calendar.

    Attributes:
        name: short name used in errors and docs (``"24/7 UTC"``, ``"NSE"``).
        utc_offset: the venue's local time zone as a fixed offset (daily alignment).
        session_open: local session open time; ``None`` for a continuous calendar.
        session_close: local session close time; ``None`` for a continuous calendar.
        holidays: local dates with no session (weekends are always closed for sessions).
        years: the years whose holidays are known; sessions exist only for these.
        source: where the holiday data came from, and when.
    """

    name: str
    utc_offset: dt.timedelta = dt.timedelta(0)
    session_open: dt.time | None = None
    session_close: dt.time | None = None
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    years: tuple[int, ...] = ()
    source: str = ""

    @property
    def continuous(self) -> bool:
        """True when trading never stops (no session table)."""
        return self.session_open is None

    @property
    def origin_ns(self) -> int:
        """Grid origin of a continuous calendar: local midnight of 1970-01-01, in UTC ns."""
        return -int(self.utc_offset.total_seconds()) * NS_PER_SECOND

    def is_trading_day(self, day: dt.date) -> bool:
        """Whether ``day`` (local date) has a session."""
        if self.continuous:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def sessions(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Session ``(starts, ends)`` in ns since epoch UTC for every trading day of ``years``.

        Raises:
            CalendarDataError: on a continuous calendar, which has no sessions.
        """
        if self.session_open is None or self.session_close is None:
            raise CalendarDataError(f"calendar {self.name} is continuous: it has no sessions")
        tz = dt.timezone(self.utc_offset)
        starts: list[int] = []
        ends: list[int] = []
        for year in self.years:
            day = dt.date(year, 1, 1)
            while day.year == year:
                if self.is_trading_day(day):
                    starts.append(_epoch_ns(dt.datetime.combine(day, self.session_open, tz)))
                    ends.append(_epoch_ns(dt.datetime.combine(day, self.session_close, tz)))
                day += dt.timedelta(days=1)
        return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _epoch_ns(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * NS_PER_SECOND


CONTINUOUS_UTC = Calendar(name="24/7 UTC")
"""Crypto venues and the simulator: continuous trading, days aligned to UTC midnight."""


def _parse_offset(text: str) -> dt.timedelta:
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    try:
        return sign * dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
    except ValueError:
        raise CalendarDataError(f"timezone_offset {text!r} is not +HH:MM") from None


def _load_sessions_file(name: str, resource: str) -> Calendar:
    raw = resources.files("qk.bars.data").joinpath(resource).read_bytes()
    data = tomllib.loads(raw.decode())
    try:
        session = data["session"]
        source = data["source"]
        years = tuple(int(y) for y in data["years"])
        holidays = frozenset(h["date"] for h in data["holiday"])
        open_time = dt.time.fromisoformat(session["open"])
        close_time = dt.time.fromisoformat(session["close"])
        offset = _parse_offset(session["timezone_offset"])
    except KeyError as exc:
        raise CalendarDataError(f"{resource}: missing field {exc.args[0]!r}") from None
    for day in holidays:
        if not isinstance(day, dt.date) or day.year not in years:
            raise CalendarDataError(f"{resource}: holiday {day!r} is not a date in years {years}")
    note = "verified" if source.get("verified") else "NOT verified"
    return Calendar(
        name=name,
        utc_offset=offset,
        session_open=open_time,
        session_close=close_time,
        holidays=holidays,
        years=years,
        source=f"{source.get('document', '?')}, written {source.get('written', '?')} ({note})",
    )


_NSE: Calendar | None = None


def nse_calendar() -> Calendar:
    """NSE/BSE equity and F&O: 09:15-15:30 IST, holidays from ``data/nse_holidays.toml``."""
    global _NSE
    if _NSE is None:
        _NSE = _load_sessions_file("NSE", "nse_holidays.toml")
    return _NSE


def calendar_for_venue(venue: Venue) -> Calendar:
    """The calendar a venue's bars follow.

    Raises:
        CalendarDataError: for a venue with no calendar here yet (MCX).
    """
    if venue in (Venue.NSE, Venue.NFO, Venue.BSE, Venue.BFO):
        return nse_calendar()
    if venue in (
        Venue.SIM,
        Venue.BINANCE,
        Venue.BINANCE_USDM,
        Venue.COINDCX,
        Venue.COINDCX_FUTURES,
    ):
        return CONTINUOUS_UTC
    raise CalendarDataError(f"no trading calendar for venue {venue.name} yet")
