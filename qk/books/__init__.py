"""L2 order books: snapshot + diffs under each venue's sequencing rules, in int64 fixed point.

* :class:`OrderBook` — one instrument's book: buffering, snapshot, replay, gap and crossed-book
  detection, resync requests, best bid/ask, depth-N views, mid and spread.
* :mod:`qk.books.sequencing` — the book's state machine (one transition table) and the venues'
  rules for chaining diffs (Binance spot vs USD-M futures).
* :mod:`qk.books.records` — DepthEvent records of a book's top levels and of venue diffs.
* ``qk.books._book`` (Cython) — the level arrays and the exact decimal parser.
"""

from qk.books.book import BookCounters, BookSide, OrderBook
from qk.books.errors import BookError, BookStateError
from qk.books.records import (
    DEPTH_EVENT_LEVELS,
    book_depth_record,
    diff_depth_records,
    write_book_depth,
)
from qk.books.sequencing import (
    TRANSITIONS,
    BinanceFuturesRules,
    BinanceSpotRules,
    BookInput,
    BookState,
    SequencingRules,
    rules_for_venue,
)
from qk.books.updates import BookSnapshot, DepthDiff, ResyncReason, ResyncRequest

__all__ = [
    "DEPTH_EVENT_LEVELS",
    "TRANSITIONS",
    "BinanceFuturesRules",
    "BinanceSpotRules",
    "BookCounters",
    "BookError",
    "BookInput",
    "BookSide",
    "BookSnapshot",
    "BookState",
    "BookStateError",
    "DepthDiff",
    "OrderBook",
    "ResyncReason",
    "ResyncRequest",
    "SequencingRules",
    "book_depth_record",
    "diff_depth_records",
    "rules_for_venue",
    "write_book_depth",
]
