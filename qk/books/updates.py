"""What a feed hands an order book (snapshots and diffs) and what the book hands back (resync requests).

Prices and sizes are int64 fixed point at the instrument's ``price_precision`` / ``size_precision``;
the venue parsers (``qk.venues.binance.parse``) build these from the wire exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["BookSnapshot", "DepthDiff", "ResyncReason", "ResyncRequest"]

Int64Array = npt.NDArray[np.int64]

_EMPTY: Int64Array = np.zeros(0, dtype=np.int64)


def _levels(
    prices: npt.ArrayLike, sizes: npt.ArrayLike, what: str
) -> tuple[Int64Array, Int64Array]:
    price_array = np.ascontiguousarray(prices, dtype=np.int64)
    size_array = np.ascontiguousarray(sizes, dtype=np.int64)
    if price_array.ndim != 1 or price_array.shape != size_array.shape:
        raise ValueError(
            f"{what}: prices {price_array.shape} and sizes {size_array.shape} must be 1-D and "
            "of the same length"
        )
    return price_array, size_array


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A full (top of the) book from the venue's REST depth endpoint.

    Attributes:
        last_update_id: The venue's ``lastUpdateId``: the snapshot includes every update up to it.
        bid_prices: Bid prices (raw), any order.
        bid_sizes: Bid sizes (raw); a zero size is skipped.
        ask_prices: Ask prices (raw), any order.
        ask_sizes: Ask sizes (raw).
        ts_event: Venue time of the snapshot, ns since epoch (0 when the venue does not say).
    """

    last_update_id: int
    bid_prices: Int64Array = field(default_factory=lambda: _EMPTY)
    bid_sizes: Int64Array = field(default_factory=lambda: _EMPTY)
    ask_prices: Int64Array = field(default_factory=lambda: _EMPTY)
    ask_sizes: Int64Array = field(default_factory=lambda: _EMPTY)
    ts_event: int = 0

    def __post_init__(self) -> None:
        if self.last_update_id < 0:
            raise ValueError(f"snapshot last_update_id must be >= 0, got {self.last_update_id}")
        bids = _levels(self.bid_prices, self.bid_sizes, "snapshot bids")
        asks = _levels(self.ask_prices, self.ask_sizes, "snapshot asks")
        object.__setattr__(self, "bid_prices", bids[0])
        object.__setattr__(self, "bid_sizes", bids[1])
        object.__setattr__(self, "ask_prices", asks[0])
        object.__setattr__(self, "ask_sizes", asks[1])


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """One diff-depth event: absolute sizes for the levels that changed (0 removes a level).

    Attributes:
        first_update_id: First venue update id covered (Binance ``U``).
        last_update_id: Last venue update id covered (Binance ``u``).
        prev_update_id: The previous event's ``u`` as the venue states it (Binance futures
            ``pu``); 0 when the venue does not send one (Binance spot).
        bid_prices: Changed bid prices (raw).
        bid_sizes: Their new sizes (raw), 0 = remove.
        ask_prices: Changed ask prices (raw).
        ask_sizes: Their new sizes (raw), 0 = remove.
        ts_event: Venue time of the event, ns since epoch.
    """

    first_update_id: int
    last_update_id: int
    prev_update_id: int = 0
    bid_prices: Int64Array = field(default_factory=lambda: _EMPTY)
    bid_sizes: Int64Array = field(default_factory=lambda: _EMPTY)
    ask_prices: Int64Array = field(default_factory=lambda: _EMPTY)
    ask_sizes: Int64Array = field(default_factory=lambda: _EMPTY)
    ts_event: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.first_update_id <= self.last_update_id:
            raise ValueError(
                f"diff update ids must satisfy 0 <= U <= u, got U={self.first_update_id} "
                f"u={self.last_update_id}"
            )
        if self.prev_update_id < 0:
            raise ValueError(f"diff prev_update_id must be >= 0, got {self.prev_update_id}")
        bids = _levels(self.bid_prices, self.bid_sizes, "diff bids")
        asks = _levels(self.ask_prices, self.ask_sizes, "diff asks")
        object.__setattr__(self, "bid_prices", bids[0])
        object.__setattr__(self, "bid_sizes", bids[1])
        object.__setattr__(self, "ask_prices", asks[0])
        object.__setattr__(self, "ask_sizes", asks[1])

    @property
    def level_count(self) -> int:
        """Number of level updates the diff carries (both sides)."""
        return int(self.bid_prices.shape[0] + self.ask_prices.shape[0])


class ResyncReason(enum.Enum):
    """Why a book asks its feed for a new snapshot."""

    GAP = "gap"
    """An event does not chain onto the book: updates were missed."""
    SNAPSHOT_GAP = "snapshot_gap"
    """The first event after the snapshot does not bridge it (spot: the snapshot is older than
    the buffered events; fetch it again)."""
    CROSSED = "crossed"
    """After an update the best bid was at or above the best ask: the book is wrong."""


@dataclass(frozen=True, slots=True)
class ResyncRequest:
    """A book's request to its feed: fetch a new REST snapshot and pass it to ``on_snapshot``.

    Attributes:
        instrument_id: The book's instrument.
        reason: Why.
        book_update_id: The book's last update id when it gave up (0 if it had none).
        event_first_update_id: ``U`` of the event that revealed the problem (0 if none).
        event_last_update_id: ``u`` of that event.
        event_prev_update_id: ``pu`` of that event (0 if none).
        best_bid: Best bid (raw) when the book crossed, else 0.
        best_ask: Best ask (raw) when the book crossed, else 0.
    """

    instrument_id: int
    reason: ResyncReason
    book_update_id: int = 0
    event_first_update_id: int = 0
    event_last_update_id: int = 0
    event_prev_update_id: int = 0
    best_bid: int = 0
    best_ask: int = 0

    def describe(self) -> str:
        """One line for logs."""
        if self.reason is ResyncReason.CROSSED:
            return (
                f"instrument {self.instrument_id}: book crossed (best bid {self.best_bid} >= "
                f"best ask {self.best_ask}) after update {self.event_last_update_id}"
            )
        return (
            f"instrument {self.instrument_id}: {self.reason.value}: book at update "
            f"{self.book_update_id}, event U={self.event_first_update_id} "
            f"u={self.event_last_update_id} pu={self.event_prev_update_id}"
        )
