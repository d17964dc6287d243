"""Book sequencing: the state machine of a book, and each venue's rule for chaining diff events.

The state machine is one table, :data:`TRANSITIONS`, of ``(state, input) → state``. The book
(:class:`qk.books.OrderBook`) classifies what arrived into a :class:`BookInput` with the venue's
:class:`SequencingRules`, looks the transition up, and acts; nothing else changes a book's state.

Venue rules (``../shared/VENUES.md`` §3.8 spot, §4 USD-M futures; Binance's "How to manage a local
order book correctly"):

* Binance spot: drop an event with ``u <= book id``; if ``U > book id + 1`` updates are missing;
  otherwise apply it (normally ``U == previous u + 1``). The first event after the snapshot
  must therefore straddle ``lastUpdateId + 1``.
* Binance USD-M futures: drop events with ``u < lastUpdateId``; the first applied event must have
  ``U <= lastUpdateId <= u``; afterwards each event's ``pu`` must equal the previous event's
  ``u``. ``U`` is *not* previous ``u + 1`` there (the recorded update shows ``U=…435``,
  ``pu=…400``), so the spot rule must not be used for futures.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from qk.books.errors import BookStateError
from qk.books.updates import DepthDiff
from qk.schemas.enums import Venue

__all__ = [
    "TRANSITIONS",
    "BinanceFuturesRules",
    "BinanceSpotRules",
    "BookInput",
    "BookState",
    "SequencingRules",
    "next_state",
    "rules_for_venue",
]


class BookState(enum.Enum):
    """Where a book is in its synchronisation with the venue."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"
    """Nothing received yet."""
    BUFFERING = "buffering"
    """Diffs are buffered until the REST snapshot arrives."""
    SYNCING = "syncing"
    """The snapshot is applied; no diff has bridged it yet."""
    SYNCED = "synced"
    """Snapshot plus an unbroken chain of diffs: the book is valid."""
    NEEDS_RESYNC = "needs_resync"
    """A gap or a crossed book: the levels were discarded, diffs are buffered, and a new
    snapshot is needed."""


class BookInput(enum.Enum):
    """What happened to a book, as the state machine sees it."""

    DIFF_EARLY = "diff_early"
    """A diff arrived while there is no usable snapshot: buffer it."""
    SNAPSHOT = "snapshot"
    """A REST snapshot was applied."""
    DIFF_STALE = "diff_stale"
    """A diff the book already contains (``u`` at or below the book id): dropped."""
    DIFF_IN_SEQUENCE = "diff_in_sequence"
    """A diff that chains onto the book: applied."""
    DIFF_GAP = "diff_gap"
    """A diff that does not chain onto the book: updates were missed."""
    CROSSED = "crossed"
    """The book crossed after an update."""
    RESET = "reset"
    """The feed reset the book (reconnect, unsubscribe): forget everything."""


S = BookState
I = BookInput  # noqa: E741 - a table reads better with one-letter aliases

_TABLE: dict[tuple[BookState, BookInput], BookState] = {
    (S.AWAITING_SNAPSHOT, I.DIFF_EARLY): S.BUFFERING,
    (S.BUFFERING, I.DIFF_EARLY): S.BUFFERING,
    (S.NEEDS_RESYNC, I.DIFF_EARLY): S.NEEDS_RESYNC,
    # A quiet market may send no diff before the snapshot arrives: a snapshot alone is fine.
    (S.AWAITING_SNAPSHOT, I.SNAPSHOT): S.SYNCING,
    (S.BUFFERING, I.SNAPSHOT): S.SYNCING,
    (S.NEEDS_RESYNC, I.SNAPSHOT): S.SYNCING,
    # A fresh snapshot may replace a live book (e.g. a periodic integrity check).
    (S.SYNCING, I.SNAPSHOT): S.SYNCING,
    (S.SYNCED, I.SNAPSHOT): S.SYNCING,
    (S.SYNCING, I.DIFF_STALE): S.SYNCING,
    (S.SYNCED, I.DIFF_STALE): S.SYNCED,
    (S.SYNCING, I.DIFF_IN_SEQUENCE): S.SYNCED,
    (S.SYNCED, I.DIFF_IN_SEQUENCE): S.SYNCED,
    (S.SYNCING, I.DIFF_GAP): S.NEEDS_RESYNC,
    (S.SYNCED, I.DIFF_GAP): S.NEEDS_RESYNC,
    # A snapshot itself can be crossed (a broken venue response), as can a book after a diff.
    (S.SYNCING, I.CROSSED): S.NEEDS_RESYNC,
    (S.SYNCED, I.CROSSED): S.NEEDS_RESYNC,
    (S.AWAITING_SNAPSHOT, I.RESET): S.AWAITING_SNAPSHOT,
    (S.BUFFERING, I.RESET): S.AWAITING_SNAPSHOT,
    (S.SYNCING, I.RESET): S.AWAITING_SNAPSHOT,
    (S.SYNCED, I.RESET): S.AWAITING_SNAPSHOT,
    (S.NEEDS_RESYNC, I.RESET): S.AWAITING_SNAPSHOT,
}
del S, I

