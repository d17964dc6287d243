"""Unit tests of the time rules: late and too-late ticks, gaps, flushes, empty, tick and volume
bars, quote bars, validation."""

from __future__ import annotations

import numpy as np
import pytest

from qk.bars import BarAggregator, BarSpec, FeedConfig, TickResult, final_bars
from qk.schemas import dtype_of, layout_of, new_records
from qk.schemas.enums import BarAggregation, BarFlag, BarSource, RecordType

S = 1_000_000_000
T0 = 1_700_000_040 * S  # a whole minute


def _agg(lateness: int = 0, emit_delay: int = 0, **feed: object) -> BarAggregator:
    return BarAggregator(
        [BarSpec.time(S)],
        FeedConfig(lateness_ns=lateness, emit_delay_ns=emit_delay, **feed),  # type: ignore[arg-type]
        instrument_id=7,
    )


def test_a_bar_is_published_when_event_time_passes_its_end_with_ohlcv_and_vwap() -> None:
    agg = _agg()
    assert agg.on_trade(T0 + 100, 11, 100, 2, 1) == 0
    assert agg.on_trade(T0 + 200, 12, 104, 1, 2) == 0
    assert agg.on_trade(T0 + 300, 13, 98, 1, 3) == 0
    assert agg.on_trade(T0 + S + 5, 14, 101, 4, 4) == 1

    (bar,) = agg.take_bars()
    assert (bar["open_time"], bar["close_time"], bar["ts_event"]) == (T0, T0 + S, T0 + S)
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (100, 104, 98, 98)
    assert (bar["volume"], bar["trade_count"]) == (4, 3)
    assert bar["vwap"] == 1_005_000  # (200 + 104 + 98) / 4 = 100.5, 4 extra decimals
    assert (bar["instrument_id"], bar["bar_source"], bar["aggregation"]) == (
        7,
        BarSource.TRADES,
        BarAggregation.TIME,
    )
    assert (bar["ts_recv"], bar["corr_id"], bar["flags"], bar["revision"]) == (14, 4, 0, 0)
    assert (bar["type"], bar["version"], bar["size"]) == (
        RecordType.BAR_EVENT,
        layout_of("BarEvent").version,
        dtype_of("BarEvent").itemsize,
    )


def test_a_late_tick_within_the_lateness_revises_its_published_bar() -> None:
    agg = _agg(lateness=2 * S)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + S + 100, 0, 101, 1, 2)  # publishes [T0, T0+1s)
    (first,) = agg.take_bars()
    assert first["revision"] == 0 and first["trade_count"] == 1

    assert agg.on_trade(T0 + 50, 0, 90, 3, 3) == 1  # late by ~1s: within 2s

    (revised,) = agg.take_bars()
    assert revised["flags"] & BarFlag.REVISED
    assert revised["revision"] == 1
    assert (revised["open"], revised["low"], revised["close"]) == (90, 90, 100)
    assert (revised["trade_count"], revised["volume"]) == (2, 4)
    assert agg.metrics()["bar_revisions"] == 1


def test_a_tick_older_than_the_watermark_is_counted_and_dropped() -> None:
    agg = _agg(lateness=S)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + 3 * S, 0, 101, 1, 2)
    agg.take_bars()
    assert agg.watermark == T0 + 2 * S

    waiting = agg.on_trade(T0 + 200, 0, 1, 1, 3)

    assert waiting == 0 and len(agg.take_bars()) == 0
    assert agg.metrics()["ticks_too_late"] == 1
    bars = agg.finish()
    assert 1 not in bars["open"]


def test_emit_delay_equal_to_lateness_publishes_each_bar_once_and_final() -> None:
    agg = _agg(lateness=2 * S, emit_delay=2 * S)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + S + 100, 0, 101, 1, 2)
    agg.on_trade(T0 + 50, 0, 90, 1, 3)
    assert len(agg.take_bars()) == 0  # not yet: event time must pass the end by 2s
    agg.on_trade(T0 + 3 * S, 0, 102, 1, 4)

    (bar,) = agg.take_bars()
    assert (bar["open"], bar["trade_count"], bar["revision"], bar["flags"]) == (90, 2, 0, 0)


def test_duplicate_trade_id_is_ignored_and_counted() -> None:
    agg = _agg(lateness=S)
    assert agg.on_trade(T0 + 1, 0, 100, 1, 42) == 0
    agg.on_trade(T0 + 2, 0, 500, 9, 42)
    agg.on_trade(T0 + 2 * S, 0, 100, 1, 43)

    (bar,) = final_bars(np.concatenate([agg.take_bars(), agg.finish()]))[:1]
    assert (bar["high"], bar["volume"], bar["trade_count"]) == (100, 1, 1)
    assert agg.metrics()["ticks_duplicate"] == 1


