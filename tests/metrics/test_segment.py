"""The writer's segment and the reader: registration, values, errors, discovery and takeover."""

from __future__ import annotations

import subprocess
import time

import posix_ipc
import pytest

from qk.metrics import (
    Geometry,
    MetricDefinitionError,
    MetricKind,
    MetricsLayoutError,
    MetricsSegment,
    MetricsTableFullError,
    SegmentBusyError,
    SegmentReader,
    cleanup_stale,
    discover,
    segment_name,
)

from .conftest import PYTHON

HOLDER = r"""
import sys
from qk.metrics import MetricsSegment
segment = MetricsSegment.create(sys.argv[1], sys.argv[2])
segment.counter("held_total").inc(3)
print("ready", flush=True)
sys.stdin.readline()
"""


def test_values_written_by_the_owner_are_read_back_exactly(session: str) -> None:
    with MetricsSegment.create(session, "risk") as segment:
        orders = segment.counter("orders_total", "orders seen", {"venue": "sim"})
        lag = segment.gauge("ring_lag", "records behind")
        usage = segment.float_gauge("cpu_usage", "share of one core")
        latency = segment.histogram("check_latency", "pre-trade check time")
        orders.inc()
        orders.inc(41)
        lag.set(-7)
        lag.inc(3)
        lag.dec()
        usage.set(0.625)
        for ns in (150, 2_500, 2_500, 90_000_000):
            latency.record(ns)

        with SegmentReader.attach(segment.shm_name) as reader:
            info = reader.info
            metrics = {m.name: m for m in reader.metrics()}
            assert (info.session, info.process) == (session, "risk")
            assert reader.alive()
            assert metrics["orders_total"].kind is MetricKind.COUNTER
            assert metrics["orders_total"].labels == {"venue": "sim"}
            assert metrics["orders_total"].help == "orders seen"
            assert reader.counter(metrics["orders_total"]) == 42
            assert reader.gauge(metrics["ring_lag"]) == -5
            assert reader.gauge(metrics["cpu_usage"]) == 0.625
            snapshot = reader.histogram(metrics["check_latency"])
        assert orders.value == 42 and lag.value == -5 and usage.value == 0.625
        assert latency.count == 4
    assert snapshot is not None
    assert (snapshot.count, snapshot.sum_ns) == (4, 90_005_150)
    assert (snapshot.min_ns, snapshot.max_ns) == (150, 90_000_000)
    assert int(snapshot.counts.sum()) == 4


def test_registering_the_same_metric_again_returns_the_same_slot(session: str) -> None:
    with MetricsSegment.create(session, "oms") as segment:
        first = segment.counter("fills_total", labels={"venue": "sim"})
        again = segment.counter("fills_total", labels={"venue": "sim"})
        other = segment.counter("fills_total", labels={"venue": "binance"})
        first.inc(2)
        again.inc(3)
        other.inc(7)
        with SegmentReader.attach(segment.shm_name) as reader:
            values = {m.labels["venue"]: reader.counter(m) for m in reader.metrics()}
    assert first is again
    assert values == {"sim": 5, "binance": 7}


def test_one_name_cannot_be_two_kinds(session: str) -> None:
    with MetricsSegment.create(session, "oms") as segment:
        segment.counter("orders_total")
        with pytest.raises(MetricDefinitionError, match="already a counter"):
            segment.gauge("orders_total")


