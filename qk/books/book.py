"""An L2 order book per instrument, kept from a REST snapshot plus a stream of diffs.

::

    book = OrderBook.for_instrument(btcusdt)          # picks the venue's sequencing rules
    book.on_diff(diff)                                # before the snapshot: buffered
    book.on_snapshot(snapshot)                        # applies the snapshot, replays the buffer
    if (request := book.take_resync_request()) is not None:
        feed.fetch_snapshot(request)                  # a gap or a crossed book
    book.best_bid(), book.depth(BookSide.ASK, 10)

State changes go through :mod:`qk.books.sequencing`'s transition table only.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qk.books._book import L2Levels
from qk.books.errors import BookError
from qk.books.sequencing import BookInput, BookState, SequencingRules, next_state, rules_for_venue
from qk.books.updates import BookSnapshot, DepthDiff, ResyncReason, ResyncRequest
from qk.instruments import Instrument
from qk.schemas.fixed import AVERAGE_PRICE_EXTRA_PRECISION

__all__ = ["BookCounters", "BookSide", "OrderBook"]

DEFAULT_MAX_BUFFERED = 10_000
"""Diffs kept while waiting for a snapshot. At Binance's 100 ms diff rate this is over 16 minutes,
far longer than a REST snapshot takes; beyond it the oldest are dropped (and counted), which is
harmless because a snapshot fetched later is newer than them."""

_NO_BOOK = frozenset({BookState.AWAITING_SNAPSHOT, BookState.BUFFERING, BookState.NEEDS_RESYNC})
_MID_SCALE: int = 10**AVERAGE_PRICE_EXTRA_PRECISION


class BookSide(enum.IntEnum):
    """A side of the book (the index ``L2Levels`` uses)."""

    BID = 0
    ASK = 1


@dataclass(slots=True)
class BookCounters:
    """Running counts of what a book did, for metrics.

    Attributes:
        snapshots: Snapshots applied.
        diffs_applied: Diffs applied to the book.
        levels_applied: Level updates applied (snapshot levels included).
        diffs_stale: Diffs dropped because the book already contained them.
        diffs_buffered: Diffs buffered while there was no usable snapshot.
        buffer_dropped: Buffered diffs dropped because the buffer was full.
        gaps: Sequence gaps detected.
        crossed: Times the book crossed.
        resync_requests: Resync requests raised.
    """

    snapshots: int = 0
    diffs_applied: int = 0
    levels_applied: int = 0
    diffs_stale: int = 0
    diffs_buffered: int = 0
    buffer_dropped: int = 0
    gaps: int = 0
    crossed: int = 0
    resync_requests: int = 0


class OrderBook:
    """The L2 book of one instrument, in int64 fixed point.

    Args:
        instrument_id: Instrument master id (written into records and resync requests).
        rules: The venue's sequencing rules (:func:`qk.books.sequencing.rules_for_venue`).
        price_precision: Decimals of the instrument's prices (for :meth:`mid_price`).
        max_buffered: Diffs kept while there is no usable snapshot.
    """

    def __init__(
        self,
        instrument_id: int,
        rules: SequencingRules,
        *,
        price_precision: int = 0,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
    ) -> None:
        if max_buffered < 1:
            raise ValueError(f"max_buffered must be >= 1, got {max_buffered}")
        self.instrument_id = instrument_id
        self.rules = rules
        self.price_precision = price_precision
        self.counters = BookCounters()
        self._max_buffered = max_buffered
        self._levels = L2Levels()
        self._state = BookState.AWAITING_SNAPSHOT
        self._pending: deque[DepthDiff] = deque()
        self._resync_request: ResyncRequest | None = None
        self._update_id = 0
        self._first_update_id = 0
        self._prev_update_id = 0
        self._ts_event = 0

    @classmethod
    def for_instrument(
        cls, instrument: Instrument, *, max_buffered: int = DEFAULT_MAX_BUFFERED
    ) -> OrderBook:
        """A book for an instrument of the master, with its venue's sequencing rules.

        Raises:
            ValueError: The instrument's venue has no sequencing rules.
        """
        return cls(
            instrument.instrument_id,
            rules_for_venue(instrument.venue),
            price_precision=instrument.price_precision,
            max_buffered=max_buffered,
        )

    # -- state ------------------------------------------------------------------------------------

    @property
    def state(self) -> BookState:
        """Where the book is in its synchronisation."""
        return self._state

    @property
    def is_valid(self) -> bool:
        """True when the levels reflect the venue's book (a snapshot, possibly plus diffs)."""
        return self._state is BookState.SYNCED or self._state is BookState.SYNCING

    @property
    def update_id(self) -> int:
        """The book id: ``lastUpdateId`` of the snapshot or ``u`` of the last applied diff."""
        return self._update_id

    @property
    def ts_event(self) -> int:
        """Venue time of the last applied snapshot or diff, ns since epoch (0 if unknown)."""
        return self._ts_event

    @property
    def buffered(self) -> int:
        """Diffs waiting for a snapshot."""
        return len(self._pending)

    def take_resync_request(self) -> ResyncRequest | None:
        """The pending resync request, once: the feed fetches a snapshot when it gets one."""
        request, self._resync_request = self._resync_request, None
        return request

    def _transition(self, event: BookInput) -> None:
        self._state = next_state(self._state, event)

    # -- inputs -----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (the feed reconnected); the next snapshot starts afresh."""
        self._transition(BookInput.RESET)
        self._levels.clear()
        self._pending.clear()
        self._resync_request = None
        self._update_id = self._first_update_id = self._prev_update_id = 0
        self._ts_event = 0

    def on_snapshot(self, snapshot: BookSnapshot) -> BookState:
        """Set the book to a REST snapshot, then replay the buffered diffs.

        Buffered diffs already in the snapshot are dropped; the first remaining one must bridge
        the snapshot (the venue's rule), otherwise the book asks for a newer snapshot and keeps
        the buffered diffs from that one on.

        Returns:
            The state afterwards: SYNCED or SYNCING when the book is usable, NEEDS_RESYNC when
            :meth:`take_resync_request` has a request.

        Raises:
            BookError: A level of the snapshot is invalid (price <= 0 or size < 0); the book is
                reset.
        """
        next_state(self._state, BookInput.SNAPSHOT)  # refuse before touching the levels
        self._levels.clear()
        self._apply_levels(
            snapshot.bid_prices,
            snapshot.bid_sizes,
            snapshot.ask_prices,
            snapshot.ask_sizes,
            f"snapshot {snapshot.last_update_id}",
        )
        self._transition(BookInput.SNAPSHOT)
        self._resync_request = None
        self._update_id = self._first_update_id = snapshot.last_update_id
        self._prev_update_id = 0
        self._ts_event = snapshot.ts_event
        self.counters.snapshots += 1
        pending, self._pending = self._pending, deque()
        if self._levels.is_crossed():
            self._on_crossed(None, pending)
            return self._state
        while pending:
            diff = pending.popleft()
            self._on_live_diff(diff, pending)
            if self._state is BookState.NEEDS_RESYNC:
                break
        return self._state

    def on_diff(self, diff: DepthDiff) -> BookInput:
        """Feed one diff event.

        Returns:
            What happened: DIFF_EARLY (buffered: no usable snapshot yet), DIFF_STALE (dropped),
            DIFF_IN_SEQUENCE (applied), DIFF_GAP or CROSSED (the book was discarded and
            :meth:`take_resync_request` has a request).

        Raises:
            BookError: A level of the diff is invalid; the book is reset.
        """
        if self._state in _NO_BOOK:
            self._buffer(diff)
            return BookInput.DIFF_EARLY
        return self._on_live_diff(diff, None)

    # -- internals --------------------------------------------------------------------------------

    def _buffer(self, diff: DepthDiff) -> None:
        self._transition(BookInput.DIFF_EARLY)
        if len(self._pending) >= self._max_buffered:
            self._pending.popleft()
            self.counters.buffer_dropped += 1
        self._pending.append(diff)
        self.counters.diffs_buffered += 1

    def _on_live_diff(self, diff: DepthDiff, rest: deque[DepthDiff] | None) -> BookInput:
        syncing = self._state is BookState.SYNCING
        verdict = (self.rules.first if syncing else self.rules.next)(diff, self._update_id)
        if verdict is BookInput.DIFF_IN_SEQUENCE:
            self._apply_levels(
                diff.bid_prices,
                diff.bid_sizes,
                diff.ask_prices,
                diff.ask_sizes,
                f"diff U={diff.first_update_id} u={diff.last_update_id}",
            )
            self._update_id = diff.last_update_id
            self._first_update_id = diff.first_update_id
            self._prev_update_id = diff.prev_update_id
            self._ts_event = diff.ts_event
            self.counters.diffs_applied += 1
            if self._levels.is_crossed():
                self._on_crossed(diff, rest)
                return BookInput.CROSSED
            self._transition(verdict)
        elif verdict is BookInput.DIFF_STALE:
            self.counters.diffs_stale += 1
            self._transition(verdict)
        else:
            self.counters.gaps += 1
            reason = ResyncReason.SNAPSHOT_GAP if syncing else ResyncReason.GAP
            self._discard(verdict, reason, diff, rest, 0, 0)
        return verdict

    def _on_crossed(self, diff: DepthDiff | None, rest: deque[DepthDiff] | None) -> None:
        self.counters.crossed += 1
        best_bid = int(self._levels.best(0)[0])
        best_ask = int(self._levels.best(1)[0])
        self._discard(BookInput.CROSSED, ResyncReason.CROSSED, diff, rest, best_bid, best_ask)

    def _discard(
        self,
        event: BookInput,
        reason: ResyncReason,
        diff: DepthDiff | None,
        rest: deque[DepthDiff] | None,
        best_bid: int,
        best_ask: int,
    ) -> None:
        """Drop the levels and ask for a snapshot, keeping ``diff`` and ``rest`` buffered: they
        are valid stream events, and a newer snapshot may need them."""
        self._transition(event)
        self._resync_request = ResyncRequest(
            instrument_id=self.instrument_id,
            reason=reason,
            book_update_id=self._update_id,
            event_first_update_id=diff.first_update_id if diff is not None else 0,
            event_last_update_id=diff.last_update_id if diff is not None else self._update_id,
            event_prev_update_id=diff.prev_update_id if diff is not None else 0,
            best_bid=best_bid,
            best_ask=best_ask,
        )
        self.counters.resync_requests += 1
        self._levels.clear()
        self._pending = deque()
        if diff is not None:
            self._pending.append(diff)
        if rest:
            self._pending.extend(rest)
            rest.clear()

    def _apply_levels(
        self,
        bid_prices: npt.NDArray[np.int64],
        bid_sizes: npt.NDArray[np.int64],
        ask_prices: npt.NDArray[np.int64],
        ask_sizes: npt.NDArray[np.int64],
        what: str,
    ) -> None:
        try:
            count = self._levels.apply(0, bid_prices, bid_sizes)
            count += self._levels.apply(1, ask_prices, ask_sizes)
        except ValueError as exc:
            # Half a diff may be in: the levels can no longer be trusted.
            self.reset()
            raise BookError(
                f"instrument {self.instrument_id}: {what} has an invalid level ({exc}); "
                "the book was reset"
            ) from None
        self.counters.levels_applied += count

    # -- views ------------------------------------------------------------------------------------

    def best_bid(self) -> tuple[int, int] | None:
        """Best bid as ``(price, size)`` raw, or None when there are no bids."""
        price, size = self._levels.best(0)
        return (price, size) if size else None

    def best_ask(self) -> tuple[int, int] | None:
        """Best ask as ``(price, size)`` raw, or None when there are no asks."""
        price, size = self._levels.best(1)
        return (price, size) if size else None

    def spread(self) -> int | None:
        """Best ask minus best bid (raw price), or None when a side is empty."""
        bid, bid_size = self._levels.best(0)
        ask, ask_size = self._levels.best(1)
        if not bid_size or not ask_size:
            return None
        return int(ask - bid)

    def mid_price(self) -> int | None:
        """Mid price, exact, at ``price_precision + AVERAGE_PRICE_EXTRA_PRECISION`` decimals
        (the project's precision for averages), or None when a side is empty."""
        bid, bid_size = self._levels.best(0)
        ask, ask_size = self._levels.best(1)
        if not bid_size or not ask_size:
            return None
        return (int(bid) + int(ask)) * _MID_SCALE // 2

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask."""
        return bool(self._levels.is_crossed())

    def level_count(self, side: BookSide) -> int:
        """Number of levels held on a side."""
        return int(self._levels.level_count(side))

    def size_at(self, side: BookSide, price: int) -> int:
        """Size at a raw price on a side (0 if no level)."""
        return int(self._levels.size_at(side, price))

    def depth(
        self, side: BookSide, levels: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The best ``levels`` levels of a side, best first, as new ``(prices, sizes)`` arrays
        (shorter when the side holds fewer)."""
        prices = np.zeros(levels, dtype=np.int64)
        sizes = np.zeros(levels, dtype=np.int64)
        count = self._levels.top(side, prices, sizes)
        return prices[:count], sizes[:count]

    def depth_into(
        self, side: BookSide, prices: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
    ) -> int:
        """Copy the best levels of a side into caller-owned arrays (no allocation).

        Returns:
            The number of levels written.
        """
        return int(self._levels.top(side, prices, sizes))

    @property
    def first_update_id(self) -> int:
        """``U`` of the last applied diff (the snapshot's ``lastUpdateId`` right after one)."""
        return self._first_update_id

    @property
    def prev_update_id(self) -> int:
        """``pu`` of the last applied diff (0 for spot and right after a snapshot)."""
        return self._prev_update_id
