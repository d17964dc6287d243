"""A reader racing a writer in another process never gets a torn histogram."""

from __future__ import annotations

import subprocess
import time

import numpy as np

from qk.metrics import SegmentReader, segment_name
from qk.metrics.buckets import BUCKET_COUNT, bucket_index
from qk.metrics.layout import BUCKETS, COUNT

from .conftest import PYTHON

WRITER = r"""
import random
import sys
from qk.metrics import MetricsSegment
segment = MetricsSegment.create(sys.argv[1], "writer")
histogram = segment.histogram("latency")
rng = random.Random(7)
values = [rng.randint(0, 50_000_000) for _ in range(4096)]
print("ready", flush=True)
for _ in range(int(sys.argv[2])):
    for ns in values:
        histogram.record(ns)
print("done", flush=True)
sys.stdin.readline()
"""
ROUNDS = 60
TOTAL = ROUNDS * 4096


def test_concurrent_snapshots_are_consistent_while_naive_copies_tear(session: str) -> None:
    writer = subprocess.Popen(
        [PYTHON, "-c", WRITER, session, str(ROUNDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        with SegmentReader.attach(segment_name(session, "writer")) as reader:
            metric = reader.metrics()[0]
            geometry = reader.info.geometry
            base = geometry.histograms_offset // 8
            words = reader._array()
            snapshots = torn_naive = 0
            last_count = 0
            deadline = time.monotonic() + 60
            # Run while the writer writes, and at least until a copy without the sequence check
            # has been seen to tear: that proves the race the seqlock guards against happened.
            count = 0
            while time.monotonic() < deadline and (count < TOTAL or torn_naive == 0):
                count = int(words[base + COUNT])
                naive = words[base + BUCKETS : base + BUCKETS + BUCKET_COUNT].copy()
                if int(naive.sum()) != count:
                    torn_naive += 1
                snapshot = reader.histogram(metric)
                if snapshot is None:
                    continue
                snapshots += 1
                assert int(snapshot.counts.sum()) == snapshot.count
                assert snapshot.count >= last_count
                last_count = snapshot.count
                if snapshot.count:
                    assert snapshot.first_index == bucket_index(snapshot.min_ns)
                    assert snapshot.first_index + len(snapshot.counts) - 1 == bucket_index(
                        snapshot.max_ns
                    )
                    assert snapshot.counts[0] > 0 and snapshot.counts[-1] > 0
                    assert snapshot.min_ns * snapshot.count <= snapshot.sum_ns
                    assert snapshot.sum_ns <= snapshot.max_ns * snapshot.count
            del words
            assert writer.stdout.readline().strip() == "done"
            final = reader.histogram(metric)
        assert torn_naive > 0, "the writer never raced the reader; the test proved nothing"
        assert snapshots > 0
        assert final is not None
        assert final.count == TOTAL == int(np.sum(final.counts))
    finally:
        writer.kill()
        writer.wait(timeout=30)