@pytest.mark.parametrize(
    ("name", "labels", "message"),
    [
        ("9lives", {}, "not a Prometheus name"),
        ("bad-name", {}, "not a Prometheus name"),
        ("ok", {"process": "x"}, "reserved"),
        ("ok", {"le": "1"}, "reserved"),
        ("ok", {"bad-label": "x"}, "label name"),
        ("ok", {"__x": "x"}, "label name"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(
    session: str, name: str, labels: dict[str, str], message: str
) -> None:
    with (
        MetricsSegment.create(session, "feed") as segment,
        pytest.raises(MetricDefinitionError, match=message),
    ):
        segment.counter(name, labels=labels)


def test_histogram_name_must_not_carry_a_unit_suffix(session: str) -> None:
    with (
        MetricsSegment.create(session, "feed") as segment,
        pytest.raises(MetricDefinitionError, match="exported as latency_seconds_seconds"),
    ):
        segment.histogram("latency_seconds")


def test_name_table_overflow_names_the_segment_and_the_metric(session: str) -> None:
    with MetricsSegment.create(session, "strategy:momentum", Geometry(names=2)) as segment:
        segment.counter("a_total")
        segment.gauge("b")
        with pytest.raises(MetricsTableFullError) as raised:
            segment.counter("c_total")
    message = str(raised.value)
    assert "name table full (2 entries)" in message
    assert "c_total" in message
    assert f"/qk.{session}.metrics.strategy:momentum" in message


def test_slot_overflow_of_one_kind_is_reported(session: str) -> None:
    with MetricsSegment.create(session, "feed", Geometry(histograms=1)) as segment:
        segment.histogram("first")
        segment.counter("still_fine_total")
        with pytest.raises(MetricsTableFullError, match=r"all 1 histogram slots used.*second"):
            segment.histogram("second")


def test_oversized_help_text_is_refused(session: str) -> None:
    with (
        MetricsSegment.create(session, "feed") as segment,
        pytest.raises(MetricDefinitionError, match="entry holds 496"),
    ):
        segment.counter("wordy_total", "x" * 600)


def test_negative_counter_and_latency_are_refused(session: str) -> None:
    with MetricsSegment.create(session, "feed") as segment:
        counter = segment.counter("ticks_total")
        histogram = segment.histogram("latency")
        with pytest.raises(ValueError, match="ticks_total"):
            counter.inc(-1)
        with pytest.raises(ValueError, match="latency"):
            histogram.record(-3)
        assert counter.value == 0 and histogram.count == 0


def test_invalid_session_and_process_names_are_refused() -> None:
    with pytest.raises(ValueError, match="session name"):
        segment_name("a/b", "feed")
    with pytest.raises(ValueError, match="process name"):
        segment_name("s", "feed/binance")
    with pytest.raises(ValueError, match="capacity histograms=0"):
        Geometry(histograms=0)


def test_names_registered_later_are_seen_by_an_attached_reader(session: str) -> None:
    with MetricsSegment.create(session, "aggregator") as segment:
        segment.counter("bars_total").inc()
        with SegmentReader.attach(segment.shm_name) as reader:
            assert [m.name for m in reader.metrics()] == ["bars_total"]
            segment.counter("late_total").inc(9)
            metrics = reader.metrics()
            assert [m.name for m in metrics] == ["bars_total", "late_total"]
            assert reader.counter(metrics[1]) == 9


def test_a_histogram_being_written_is_never_returned(session: str) -> None:
    with MetricsSegment.create(session, "feed") as segment:
        histogram = segment.histogram("latency")
        histogram.record(500)
        with SegmentReader.attach(segment.shm_name) as reader:
            metric = reader.metrics()[0]
            base = segment.geometry.histograms_offset // 8
            words = segment._u64
            stable = words[base]
            # An odd sequence word is what a reader sees in the middle of record().
            words[base] = stable + 1
            assert reader.histogram(metric, attempts=50) is None
            words[base] = stable + 2
            snapshot = reader.histogram(metric, attempts=1)
    assert snapshot is not None and snapshot.count == 1


def test_discover_lists_only_metrics_segments_of_the_session(session: str) -> None:
    impostor = f"/qk.{session}.metrics.impostor"
    shm = posix_ipc.SharedMemory(impostor, posix_ipc.O_CREX, size=4096)
    shm.close_fd()
    try:
        with MetricsSegment.create(session, "feed"), MetricsSegment.create(session, "risk"):
            names = discover(session)
            assert names == [segment_name(session, "feed"), segment_name(session, "risk")]
            assert set(names) <= set(discover())
            with pytest.raises(MetricsLayoutError, match="magic"):
                SegmentReader.attach(impostor)
    finally:
        posix_ipc.unlink_shared_memory(impostor)


def test_a_dotted_session_does_not_claim_another_sessions_segments(session: str) -> None:
    dotted = f"{session}.metrics.x"
    with MetricsSegment.create(session, "feed"), MetricsSegment.create(dotted, "risk@1"):
        assert discover(session) == [segment_name(session, "feed")]
        assert discover(dotted) == [segment_name(dotted, "risk@1")]


def test_attach_to_a_missing_segment_says_so(session: str) -> None:
    with pytest.raises(FileNotFoundError, match="no metrics segment"):
        SegmentReader.attach(segment_name(session, "nobody"))


def test_a_live_owner_keeps_its_segment_and_a_dead_one_loses_it(session: str) -> None:
    child = subprocess.Popen(
        [PYTHON, "-c", HOLDER, session, "gateway:sim"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(SegmentBusyError, match=f"live process {child.pid}"):
            MetricsSegment.create(session, "gateway:sim")
        assert cleanup_stale(session) == []
        child.stdin.write("exit\n")
        child.stdin.flush()
        child.wait(timeout=30)
    finally:
        child.kill()
    with SegmentReader.attach(segment_name(session, "gateway:sim")) as reader:
        assert not reader.alive()
        assert reader.counter(reader.metrics()[0]) == 3
    # The restarted process takes the name over and starts from zero.
    with MetricsSegment.create(session, "gateway:sim") as segment:
        assert segment.counter("held_total").value == 0
        with SegmentReader.attach(segment.shm_name) as reader:
            assert reader.alive()


def test_cleanup_removes_only_dead_owners_segments(session: str) -> None:
    child = subprocess.run(
        [PYTHON, "-c", HOLDER, session, "feed"], input="\n", capture_output=True, text=True
    )
    assert child.returncode == 0, child.stderr
    with MetricsSegment.create(session, "risk"):
        deadline = time.monotonic() + 10
        removed: list[str] = []
        while not removed and time.monotonic() < deadline:
            removed = cleanup_stale(session)
        assert removed == [segment_name(session, "feed")]
        assert discover(session) == [segment_name(session, "risk")]


def test_closed_handles_stop_working(session: str) -> None:
    segment = MetricsSegment.create(session, "feed")
    counter = segment.counter("ticks_total")
    segment.close()
    segment.unlink()
    with pytest.raises(ValueError):
        counter.inc()
    with pytest.raises(ValueError, match="closed"):
        segment.counter("other_total")
