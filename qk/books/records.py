"""Canonical DepthEvent records from books and diffs, for rings, the WAL and downstream consumers.

A DepthEvent carries at most :data:`DEPTH_EVENT_LEVELS` levels per side. A top-of-book snapshot is
one SNAPSHOT record (best first); a venue diff with more levels spans several DIFF records and the
last of them carries :attr:`DepthFlag.LAST`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qk.books.book import BookSide, OrderBook
from qk.books.updates import DepthDiff
from qk.schemas.enums import DepthFlag, DepthUpdateKind
from qk.schemas.records import dtype_of, new_records

__all__ = ["DEPTH_EVENT_LEVELS", "book_depth_record", "diff_depth_records", "write_book_depth"]

DEPTH_EVENT_DTYPE = dtype_of("DepthEvent")
DEPTH_EVENT_LEVELS: int = DEPTH_EVENT_DTYPE["bid_price"].shape[0]
"""Levels per side in one DepthEvent (10)."""


def write_book_depth(
    book: OrderBook, out: npt.NDArray[np.void], index: int, *, ts_recv: int, seq: int = 0
) -> None:
    """Write the top :data:`DEPTH_EVENT_LEVELS` levels of a book as a SNAPSHOT DepthEvent.

    The ids are those of the last update the book applied (``U``/``u``/``pu`` of the last diff,
    or the snapshot's ``lastUpdateId`` twice), and ``ts_event`` is its venue time.

    Args:
        book: The book (normally valid; an empty book writes zero levels).
        out: A DepthEvent record array (``new_records("DepthEvent", n)``).
        index: The record to fill.
        ts_recv: Local receive time of the update that produced this state, ns.
        seq: Producer sequence number for the header.
    """
    record = out[index : index + 1]
    bid_prices = record["bid_price"][0]
    bid_sizes = record["bid_size"][0]
    ask_prices = record["ask_price"][0]
    ask_sizes = record["ask_size"][0]
    bid_count = book.depth_into(BookSide.BID, bid_prices, bid_sizes)
    ask_count = book.depth_into(BookSide.ASK, ask_prices, ask_sizes)
    bid_prices[bid_count:] = 0
    bid_sizes[bid_count:] = 0
    ask_prices[ask_count:] = 0
    ask_sizes[ask_count:] = 0
    record["bid_orders"] = 0
    record["ask_orders"] = 0
    record["flags"] = int(DepthFlag.LAST)
    record["seq"] = seq
    record["ts_event"] = book.ts_event
    record["ts_recv"] = ts_recv
    record["instrument_id"] = book.instrument_id
    record["update_kind"] = int(DepthUpdateKind.SNAPSHOT)
    record["bid_levels"] = bid_count
    record["ask_levels"] = ask_count
    record["first_update_id"] = book.first_update_id
    record["last_update_id"] = book.update_id
    record["prev_update_id"] = book.prev_update_id


def book_depth_record(
    book: OrderBook, *, ts_recv: int, seq: int = 0, source: int = 0
) -> npt.NDArray[np.void]:
    """One SNAPSHOT DepthEvent of a book's top levels (see :func:`write_book_depth`)."""
    out = new_records("DepthEvent", 1, source=source)
    write_book_depth(book, out, 0, ts_recv=ts_recv, seq=seq)
    return out


def diff_depth_records(
    diff: DepthDiff, instrument_id: int, *, ts_recv: int, source: int = 0
) -> npt.NDArray[np.void]:
    """A venue diff as DIFF DepthEvent records, levels in the venue's order.

    Records ``k`` holds bid and ask levels ``[10k, 10k+10)``; the last record carries LAST. A diff
    with no level at all still yields one record (it advances the update ids).

    Args:
        diff: The diff.
        instrument_id: Its instrument.
        ts_recv: Local receive time, ns.
        source: Producing component id for the headers.

    Returns:
        ``ceil(max(bids, asks) / 10)`` records (at least one).
    """
    bids = diff.bid_prices.shape[0]
    asks = diff.ask_prices.shape[0]
    count = max(1, -(-max(bids, asks) // DEPTH_EVENT_LEVELS))
    out = new_records("DepthEvent", count, source=source)
    out["ts_event"] = diff.ts_event
    out["ts_recv"] = ts_recv
    out["instrument_id"] = instrument_id
    out["update_kind"] = int(DepthUpdateKind.DIFF)
    out["first_update_id"] = diff.first_update_id
    out["last_update_id"] = diff.last_update_id
    out["prev_update_id"] = diff.prev_update_id
    out["flags"][-1] = int(DepthFlag.LAST)
    _spread(out, "bid", diff.bid_prices, diff.bid_sizes)
    _spread(out, "ask", diff.ask_prices, diff.ask_sizes)
    return out


def _spread(
    out: npt.NDArray[np.void],
    side: str,
    prices: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
) -> None:
    n = prices.shape[0]
    padded = out.shape[0] * DEPTH_EVENT_LEVELS
    for name, values in ((f"{side}_price", prices), (f"{side}_size", sizes)):
        flat = np.zeros(padded, dtype=np.int64)
        flat[:n] = values
        out[name] = flat.reshape(out.shape[0], DEPTH_EVENT_LEVELS)
    levels = np.clip(n - np.arange(out.shape[0]) * DEPTH_EVENT_LEVELS, 0, DEPTH_EVENT_LEVELS)
    out[f"{side}_levels"] = levels