TRANSITIONS: Mapping[tuple[BookState, BookInput], BookState] = MappingProxyType(_TABLE)
"""Every allowed ``(state, input) → state``; any other pair is a bug (:class:`BookStateError`)."""


def next_state(state: BookState, event: BookInput) -> BookState:
    """Look a transition up.

    Raises:
        BookStateError: The table has no such transition.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise BookStateError(f"no book transition from {state.name} on {event.name}") from None


class SequencingRules(Protocol):
    """A venue's rule for whether a diff chains onto a book whose last update id is ``book_id``."""

    name: str

    def first(self, diff: DepthDiff, book_id: int) -> BookInput:
        """Classify the first diff after a snapshot with ``lastUpdateId == book_id``."""

    def next(self, diff: DepthDiff, book_id: int) -> BookInput:
        """Classify a later diff; ``book_id`` is the ``u`` of the last applied diff."""


class BinanceSpotRules:
    """Binance spot (VENUES.md §3.8): the same test before and after the first applied diff."""

    name = "binance-spot"

    def first(self, diff: DepthDiff, book_id: int) -> BookInput:
        """Stale when ``u <= lastUpdateId``; a gap when ``U > lastUpdateId + 1``."""
        return self.next(diff, book_id)

    def next(self, diff: DepthDiff, book_id: int) -> BookInput:
        """Stale when ``u <= book id``; a gap when ``U > book id + 1``; else in sequence."""
        if diff.last_update_id <= book_id:
            return BookInput.DIFF_STALE
        if diff.first_update_id > book_id + 1:
            return BookInput.DIFF_GAP
        return BookInput.DIFF_IN_SEQUENCE


class BinanceFuturesRules:
    """Binance USD-M futures (VENUES.md §4): bridge the snapshot, then chain on ``pu``."""

    name = "binance-usdm"

    def first(self, diff: DepthDiff, book_id: int) -> BookInput:
        """Stale when ``u < lastUpdateId``; in sequence when ``U <= lastUpdateId <= u``."""
        if diff.last_update_id < book_id:
            return BookInput.DIFF_STALE
        if diff.first_update_id <= book_id:
            return BookInput.DIFF_IN_SEQUENCE
        return BookInput.DIFF_GAP

    def next(self, diff: DepthDiff, book_id: int) -> BookInput:
        """In sequence when ``pu`` equals the previous ``u``; a repeat of an applied event is
        stale; anything else is a gap."""
        if diff.prev_update_id == book_id:
            return BookInput.DIFF_IN_SEQUENCE
        if diff.last_update_id <= book_id:
            return BookInput.DIFF_STALE
        return BookInput.DIFF_GAP


_RULES: dict[Venue, SequencingRules] = {
    Venue.BINANCE: BinanceSpotRules(),
    Venue.BINANCE_USDM: BinanceFuturesRules(),
}


def rules_for_venue(venue: Venue | int) -> SequencingRules:
    """The sequencing rules of a venue.

    Raises:
        ValueError: The venue has no diff-depth sequencing rules here.
    """
    try:
        return _RULES[Venue(venue)]
    except (KeyError, ValueError):
        known = ", ".join(v.name for v in _RULES)
        raise ValueError(
            f"no order-book sequencing rules for venue {venue!r}; known: {known}"
        ) from None
