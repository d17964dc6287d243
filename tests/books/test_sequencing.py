"""Book sequencing: the transition table and every Binance spot / USD-M futures edge."""

from __future__ import annotations

import pytest

from qk.books import (
    TRANSITIONS,
    BinanceFuturesRules,
    BinanceSpotRules,
    BookError,
    BookInput,
    BookSide,
    BookState,
    BookStateError,
    OrderBook,
    ResyncReason,
    rules_for_venue,
)
from qk.books.sequencing import next_state
from qk.schemas.enums import Venue
from tests.books.conftest import diff, snapshot

BIDS = [(100, 5), (99, 6)]
ASKS = [(101, 7), (102, 8)]


# -- the table ------------------------------------------------------------------------------------


def test_every_state_can_be_reset_to_awaiting_snapshot() -> None:
    for state in BookState:
        assert TRANSITIONS[(state, BookInput.RESET)] is BookState.AWAITING_SNAPSHOT


def test_a_transition_missing_from_the_table_is_an_error() -> None:
    with pytest.raises(BookStateError, match="SYNCED on DIFF_EARLY"):
        next_state(BookState.SYNCED, BookInput.DIFF_EARLY)
    with pytest.raises(BookStateError, match="AWAITING_SNAPSHOT on DIFF_GAP"):
        next_state(BookState.AWAITING_SNAPSHOT, BookInput.DIFF_GAP)


def test_rules_for_venue_picks_spot_and_futures() -> None:
    assert isinstance(rules_for_venue(Venue.BINANCE), BinanceSpotRules)
    assert isinstance(rules_for_venue(Venue.BINANCE_USDM), BinanceFuturesRules)
    with pytest.raises(ValueError, match="no order-book sequencing rules for venue"):
        rules_for_venue(Venue.NSE)


# -- spot -----------------------------------------------------------------------------------------


def test_spot_diffs_before_the_snapshot_are_buffered(spot_book: OrderBook) -> None:
    assert spot_book.on_diff(diff(90, 95)) is BookInput.DIFF_EARLY
    assert spot_book.state is BookState.BUFFERING
    assert spot_book.buffered == 1
    assert not spot_book.is_valid
    assert spot_book.best_bid() is None


def test_spot_snapshot_replays_buffer_dropping_stale_then_straddling(spot_book: OrderBook) -> None:
    spot_book.on_diff(diff(90, 95, bids=[(100, 1)]))  # u <= lastUpdateId: stale
    spot_book.on_diff(diff(96, 100, bids=[(100, 2)]))  # u == lastUpdateId: stale
    spot_book.on_diff(diff(99, 103, bids=[(100, 3)]))  # straddles lastUpdateId + 1 = 101
    spot_book.on_diff(diff(104, 110, asks=[(101, 0)]))  # U == previous u + 1
    state = spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert state is BookState.SYNCED
    assert spot_book.update_id == 110
    assert spot_book.counters.diffs_stale == 2
    assert spot_book.counters.diffs_applied == 2
    assert spot_book.best_bid() == (100, 3)
    assert spot_book.best_ask() == (102, 8)  # 101 deleted by size 0
    assert spot_book.buffered == 0


def test_spot_first_event_after_the_snapshot_must_straddle(spot_book: OrderBook) -> None:
    spot_book.on_diff(diff(105, 110))
    spot_book.on_diff(diff(111, 115))
    state = spot_book.on_snapshot(snapshot(100, BIDS, ASKS))  # needs U <= 101
    assert state is BookState.NEEDS_RESYNC
    request = spot_book.take_resync_request()
    assert request is not None
    assert request.reason is ResyncReason.SNAPSHOT_GAP
    assert (request.book_update_id, request.event_first_update_id) == (100, 105)
    assert spot_book.take_resync_request() is None  # handed out once
    # The buffered diffs are kept: a newer snapshot can still use them.
    assert spot_book.buffered == 2
    assert spot_book.on_snapshot(snapshot(107, BIDS, ASKS)) is BookState.SYNCED
    assert spot_book.update_id == 115


