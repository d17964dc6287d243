"""StageClock: per-stage deltas by correlation id, carried timestamps, eviction, errors."""

from __future__ import annotations

import pytest

from qk.metrics import (
    STAGE_NAMES,
    TICK_TO_ORDER,
    HistogramSnapshot,
    MetricsSegment,
    SegmentReader,
    Stage,
    StageClock,
    stage_metric,
)


def snapshots(segment: MetricsSegment) -> dict[str, HistogramSnapshot]:
    with SegmentReader.attach(segment.shm_name) as reader:
        result = {}
        for metric in reader.metrics():
            snapshot = reader.histogram(metric)
            assert snapshot is not None
            result[metric.name] = snapshot
        return result


def test_stage_names_are_the_pipeline_in_order() -> None:
    assert STAGE_NAMES == ("feed", "aggregator", "strategy", "risk", "oms", "gateway")
    assert [stage_metric(stage) for stage in Stage] == [
        f"stage_{name}_latency" for name in STAGE_NAMES
    ]
    assert stage_metric(Stage.FEED) == "stage_feed_latency"


def test_each_stage_records_the_time_since_the_previous_one(session: str) -> None:
    with MetricsSegment.create(session, "pipeline") as segment:
        clock = StageClock(segment)
        marks = {Stage.FEED: 1_000, Stage.AGGREGATOR: 1_700, Stage.STRATEGY: 5_700}
        marks |= {Stage.RISK: 6_000, Stage.OMS: 6_050, Stage.GATEWAY: 26_050}
        recorded = [clock.mark(42, stage, t) for stage, t in marks.items()]
        # A second tick skips the aggregator: the strategy measures from the feed.
        assert clock.mark(43, Stage.FEED, 10_000) == -1
        assert clock.mark(43, Stage.STRATEGY, 12_500) == 2_500
        found = snapshots(segment)
    assert recorded == [-1, 700, 4_000, 300, 50, 20_000]
    assert found["stage_feed_latency"].count == 0
    assert found["stage_aggregator_latency"].sum_ns == 700
    assert found["stage_strategy_latency"].count == 2
    assert found["stage_strategy_latency"].sum_ns == 6_500
    assert (found["stage_gateway_latency"].min_ns, found["stage_gateway_latency"].count) == (
        20_000,
        1,
    )
    assert found[TICK_TO_ORDER].sum_ns == 25_050


def test_a_carried_upstream_timestamp_is_used_across_processes(session: str) -> None:
    with MetricsSegment.create(session, "risk") as segment:
        clock = StageClock(segment)
        assert clock.mark(7, Stage.RISK, 9_000, since_ns=8_250) == 750
        assert clock.mark(7, Stage.FEED, 100, since_ns=40) == 60
        found = snapshots(segment)
    assert found["stage_risk_latency"].sum_ns == 750
    assert found["stage_feed_latency"].sum_ns == 60


def test_a_stage_marked_before_its_predecessor_is_an_error(session: str) -> None:
    with MetricsSegment.create(session, "oms") as segment:
        clock = StageClock(segment)
        clock.mark(5, Stage.RISK, 2_000)
        with pytest.raises(ValueError, match="stage oms of correlation id 5 marked at 1500 ns"):
            clock.mark(5, Stage.OMS, 1_500)


def test_the_oldest_correlation_ids_are_forgotten_first(session: str) -> None:
    with MetricsSegment.create(session, "strategy") as segment:
        clock = StageClock(segment, capacity=2)
        clock.mark(1, Stage.FEED, 100)
        clock.mark(2, Stage.FEED, 200)
        clock.mark(3, Stage.FEED, 300)
        assert len(clock) == 2
        assert clock.mark(1, Stage.STRATEGY, 400) == -1
        assert clock.mark(3, Stage.STRATEGY, 400) == 100
        clock.forget(3)
        assert clock.mark(3, Stage.RISK, 500) == -1
    with pytest.raises(ValueError, match="capacity"):
        StageClock(segment, capacity=0)
