"""The exporter over real HTTP: a child process's metrics, exact values, up and clean-up."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qk.metrics import MetricsExporter, MetricsSegment, discover, segment_name
from qk.metrics.buckets import EXPORT_BOUNDS_NS

from .conftest import PYTHON

CHILD = r"""
import sys
from qk.metrics import MetricsSegment
segment = MetricsSegment.create(sys.argv[1], "strategy:momentum")
ticks = segment.counter("ticks_total", "ticks handled", {"venue": "sim"})
intents = segment.counter("intents", "intents written")
position = segment.gauge("position_lots", "open position")
pnl = segment.float_gauge("pnl", "unrealised pnl")
latency = segment.histogram("decision_latency", "tick to intent")
for _ in range(1234):
    ticks.inc()
intents.inc(17)
position.set(-3)
pnl.set(12.5)
for ns in [150] * 50 + [1_500] * 40 + [2_000_000] * 9 + [7_000_000_000]:
    latency.record(ns)
print("ready", flush=True)
sys.stdin.readline()
"""


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_child_metrics_are_served_exactly_then_marked_down_and_cleaned(session: str) -> None:
    child = subprocess.Popen(
        [PYTHON, "-c", CHILD, session],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    proc = ("process", "strategy:momentum")
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        with MetricsExporter(session, port=0) as exporter:
            assert exporter.url.startswith("http://127.0.0.1:")
            assert exporter.port > 0
            live = scrape(exporter.url)

            assert live[("qk_process_up", (proc,))] == 1.0
            assert live[("qk_ticks_total", (proc, ("venue", "sim")))] == 1234.0
            assert live[("qk_intents_total", (proc,))] == 17.0
            assert live[("qk_position_lots", (proc,))] == -3.0
            assert live[("qk_pnl", (proc,))] == 12.5
            hist = "qk_decision_latency_seconds"
            assert live[(hist + "_count", (proc,))] == 100.0
            assert live[(hist + "_sum", (proc,))] == pytest.approx(
                (150 * 50 + 1_500 * 40 + 2_000_000 * 9 + 7_000_000_000) / 1e9
            )
            buckets = {
                float(dict(labels)["le"]): value
                for (name, labels), value in live.items()
                if name == hist + "_bucket"
            }
            assert len(buckets) == len(EXPORT_BOUNDS_NS) + 1
            assert buckets[1e-07] == 0.0
            assert buckets[2e-07] == 50.0
            assert buckets[1e-06] == 50.0
            assert buckets[2e-06] == 90.0
            assert buckets[2e-03] == 99.0
            assert buckets[5.0] == 99.0
            assert buckets[10.0] == 100.0
            assert buckets[float("inf")] == 100.0
            assert live[("qk_decision_latency_p50_seconds", (proc,))] == pytest.approx(150e-9)
            assert live[("qk_decision_latency_p99_seconds", (proc,))] == pytest.approx(
                2e-3, rel=0.005
            )
            assert live[("qk_decision_latency_p999_seconds", (proc,))] == pytest.approx(
                7.0, rel=0.005
            )

            child.stdin.write("exit\n")
            child.stdin.flush()
            child.wait(timeout=30)

            dead = scrape(exporter.url)
            assert dead[("qk_process_up", (proc,))] == 0.0
            assert dead[("qk_ticks_total", (proc, ("venue", "sim")))] == 1234.0

            assert exporter.collector.cleanup() == [segment_name(session, "strategy:momentum")]
            assert discover(session) == []
            gone = scrape(exporter.url)
            assert not any(dict(labels).get("process") for _, labels in gone)
    finally:
        child.kill()
        child.wait(timeout=30)


def test_every_process_of_the_session_gets_its_own_label(session: str) -> None:
    with (
        MetricsSegment.create(session, "feed:sim") as feed,
        MetricsSegment.create(session, "risk") as risk,
        MetricsSegment.create(f"{session}x", "other") as other_session,
        MetricsExporter(session, port=0, namespace="test") as exporter,
    ):
        feed.counter("records_total").inc(5)
        risk.counter("records_total").inc(8)
        other_session.counter("records_total").inc(99)
        samples = scrape(exporter.url)
    records = {
        dict(labels)["process"]: value
        for (name, labels), value in samples.items()
        if name == "test_records_total"
    }
    assert records == {"feed:sim": 5.0, "risk": 8.0}
    assert samples[("test_process_up", (("process", "feed:sim"),))] == 1.0


def test_a_restarted_process_is_read_from_its_new_segment(session: str) -> None:
    with MetricsExporter(session, port=0) as exporter:
        child = subprocess.run(
            [PYTHON, "-c", CHILD, session], input="\n", capture_output=True, text=True
        )
        assert child.returncode == 0, child.stderr
        before = scrape(exporter.url)
        proc = ("process", "strategy:momentum")
        assert before[("qk_process_up", (proc,))] == 0.0
        with MetricsSegment.create(session, "strategy:momentum") as restarted:
            restarted.counter("intents").inc(2)
            after = scrape(exporter.url)
        assert after[("qk_process_up", (proc,))] == 1.0
        assert after[("qk_intents_total", (proc,))] == 2.0
        assert ("qk_ticks_total", (proc, ("venue", "sim"))) not in after


def test_an_exporter_cannot_start_twice_or_report_a_port_before_starting(session: str) -> None:
    exporter = MetricsExporter(session)
    with pytest.raises(RuntimeError, match="not started"):
        _ = exporter.port
    exporter.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            exporter.start()
    finally:
        exporter.stop()


def test_a_histogram_never_read_consistently_is_served_from_the_last_snapshot(
    session: str,
) -> None:
    with (
        MetricsSegment.create(session, "feed") as segment,
        MetricsExporter(session, port=0) as exporter,
    ):
        histogram = segment.histogram("parse_latency")
        base = segment.geometry.histograms_offset // 8
        words = segment._u64
        count = ("qk_parse_latency_seconds_count", (("process", "feed"),))
        failures = (
            "qk_metrics_snapshot_failures_total",
            (("metric", "parse_latency"), ("process", "feed")),
        )
        # An odd sequence word looks like a record() that never finishes.
        histogram.record(1_000)
        words[base] += 1
        first = scrape(exporter.url)
        words[base] += 1
        histogram.record(2_000)
        second = scrape(exporter.url)
        words[base] += 1
        histogram_during_write = scrape(exporter.url)
        words[base] += 1
    assert count not in first and first[failures] == 1.0
    assert second[count] == 2.0 and second[failures] == 1.0
    assert histogram_during_write[count] == 2.0 and histogram_during_write[failures] == 2.0