def test_out_of_order_ticks_set_open_and_close_by_event_time_not_arrival() -> None:
    agg = _agg(lateness=S)
    agg.on_trade(T0 + 500, 0, 105, 1, 5)
    agg.on_trade(T0 + 100, 0, 101, 1, 1)
    agg.on_trade(T0 + 900, 0, 109, 1, 9)
    agg.on_trade(T0 + 300, 0, 103, 1, 3)

    (bar,) = agg.finish()
    assert (bar["open"], bar["close"]) == (101, 109)


def test_a_reported_gap_marks_overlapping_bars_incomplete_and_asks_for_a_resync() -> None:
    agg = _agg(lateness=5 * S)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + 1 * S + 100, 0, 101, 1, 2)  # publishes bar 0
    agg.take_bars()

    waiting = agg.on_gap(T0 + 900_000_000, T0 + S + 50, ts_recv=77)

    (revised,) = agg.take_bars()  # bar 0 was published: the INCOMPLETE mark is a revision
    assert waiting == 1
    assert revised["flags"] & BarFlag.INCOMPLETE and revised["flags"] & BarFlag.REVISED
    assert revised["ts_recv"] == 77
    assert agg.take_resync_requests().tolist() == [[T0 + 900_000_000, T0 + S + 50]]
    assert agg.take_resync_requests().shape == (0, 2)
    agg.on_trade(T0 + 2 * S + 100, 0, 102, 1, 3)
    bars = final_bars(np.concatenate([agg.take_bars(), agg.finish()]))
    assert list(bars["open_time"]) == [T0 + S, T0 + 2 * S]
    assert [bool(f & BarFlag.INCOMPLETE) for f in bars["flags"]] == [True, False]
    assert agg.metrics()["gaps"] == 1


def test_a_jump_in_contiguous_trade_ids_is_a_gap() -> None:
    agg = _agg(contiguous_ids=True)
    agg.on_trade(T0 + 100, 0, 100, 1, 10)
    agg.on_trade(T0 + 200, 0, 100, 1, 11)
    agg.on_trade(T0 + S + 100, 0, 100, 1, 15)  # 12..14 missing

    bars = np.concatenate([agg.take_bars(), agg.finish()])
    assert [bool(f & BarFlag.INCOMPLETE) for f in bars["flags"]] == [True, True]
    assert agg.take_resync_requests().tolist() == [[T0 + 200, T0 + S + 100]]


def test_gap_marks_the_tick_bar_being_filled() -> None:
    agg = BarAggregator([BarSpec(BarAggregation.TICK, 2, "2t")])
    agg.on_trade(T0, 0, 100, 1, 1)
    agg.on_gap(T0, T0 + 10)
    agg.on_trade(T0 + 20, 0, 100, 1, 2)
    agg.on_trade(T0 + 30, 0, 100, 1, 3)
    bars = agg.finish()
    assert [int(f) for f in np.concatenate([bars["flags"]])] == [int(BarFlag.INCOMPLETE), 0]


def test_flush_publishes_due_bars_of_a_quiet_feed_only_after_the_idle_timeout() -> None:
    agg = _agg(lateness=2 * S, idle_timeout_ns=3 * S)
    recv0 = 5_000 * S  # the receive clock is not the event clock
    agg.on_trade(T0 + 100, recv0, 100, 1, 1)

    assert agg.flush(recv0 + 2 * S) == 0  # quiet for 2s < 3s
    assert agg.flush(recv0 + 3 * S) == 1

    (bar,) = agg.take_bars()
    assert bar["flags"] & BarFlag.FLUSHED
    assert bar["ts_recv"] == recv0 + 3 * S
    # The flushed bar is still revisable until the event-time watermark passes it.
    agg.on_trade(T0 + 200, recv0 + 4 * S, 99, 1, 2)
    (revised,) = agg.take_bars()
    assert revised["revision"] == 1 and revised["low"] == 99


def test_quiet_intervals_become_empty_bars_repeating_the_previous_close() -> None:
    agg = _agg()
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + 3 * S + 100, 0, 103, 1, 2)

    bars = agg.take_bars()
    assert list(bars["open_time"]) == [T0, T0 + S, T0 + 2 * S]
    assert [int(f) for f in bars["flags"]] == [0, int(BarFlag.EMPTY), int(BarFlag.EMPTY)]
    assert list(bars["close"]) == [100, 100, 100]
    assert list(bars["trade_count"]) == [1, 0, 0]


def test_empty_bars_can_be_turned_off() -> None:
    agg = _agg(emit_empty=False)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + 3 * S + 100, 0, 103, 1, 2)
    assert list(agg.take_bars()["open_time"]) == [T0]


