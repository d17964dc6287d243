"""Property: an OrderBook fed random diffs equals a naive dict book."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qk.books import BinanceFuturesRules, BinanceSpotRules, BookSide, BookState, OrderBook
from tests.books.conftest import diff, snapshot

level = st.tuples(st.integers(1, 50), st.integers(0, 4))
updates = st.lists(st.tuples(st.lists(level, max_size=8), st.lists(level, max_size=8)), max_size=30)


def _ask(price: int) -> int:
    # Asks live above every bid so that random updates never cross the book.
    return price + 50


def _assert_equal(book: OrderBook, reference: dict[BookSide, dict[int, int]]) -> None:
    for side, descending in ((BookSide.BID, True), (BookSide.ASK, False)):
        prices, sizes = book.depth(side, 200)
        expected = sorted(reference[side].items(), reverse=descending)
        assert list(zip(prices.tolist(), sizes.tolist(), strict=True)) == expected


@settings(max_examples=150, deadline=None)
@given(
    initial=st.lists(level, max_size=10),
    events=updates,
    futures=st.booleans(),
    repeat_every=st.integers(2, 6),
)
def test_random_diffs_equal_a_dict_reference(
    initial: list[tuple[int, int]],
    events: list[tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    futures: bool,
    repeat_every: int,
) -> None:
    book = OrderBook(1, BinanceFuturesRules() if futures else BinanceSpotRules())
    reference: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
    bids = [(p, s) for p, s in initial if s]
    asks = [(_ask(p), s) for p, s in initial if s]
    for price, size in bids:
        reference[BookSide.BID][price] = size
    for price, size in asks:
        reference[BookSide.ASK][price] = size
    book.on_snapshot(snapshot(1000, bids, asks))
    previous = 1000
    for index, (bid_updates, ask_updates) in enumerate(events):
        # U = previous u bridges a futures snapshot (U <= id <= u) and overlaps harmlessly on spot.
        event = diff(
            previous,
            previous + 3,
            previous,
            bids=bid_updates,
            asks=[(_ask(p), s) for p, s in ask_updates],
        )
        book.on_diff(event)
        if index % repeat_every == 0:
            book.on_diff(event)  # a duplicate delivery must change nothing
        for side, side_updates in ((BookSide.BID, bid_updates), (BookSide.ASK, ask_updates)):
            for price, size in side_updates:
                key = price if side is BookSide.BID else _ask(price)
                if size:
                    reference[side][key] = size
                else:
                    reference[side].pop(key, None)
        previous += 3
    assert book.state in (BookState.SYNCED, BookState.SYNCING)
    _assert_equal(book, reference)
