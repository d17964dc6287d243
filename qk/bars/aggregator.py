"""``BarAggregator``: one instrument's ticks into bars of several specs at once.

The rules (watermarks, lateness, revisions, duplicates, gaps, flushes) are described in
``docs/marketdata.md`` ("Bars and time") and implemented in C (``cext/qk_aggregate.h``). This
class validates the configuration and gives the compiled core a typed face.

Two entry points share one per-tick C function, so they give identical bars:

* ``update(ts_event, ts_recv, price, quantity, trade_id)`` / ``update_trades(records)``: a whole
  array in one call with the GIL released (backtests, research, ``qk bars``);
* ``on_trade(ts_event, ts_recv, price, quantity, trade_id)``: one tick, no allocation (live feeds);
  it returns the number of bars waiting, which ``take_bars()`` hands over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qk.bars import _aggregate
from qk.bars.calendar import CONTINUOUS_UTC, Calendar
from qk.bars.spec import BarSpec
from qk.schemas import dtype_of
from qk.schemas.enums import BarAggregation, BarSource

__all__ = ["BarAggregator", "FeedConfig", "OutsideCalendarError", "TickResult", "final_bars"]

OutsideCalendarError = _aggregate.OutsideCalendarError


class TickResult:
    """What ``on_trade`` did with a tick (read ``metrics()`` for the totals)."""

    ACCEPTED = _aggregate.TICK_ACCEPTED
    TOO_LATE = _aggregate.TICK_TOO_LATE
    DUPLICATE = _aggregate.TICK_DUPLICATE
    OUT_OF_SESSION = _aggregate.TICK_OUT_OF_SESSION


@dataclass(frozen=True)
class FeedConfig:
    """Per-feed time rules.

    Attributes:
        lateness_ns: allowed lateness. The watermark is max event time minus this; a bar is final
            once the watermark passes its end, and a tick older than the watermark is dropped
            (counted as ``ticks_too_late``).
        emit_delay_ns: a bar is first published once max event time minus this passes its end;
            0 publishes as early as possible (late ticks then revise it), ``lateness_ns``
            publishes each bar once, final. Must be between 0 and ``lateness_ns``.
        idle_timeout_ns: ``flush(now_ns)`` publishes due bars only after the feed has been quiet
            (no tick received) for this long, on the wall clock.
        contiguous_ids: the venue's trade ids go up by exactly 1 (Binance): a jump is a gap.
        emit_empty: publish EMPTY bars for intervals without trades (time bars only).
        max_empty_run: most consecutive EMPTY bars published before the rest of a quiet stretch
            is skipped (counted as ``empty_runs_skipped``) — a guard against a bad timestamp.
    """

    lateness_ns: int = 0
    emit_delay_ns: int = 0
    idle_timeout_ns: int = 1_000_000_000
    contiguous_ids: bool = False
    emit_empty: bool = True
    max_empty_run: int = 1_000_000

    def __post_init__(self) -> None:
        if self.lateness_ns < 0:
            raise ValueError(f"lateness_ns must be >= 0, got {self.lateness_ns}")
        if not 0 <= self.emit_delay_ns <= self.lateness_ns:
            raise ValueError(
                f"emit_delay_ns must be between 0 and lateness_ns ({self.lateness_ns}), "
                f"got {self.emit_delay_ns}"
            )
        if self.idle_timeout_ns < 0:
            raise ValueError(f"idle_timeout_ns must be >= 0, got {self.idle_timeout_ns}")
        if self.max_empty_run < 0:
            raise ValueError(f"max_empty_run must be >= 0, got {self.max_empty_run}")


class BarAggregator:
    """Bars of several specs for one instrument, from trades or quotes.

    One thread drives an aggregator (``update`` releases the GIL while it runs). ``finish()`` ends
    the stream. A live quote feed calls ``on_trade(ts, recv, price, 0, 0)`` with the bid, ask or
    mid it aggregates.

    Args:
        specs: the bar streams to build (time, tick, volume), at least one.
        feed: the feed's time rules.
        calendar: the venue's calendar (continuous 24/7 UTC by default).
        instrument_id: written into every bar.
        bar_source: TRADES, or QUOTE_BID/QUOTE_ASK/QUOTE_MID for quote bars (see
            ``update_quotes``); volume bars need trades.
        source: header ``source`` of the bars (the producing component).

    Raises:
        ValueError: on an empty or duplicated spec list, or volume bars from quotes.
    """

    on_trade: Callable[[int, int, int, int, int], int]
    """``on_trade(ts_event, ts_recv, price, quantity, trade_id) -> bars waiting``: one tick.
    ``trade_id`` 0 means "no id" (no de-duplication)."""

    def __init__(
        self,
        specs: Sequence[BarSpec],
        feed: FeedConfig | None = None,
        *,
        calendar: Calendar = CONTINUOUS_UTC,
        instrument_id: int = 0,
        bar_source: BarSource = BarSource.TRADES,
        source: int = 0,
    ) -> None:
        if not specs:
            raise ValueError("at least one bar spec is needed")
        keys = [(s.aggregation, s.size) for s in specs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate bar specs in {[s.label for s in specs]}")
        if bar_source == BarSource.VENUE:
            raise ValueError("bar_source VENUE is for venue klines, not local aggregation")
        if bar_source != BarSource.TRADES and any(
            s.aggregation == BarAggregation.VOLUME for s in specs
        ):
            raise ValueError("volume bars need trades: quotes carry no traded quantity")
        self.specs = tuple(specs)
        self.feed = feed or FeedConfig()
        self.calendar = calendar
        self.bar_source = bar_source
        starts, ends = (None, None) if calendar.continuous else calendar.sessions()
        self._core = _aggregate.AggregatorCore(
            [(int(s.aggregation), s.size) for s in specs],
            lateness_ns=self.feed.lateness_ns,
            emit_delay_ns=self.feed.emit_delay_ns,
            idle_timeout_ns=self.feed.idle_timeout_ns,
            origin_ns=calendar.origin_ns,
            contiguous_ids=self.feed.contiguous_ids,
            emit_empty=self.feed.emit_empty,
            max_empty_run=self.feed.max_empty_run,
            session_start=starts,
            session_end=ends,
            instrument_id=instrument_id,
            bar_source=int(bar_source),
            source=source,
        )
        # The compiled method itself, so a live tick costs one C call and no Python frame.
        self.on_trade = self._core.on_trade

    def update(
        self,
        ts_event: npt.ArrayLike,
        price: npt.ArrayLike,
        quantity: npt.ArrayLike,
        trade_id: npt.ArrayLike | None = None,
        ts_recv: npt.ArrayLike | None = None,
    ) -> npt.NDArray[np.void]:
        """Aggregate arrays of ticks (arrival order) in one call.

        Args:
            ts_event: event times, ns since epoch UTC (int64).
            price: raw prices at the instrument's price precision (int64).
            quantity: raw quantities at its size precision (int64).
            trade_id: venue trade ids (uint64), 0 = none; default all 0.
            ts_recv: receive times (int64); default all 0.

        Returns:
            The bars published by these ticks, a BarEvent array in publication order.
        """
        ts = np.asarray(ts_event, dtype=np.int64)
        n = ts.shape[0]
        ids = np.zeros(n, np.uint64) if trade_id is None else np.asarray(trade_id, np.uint64)
        recv = np.zeros(n, np.int64) if ts_recv is None else np.asarray(ts_recv, np.int64)
        return self._core.update(
            ts, recv, np.asarray(price, np.int64), np.asarray(quantity, np.int64), ids
        )

    def update_trades(self, trades: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
        """Aggregate a TradeEvent record array (no copies: the fields are strided views)."""
        if trades.dtype != dtype_of("TradeEvent"):
            raise TypeError(f"expected a TradeEvent array, got dtype {trades.dtype}")
        return self._core.update(
            trades["ts_event"],
            trades["ts_recv"],
            trades["price"],
            trades["quantity"],
            trades["venue_trade_id"],
        )

    def update_trades_indexed(
        self, trades: npt.NDArray[np.void]
    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.int64]]:
        """As :meth:`update_trades`, and for each bar the index (into ``trades``) of the trade
        after which it was published, as :meth:`on_trade` would have published it."""
        if trades.dtype != dtype_of("TradeEvent"):
            raise TypeError(f"expected a TradeEvent array, got dtype {trades.dtype}")
        bars, after = self._core.update_indexed(
            trades["ts_event"],
            trades["ts_recv"],
            trades["price"],
            trades["quantity"],
            trades["venue_trade_id"],
        )
        return bars, after

    def update_quotes(self, quotes: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
        """Aggregate a QuoteEvent record array into bid, ask or mid bars (``bar_source``).

        Updates without the needed side (price 0) are skipped. Quote bars have volume 0 and
        count quote updates in ``trade_count``.
        """
        if quotes.dtype != dtype_of("QuoteEvent"):
            raise TypeError(f"expected a QuoteEvent array, got dtype {quotes.dtype}")
        bid = quotes["bid_price"]
        ask = quotes["ask_price"]
        if self.bar_source == BarSource.QUOTE_BID:
            price, valid = bid, bid != 0
        elif self.bar_source == BarSource.QUOTE_ASK:
            price, valid = ask, ask != 0
        elif self.bar_source == BarSource.QUOTE_MID:
            price, valid = (bid + ask) // 2, (bid != 0) & (ask != 0)
        else:
            raise ValueError(f"update_quotes needs a QUOTE_* bar_source, not {self.bar_source!r}")
        sel = quotes[valid]
        return self._core.update(
            sel["ts_event"],
            sel["ts_recv"],
            np.ascontiguousarray(price[valid]),
            np.zeros(len(sel), np.int64),
            np.zeros(len(sel), np.uint64),
        )

    def on_gap(self, ts_from: int, ts_to: int, ts_recv: int = 0) -> int:
        """Report a venue sequence gap between two event times (inclusive).

        Every bar overlapping it is marked INCOMPLETE (published ones are revised), and a resync
        request is queued (``take_resync_requests``). Returns the number of bars waiting.
        """
        if ts_to < ts_from:
            raise ValueError(f"gap ends before it starts: {ts_from} > {ts_to}")
        return int(self._core.on_gap(ts_from, ts_to, ts_recv))

    def flush(self, now_ns: int) -> int:
        """Wall-clock flush (live modes): if no tick arrived for ``idle_timeout_ns`` before
        ``now_ns`` (receive clock), publish the time bars that event time would have closed by
        now, flagged FLUSHED. Returns the number of bars waiting."""
        return int(self._core.flush(now_ns))

    def finish(self, ts_recv: int = 0) -> npt.NDArray[np.void]:
        """End of stream: publish and finalise every bar, including partial tick/volume bars."""
        return self._core.finish(ts_recv)

    def take_bars(self) -> npt.NDArray[np.void]:
        """The bars published since the last call (BarEvent array)."""
        return self._core.take_bars()

    def take_resync_requests(self) -> npt.NDArray[np.int64]:
        """Gaps reported since the last call, ``(n, 2)`` of ``[ts_from, ts_to]``: a non-empty
        answer asks the feed to resync."""
        return self._core.take_resync_requests()

    @property
    def watermark(self) -> int | None:
        """Max event time minus the allowed lateness (``None`` before the first tick)."""
        return self._core.watermark

    def metrics(self) -> dict[str, int]:
        """Counters: ticks accepted / too late / duplicate / out of session, gaps, bars
        published, revisions, skipped empty runs."""
        return self._core.metrics()


def final_bars(bars: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """The last publication of every bar (its final state), ordered by spec then open time.

    Only time bars are ever revised; tick and volume bars are published once each (two of them
    may share an open time) and are all kept.
    """
    if len(bars) == 0:
        return bars
    keys = np.lexsort((bars["seq"], bars["open_time"], bars["timeframe_ns"], bars["aggregation"]))
    ordered = bars[keys]
    ident = np.stack(
        [ordered["aggregation"].astype(np.int64), ordered["timeframe_ns"], ordered["open_time"]]
    )
    last = np.ones(len(ordered), dtype=bool)
    last[:-1] = (ident[:, 1:] != ident[:, :-1]).any(axis=0)
    last |= ordered["aggregation"] != int(BarAggregation.TIME)
    return ordered[last]