def test_spot_snapshot_with_no_diff_yet_is_usable_and_syncing(spot_book: OrderBook) -> None:
    assert spot_book.on_snapshot(snapshot(100, BIDS, ASKS)) is BookState.SYNCING
    assert spot_book.is_valid
    assert spot_book.on_diff(diff(101, 101, bids=[(100, 9)])) is BookInput.DIFF_IN_SEQUENCE
    assert spot_book.state is BookState.SYNCED


def test_spot_gap_after_sync_discards_book_and_asks_for_a_snapshot(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    spot_book.on_diff(diff(101, 105))
    assert spot_book.on_diff(diff(107, 110)) is BookInput.DIFF_GAP  # 106 is missing
    assert spot_book.state is BookState.NEEDS_RESYNC
    assert not spot_book.is_valid
    assert spot_book.level_count(BookSide.BID) == 0
    request = spot_book.take_resync_request()
    assert request is not None
    assert request.reason is ResyncReason.GAP
    assert (
        request.book_update_id,
        request.event_first_update_id,
        request.event_last_update_id,
    ) == (
        105,
        107,
        110,
    )
    assert "gap" in request.describe()
    assert spot_book.counters.gaps == 1
    # Later diffs are buffered and replayed after the new snapshot.
    assert spot_book.on_diff(diff(111, 112, bids=[(98, 4)])) is BookInput.DIFF_EARLY
    assert spot_book.on_snapshot(snapshot(108, BIDS, ASKS)) is BookState.SYNCED
    assert spot_book.update_id == 112
    assert spot_book.size_at(BookSide.BID, 98) == 4


def test_spot_stale_event_after_sync_is_dropped(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    spot_book.on_diff(diff(101, 105, bids=[(100, 1)]))
    assert spot_book.on_diff(diff(101, 105, bids=[(100, 50)])) is BookInput.DIFF_STALE
    assert spot_book.size_at(BookSide.BID, 100) == 1
    assert spot_book.state is BookState.SYNCED


def test_zero_quantity_deletes_a_level(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    spot_book.on_diff(diff(101, 101, bids=[(100, 0)], asks=[(150, 0)]))
    assert spot_book.best_bid() == (99, 6)
    assert spot_book.level_count(BookSide.BID) == 1
    assert spot_book.level_count(BookSide.ASK) == 2  # deleting an unknown level is harmless


def test_crossed_book_is_detected_and_resynced(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert spot_book.on_diff(diff(101, 101, bids=[(101, 1)])) is BookInput.CROSSED
    assert spot_book.state is BookState.NEEDS_RESYNC
    request = spot_book.take_resync_request()
    assert request is not None
    assert request.reason is ResyncReason.CROSSED
    assert (request.best_bid, request.best_ask) == (101, 101)
    assert "crossed" in request.describe()
    assert spot_book.counters.crossed == 1
    assert spot_book.level_count(BookSide.ASK) == 0


def test_crossed_snapshot_is_detected(spot_book: OrderBook) -> None:
    state = spot_book.on_snapshot(snapshot(100, [(105, 1)], [(104, 1)]))
    assert state is BookState.NEEDS_RESYNC
    request = spot_book.take_resync_request()
    assert request is not None and request.reason is ResyncReason.CROSSED


def test_views_mid_spread_and_depth(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert spot_book.spread() == 1
    # (100 + 101) / 2 = 100.5 raw, exact at 4 extra decimals: 1_005_000.
    assert spot_book.mid_price() == 1_005_000
    prices, sizes = spot_book.depth(BookSide.ASK, 5)
    assert prices.tolist() == [101, 102]
    assert sizes.tolist() == [7, 8]
    assert not spot_book.is_crossed()


def test_views_of_an_empty_side_are_none(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, []))
    assert spot_book.best_ask() is None
    assert spot_book.spread() is None
    assert spot_book.mid_price() is None


def test_buffer_overflow_drops_oldest_and_counts() -> None:
    book = OrderBook(1, BinanceSpotRules(), max_buffered=2)
    for first in (1, 2, 3):
        book.on_diff(diff(first, first))
    assert book.buffered == 2
    assert book.counters.buffer_dropped == 1


def test_reset_forgets_everything(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    spot_book.on_diff(diff(101, 102))
    spot_book.reset()
    assert spot_book.state is BookState.AWAITING_SNAPSHOT
    assert spot_book.update_id == 0
    assert spot_book.level_count(BookSide.BID) == 0


def test_invalid_level_in_a_diff_resets_the_book(spot_book: OrderBook) -> None:
    spot_book.on_snapshot(snapshot(100, BIDS, ASKS))
    with pytest.raises(BookError, match="invalid level"):
        spot_book.on_diff(diff(101, 101, bids=[(100, -1)]))
    assert spot_book.state is BookState.AWAITING_SNAPSHOT


# -- USD-M futures --------------------------------------------------------------------------------


def test_futures_first_event_must_bridge_the_snapshot(futures_book: OrderBook) -> None:
    futures_book.on_diff(diff(80, 90, prev=70))  # u < lastUpdateId: dropped
    futures_book.on_diff(diff(95, 105, prev=90))  # U <= 100 <= u: applied
    futures_book.on_diff(diff(140, 150, prev=105, bids=[(100, 1)]))  # pu == previous u
    state = futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert state is BookState.SYNCED
    assert futures_book.update_id == 150
    assert futures_book.counters.diffs_stale == 1
    assert futures_book.best_bid() == (100, 1)


def test_futures_event_ending_at_last_update_id_is_applied(futures_book: OrderBook) -> None:
    # Futures drop only u < lastUpdateId; u == lastUpdateId bridges it (U <= id <= u).
    futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert futures_book.on_diff(diff(95, 100, prev=94)) is BookInput.DIFF_IN_SEQUENCE


def test_futures_first_event_past_the_snapshot_is_a_snapshot_gap(futures_book: OrderBook) -> None:
    futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    assert futures_book.on_diff(diff(101, 110, prev=100)) is BookInput.DIFF_GAP
    request = futures_book.take_resync_request()
    assert request is not None and request.reason is ResyncReason.SNAPSHOT_GAP


def test_futures_chain_on_pu_not_on_u_plus_one(futures_book: OrderBook) -> None:
    futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    futures_book.on_diff(diff(95, 105, prev=90))
    # U jumps far beyond previous u + 1, as the recorded data shows; pu carries the chain.
    assert futures_book.on_diff(diff(140, 150, prev=105)) is BookInput.DIFF_IN_SEQUENCE
    assert futures_book.state is BookState.SYNCED


def test_futures_pu_mismatch_forces_resync(futures_book: OrderBook) -> None:
    futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    futures_book.on_diff(diff(95, 105, prev=90))
    # U == previous u + 1 would satisfy the spot rule, but pu says an event was missed.
    assert futures_book.on_diff(diff(106, 110, prev=104)) is BookInput.DIFF_GAP
    request = futures_book.take_resync_request()
    assert request is not None
    assert request.reason is ResyncReason.GAP
    assert (request.book_update_id, request.event_prev_update_id) == (105, 104)


def test_futures_repeat_of_an_applied_event_is_stale(futures_book: OrderBook) -> None:
    futures_book.on_snapshot(snapshot(100, BIDS, ASKS))
    futures_book.on_diff(diff(95, 105, prev=90))
    assert futures_book.on_diff(diff(95, 105, prev=90)) is BookInput.DIFF_STALE
    assert futures_book.state is BookState.SYNCED


def test_spot_rules_accept_what_futures_refuse() -> None:
    later = diff(106, 110, prev=104)
    assert BinanceSpotRules().next(later, 105) is BookInput.DIFF_IN_SEQUENCE
    assert BinanceFuturesRules().next(later, 105) is BookInput.DIFF_GAP
