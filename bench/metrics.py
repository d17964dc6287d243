"""``qk-bench metrics``: hot-path cost of the shared-memory metrics against prometheus-client.

Every figure is the median, over interleaved rounds, of the time per call in a plain ``for`` loop
(the loop's own cost, ``metrics_loop_overhead_ns``, is included in each and reported alongside):

* ``metrics_counter_inc_ns`` / ``prometheus_counter_inc_ns``: ``Counter.inc()``.
* ``metrics_histogram_record_ns`` / ``prometheus_histogram_observe_ns``: one latency value from the
  same random log-uniform sample (100 ns to 10 ms); prometheus-client's histogram gets the same
  28 ``le`` boundaries our exporter publishes.
* ``*_speedup``: prometheus-client's time over ours.
* ``metrics_histogram_snapshot_us``: a reader's consistent copy of a populated histogram.
* ``metrics_scrape_ms``: one exporter scrape (discover, read, render the text format) of a
  segment with 50 counters, 20 gauges and 8 histograms.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram

from qk.metrics import MetricsSegment, SegmentReader, SessionCollector
from qk.metrics.buckets import EXPORT_BOUNDS_NS


def _per_call_ns(body: Callable[[], None], calls: int) -> float:
    start = time.perf_counter_ns()
    body()
    return (time.perf_counter_ns() - start) / calls


def _median_rounds(
    bodies: dict[str, Callable[[], None]], calls: int, rounds: int
) -> dict[str, float]:
    timings: dict[str, list[float]] = {name: [] for name in bodies}
    for _ in range(rounds):
        # Interleaved so that a noisy neighbour slows every contender alike.
        for name, body in bodies.items():
            timings[name].append(_per_call_ns(body, calls))
    return {name: statistics.median(values) for name, values in timings.items()}


def run(quick: bool) -> dict[str, float]:
    """Run the metrics benchmark; ``quick`` keeps it to a few seconds."""
    calls = 100_000 if quick else 1_000_000
    rounds = 5 if quick else 9
    rng = np.random.default_rng(5)
    samples_ns = [int(v) for v in np.exp(rng.uniform(np.log(100), np.log(1e7), calls))]
    samples_s = [ns / 1e9 for ns in samples_ns]
    session = f"bench{os.getpid()}-{uuid.uuid4().hex[:8]}"
    registry = CollectorRegistry()
    prom_counter = PromCounter("bench_events", "events", registry=registry)
    prom_histogram = PromHistogram(
        "bench_latency_seconds",
        "latency",
        buckets=[bound / 1e9 for bound in EXPORT_BOUNDS_NS],
        registry=registry,
    )
    with MetricsSegment.create(session, "bench") as segment:
        counter = segment.counter("events_total", "events")
        histogram = segment.histogram("latency", "latency")
        steps = range(calls)

        def loop() -> None:
            for _ in steps:
                continue  # the loop alone: its cost is subtracted from the others

        def ours_inc() -> None:
            inc = counter.inc
            for _ in steps:
                inc()

        def prom_inc() -> None:
            inc = prom_counter.inc
            for _ in steps:
                inc()

        def ours_record() -> None:
            record = histogram.record
            for ns in samples_ns:
                record(ns)

        def prom_observe() -> None:
            observe = prom_histogram.observe
            for seconds in samples_s:
                observe(seconds)

        timed = _median_rounds(
            {
                "metrics_loop_overhead_ns": loop,
                "metrics_counter_inc_ns": ours_inc,
                "prometheus_counter_inc_ns": prom_inc,
                "metrics_histogram_record_ns": ours_record,
                "prometheus_histogram_observe_ns": prom_observe,
            },
            calls,
            rounds,
        )
        metrics = dict(timed)
        metrics["counter_inc_speedup"] = (
            timed["prometheus_counter_inc_ns"] / timed["metrics_counter_inc_ns"]
        )
        metrics["histogram_record_speedup"] = (
            timed["prometheus_histogram_observe_ns"] / timed["metrics_histogram_record_ns"]
        )

        for index in range(50):
            segment.counter(f"extra_{index}_total").inc(index)
        for index in range(20):
            segment.gauge(f"gauge_{index}").set(index)
        for index in range(7):
            extra = segment.histogram(f"stage_{index}_latency")
            for ns in samples_ns[:10_000]:
                extra.record(ns)

        with SegmentReader.attach(segment.shm_name) as reader:
            latency = next(m for m in reader.metrics() if m.name == "latency")
            snapshot_times = []
            for _ in range(200 if quick else 2000):
                start = time.perf_counter_ns()
                reader.histogram(latency)
                snapshot_times.append(time.perf_counter_ns() - start)
        metrics["metrics_histogram_snapshot_us"] = statistics.median(snapshot_times) / 1000

        collector = SessionCollector(session)
        scrape_registry = CollectorRegistry(auto_describe=False)
        scrape_registry.register(collector)
        scrape_times = []
        for _ in range(10 if quick else 50):
            start = time.perf_counter_ns()
            generate_latest(scrape_registry)
            scrape_times.append(time.perf_counter_ns() - start)
        collector.close()
        metrics["metrics_scrape_ms"] = statistics.median(scrape_times) / 1e6
    return metrics


if __name__ == "__main__":
    for key, value in sorted(run(quick=True).items()):
        print(f"{key:36s} {value:>12,.3f}")