def test_a_long_quiet_stretch_is_cut_at_max_empty_run() -> None:
    agg = _agg(max_empty_run=5)
    agg.on_trade(T0 + 100, 0, 100, 1, 1)
    agg.on_trade(T0 + 100 * S, 0, 103, 1, 2)
    assert len(agg.take_bars()) == 1 + 5
    assert agg.metrics()["empty_runs_skipped"] == 1


def test_tick_and_volume_bars_close_on_count_and_quantity() -> None:
    agg = BarAggregator(
        [BarSpec(BarAggregation.TICK, 3, "3t"), BarSpec(BarAggregation.VOLUME, 10, "10v")]
    )
    qty = [4, 4, 4, 1, 1, 9]
    bars = agg.update(
        T0 + np.arange(6) * 10, np.arange(100, 106), np.array(qty), np.arange(1, 7, dtype=np.uint64)
    )
    tick = bars[bars["aggregation"] == BarAggregation.TICK]
    volume = bars[bars["aggregation"] == BarAggregation.VOLUME]
    assert list(tick["trade_count"]) == [3, 3]
    assert (tick["open_time"][0], tick["close_time"][0]) == (T0, T0 + 20)
    assert list(volume["volume"]) == [12, 11]  # the trade that crosses N stays whole
    assert list(volume["timeframe_ns"]) == [10, 10]


def test_finish_publishes_the_partial_tick_bar() -> None:
    agg = BarAggregator([BarSpec(BarAggregation.TICK, 3, "3t")])
    agg.on_trade(T0, 0, 100, 1, 1)
    (bar,) = agg.finish()
    assert bar["trade_count"] == 1


@pytest.mark.parametrize(
    "source, expected",
    [
        (BarSource.QUOTE_BID, [100, 102]),
        (BarSource.QUOTE_ASK, [101, 105]),
        (BarSource.QUOTE_MID, [100, 103]),
    ],
)
def test_quote_bars_from_bid_ask_or_mid(source: BarSource, expected: list[int]) -> None:
    quotes = new_records("QuoteEvent", 3)
    quotes["ts_event"] = [T0 + 1, T0 + 2, T0 + 3]
    quotes["bid_price"] = [100, 0, 102]
    quotes["ask_price"] = [101, 105, 105]
    agg = BarAggregator([BarSpec.time(S)], bar_source=source)
    bars = np.concatenate([agg.update_quotes(quotes), agg.finish()])
    (bar,) = bars
    assert [bar["open"], bar["close"]] == expected
    assert bar["bar_source"] == source and bar["volume"] == 0 and bar["vwap"] == 0


def test_update_trades_takes_trade_event_records() -> None:
    trades = new_records("TradeEvent", 2)
    trades["ts_event"] = [T0 + 1, T0 + 2]
    trades["price"] = [100, 101]
    trades["quantity"] = [1, 1]
    trades["venue_trade_id"] = [1, 1]
    agg = BarAggregator([BarSpec.time(S)])
    agg.update_trades(trades)
    (bar,) = agg.finish()
    assert bar["trade_count"] == 1
    assert agg.on_trade(T0 + 3, 0, 1, 1, 1) == 0
    assert TickResult.DUPLICATE != TickResult.ACCEPTED


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lateness_ns": -1}, "lateness_ns"),
        ({"lateness_ns": 1, "emit_delay_ns": 2}, "emit_delay_ns"),
    ],
)
def test_bad_feed_config_is_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeedConfig(**kwargs)


def test_volume_bars_from_quotes_and_duplicate_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="volume bars need trades"):
        BarAggregator([BarSpec(BarAggregation.VOLUME, 5)], bar_source=BarSource.QUOTE_MID)
    with pytest.raises(ValueError, match="duplicate"):
        BarAggregator([BarSpec.time(S), BarSpec.time(S)])
    with pytest.raises(ValueError, match="> 0"):
        BarSpec.time(0)


def test_duplicates_are_found_in_id_runs_short_runs_and_out_of_order_ids() -> None:
    agg = BarAggregator([BarSpec.time(S)], FeedConfig(lateness_ns=10 * S))
    ids = [*range(1, 21), *range(30, 33), *range(50, 60), 25, 45]  # runs, a short run, holes
    for k, trade_id in enumerate(ids):
        agg.on_trade(T0 + k, 0, 100, 1, trade_id)
    before = agg.metrics()["ticks_accepted"]

    for trade_id in (5, 20, 31, 50, 59, 25, 45):
        agg.on_trade(T0 + 100, 0, 100, 1, trade_id)
    for trade_id in (21, 29, 33, 44, 60):  # never seen
        agg.on_trade(T0 + 100, 0, 100, 1, trade_id)

    metrics = agg.metrics()
    assert metrics["ticks_duplicate"] == 7
    assert metrics["ticks_accepted"] == before + 5
