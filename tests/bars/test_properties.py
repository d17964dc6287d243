"""Property tests of the aggregator: chunking, shuffling within the lateness, duplicates."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.bars import BarAggregator, BarSpec, FeedConfig, final_bars
from qk.schemas.enums import BarAggregation, BarFlag

SECOND = 1_000_000_000
SPECS = (
    BarSpec.time(SECOND),
    BarSpec.time(3 * SECOND),
    BarSpec.time(60 * SECOND),
    BarSpec(BarAggregation.TICK, 7, "7t"),
    BarSpec(BarAggregation.VOLUME, 50, "50v"),
)
TIME_SPECS = SPECS[:3]


@dataclass
class Ticks:
    ts: npt.NDArray[np.int64]
    price: npt.NDArray[np.int64]
    qty: npt.NDArray[np.int64]
    ids: npt.NDArray[np.uint64]

    def take(self, order: npt.NDArray[np.intp]) -> Ticks:
        return Ticks(self.ts[order], self.price[order], self.qty[order], self.ids[order])


@st.composite
def sorted_ticks(draw: st.DrawFn, max_size: int = 300) -> Ticks:
    """Event-time-sorted ticks with unique ids, ties, and quiet stretches (empty bars)."""
    n = draw(st.integers(1, max_size))
    gaps = draw(
        st.lists(
            st.one_of(st.integers(0, SECOND // 4), st.integers(0, 5 * SECOND)),
            min_size=n,
            max_size=n,
        )
    )
    prices = draw(st.lists(st.integers(1, 1000), min_size=n, max_size=n))
    qtys = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    ts = 1_700_000_000 * SECOND + np.cumsum(np.array(gaps, dtype=np.int64))
    return Ticks(
        ts,
        np.array(prices, dtype=np.int64),
        np.array(qtys, dtype=np.int64),
        np.arange(1, n + 1, dtype=np.uint64),
    )


def _run_batch(ticks: Ticks, feed: FeedConfig, cuts: list[int], specs=SPECS) -> np.ndarray:  # type: ignore[no-untyped-def]
    agg = BarAggregator(specs, feed)
    bounds = [0, *sorted(set(cuts)), len(ticks.ts)]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        out.append(
            agg.update(
                ticks.ts[lo:hi],
                ticks.price[lo:hi],
                ticks.qty[lo:hi],
                ticks.ids[lo:hi],
                ts_recv=ticks.ts[lo:hi] + 5,
            )
        )
    out.append(agg.finish())
    return np.concatenate(out)


def _run_live(ticks: Ticks, feed: FeedConfig, specs=SPECS) -> np.ndarray:  # type: ignore[no-untyped-def]
    agg = BarAggregator(specs, feed)
    out = []
    for i in range(len(ticks.ts)):
        if agg.on_trade(
            int(ticks.ts[i]),
            int(ticks.ts[i]) + 5,
            int(ticks.price[i]),
            int(ticks.qty[i]),
            int(ticks.ids[i]),
        ):
            out.append(agg.take_bars())
    out.append(agg.finish())
    return np.concatenate(out)


def _displace(ticks: Ticks, lateness: int, draw: st.DrawFn) -> Ticks:
    """Arrival order = sort by ts + d, 0 <= d <= lateness: every tick arrives no later than
    `lateness` after the newest event time seen, so none is too late."""
    delays = draw(
        st.lists(st.integers(0, lateness), min_size=len(ticks.ts), max_size=len(ticks.ts))
    )
    order = np.lexsort((ticks.ids, ticks.ts + np.array(delays, dtype=np.int64)))
    return ticks.take(order)


@settings(max_examples=60, deadline=None)
@given(ticks=sorted_ticks(), data=st.data())
def test_any_chunking_and_the_per_record_path_give_byte_identical_bars(
    ticks: Ticks, data: st.DataObject
) -> None:
    feed = FeedConfig(lateness_ns=2 * SECOND)
    arrived = _displace(ticks, 2 * SECOND, data.draw)
    cuts = data.draw(st.lists(st.integers(0, len(ticks.ts)), max_size=8))

    whole = _run_batch(arrived, feed, [])
    chunked = _run_batch(arrived, feed, cuts)
    live = _run_live(arrived, feed)

    assert len(whole) > 0
    assert whole.tobytes() == chunked.tobytes()
    assert whole.tobytes() == live.tobytes()


def _final_state(bars: np.ndarray) -> list[tuple[int, ...]]:
    final = final_bars(bars)
    final = final[final["aggregation"] == int(BarAggregation.TIME)]
    return [
        (
            int(b["timeframe_ns"]),
            int(b["open_time"]),
            int(b["close_time"]),
            int(b["open"]),
            int(b["high"]),
            int(b["low"]),
            int(b["close"]),
            int(b["volume"]),
            int(b["vwap"]),
            int(b["trade_count"]),
            int(b["flags"]) & ~int(BarFlag.REVISED),
        )
        for b in final
    ]


@settings(max_examples=80, deadline=None)
@given(ticks=sorted_ticks(), lateness_s=st.integers(0, 4), data=st.data())
def test_a_stream_shuffled_within_the_lateness_gives_the_final_bars_of_the_sorted_one(
    ticks: Ticks, lateness_s: int, data: st.DataObject
) -> None:
    lateness = lateness_s * SECOND
    feed = FeedConfig(lateness_ns=lateness)
    shuffled = _displace(ticks, lateness, data.draw)

    sorted_bars = _run_batch(ticks, feed, [], TIME_SPECS)
    agg = BarAggregator(TIME_SPECS, feed)
    shuffled_bars = np.concatenate(
        [agg.update(shuffled.ts, shuffled.price, shuffled.qty, shuffled.ids), agg.finish()]
    )

    assert agg.metrics()["ticks_too_late"] == 0
    assert _final_state(shuffled_bars) == _final_state(sorted_bars)


@settings(max_examples=60, deadline=None)
@given(ticks=sorted_ticks(), data=st.data())
def test_duplicate_trade_ids_change_nothing(ticks: Ticks, data: st.DataObject) -> None:
    feed = FeedConfig(lateness_ns=2 * SECOND)
    arrived = _displace(ticks, 2 * SECOND, data.draw)
    n = len(arrived.ts)
    # Re-deliver some ticks later in the stream, with a different price and quantity: a venue
    # replaying a trade id after a reconnect. Identity is the id, not the payload.
    picks = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=20))
    order = list(range(n))
    for pick in picks:
        after = order.index(pick) + 1
        order.insert(data.draw(st.integers(after, len(order))), -pick - 1)
    ts = np.array([arrived.ts[i] if i >= 0 else arrived.ts[-i - 1] for i in order])
    ids = np.array([arrived.ids[i] if i >= 0 else arrived.ids[-i - 1] for i in order])
    price = np.array([arrived.price[i] if i >= 0 else 99_999 for i in order])
    qty = np.array([arrived.qty[i] if i >= 0 else 77 for i in order])
    with_dups = Ticks(
        ts.astype(np.int64), price.astype(np.int64), qty.astype(np.int64), ids.astype(np.uint64)
    )

    clean = _run_batch(arrived, feed, [])
    agg = BarAggregator(SPECS, feed)
    dirty = np.concatenate(
        [
            agg.update(
                with_dups.ts,
                with_dups.price,
                with_dups.qty,
                with_dups.ids,
                ts_recv=with_dups.ts + 5,
            ),
            agg.finish(),
        ]
    )

    assert dirty.tobytes() == clean.tobytes()
    metrics = agg.metrics()
    assert metrics["ticks_duplicate"] + metrics["ticks_too_late"] == len(picks)
