"""The fixed 1 % buckets: edges, export boundaries, the inlined index in Histogram.record, and
percentiles against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.metrics import MetricsSegment, SegmentReader
from qk.metrics.buckets import (
    BUCKET_COUNT,
    EXPORT_BOUNDS_NS,
    LINEAR_MAX_NS,
    MAX_TRACKED_NS,
    OVERFLOW_INDEX,
    RELATIVE_PRECISION,
    bucket_bounds,
    bucket_index,
    percentile_from_counts,
)

values = st.integers(min_value=0, max_value=2 * MAX_TRACKED_NS)


@given(values)
def test_every_value_lies_inside_its_bucket(ns: int) -> None:
    index = bucket_index(ns)
    low, high = bucket_bounds(index)
    assert 0 <= index < BUCKET_COUNT
    assert low < ns <= high


@given(values, values)
def test_bucket_index_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert bucket_index(low) <= bucket_index(high)


@pytest.mark.parametrize("index", [*range(0, BUCKET_COUNT - 1, 97), OVERFLOW_INDEX - 1])
def test_regular_buckets_are_at_most_one_percent_wide(index: int) -> None:
    low, high = bucket_bounds(index)
    if index > LINEAR_MAX_NS:
        assert (high - low) / (low + 1) <= RELATIVE_PRECISION
    assert bucket_index(int(high)) == index
    assert bucket_index(low + 1) == index


def test_adjacent_buckets_tile_the_range_without_gaps() -> None:
    for index in range(1, OVERFLOW_INDEX):
        assert bucket_bounds(index)[0] == bucket_bounds(index - 1)[1]
    assert bucket_bounds(OVERFLOW_INDEX) == (MAX_TRACKED_NS, math.inf)
    assert bucket_index(MAX_TRACKED_NS) == OVERFLOW_INDEX - 1
    assert bucket_index(MAX_TRACKED_NS + 1) == OVERFLOW_INDEX


def test_export_bounds_are_exact_bucket_upper_edges() -> None:
    assert EXPORT_BOUNDS_NS[0] == 100
    assert EXPORT_BOUNDS_NS[-1] == MAX_TRACKED_NS
    for bound in EXPORT_BOUNDS_NS:
        assert bucket_bounds(bucket_index(bound))[1] == bound
        assert bucket_index(bound + 1) == bucket_index(bound) + 1


def test_negative_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="-5"):
        bucket_index(-5)
    with pytest.raises(ValueError, match="bucket index"):
        bucket_bounds(BUCKET_COUNT)


# Each example creates and unlinks its own segment, so sharing the session name is safe.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(values, min_size=1, max_size=40))
def test_record_uses_the_same_buckets_as_bucket_index(session: str, samples: list[int]) -> None:
    with MetricsSegment.create(session, "recorder") as segment:
        histogram = segment.histogram("latency")
        for ns in samples:
            histogram.record(ns)
        with SegmentReader.attach(segment.shm_name) as reader:
            snapshot = reader.histogram(reader.metrics()[0])
    assert snapshot is not None
    expected = np.zeros(BUCKET_COUNT, dtype=np.uint64)
    for ns in samples:
        expected[bucket_index(ns)] += 1
    dense = np.zeros(BUCKET_COUNT, dtype=np.uint64)
    dense[snapshot.first_index : snapshot.first_index + len(snapshot.counts)] = snapshot.counts
    assert np.array_equal(dense, expected)
    assert snapshot.count == len(samples)
    assert snapshot.sum_ns == sum(samples)
    assert (snapshot.min_ns, snapshot.max_ns) == (min(samples), max(samples))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=MAX_TRACKED_NS), min_size=1, max_size=300),
    st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0]),
)
def test_percentile_is_within_half_a_bucket_of_numpy(samples: list[int], quantile: float) -> None:
    counts = np.zeros(BUCKET_COUNT, dtype=np.uint64)
    for ns in samples:
        counts[bucket_index(ns)] += 1
    estimate = percentile_from_counts(counts, 0, quantile, min(samples), max(samples))
    exact = float(np.percentile(np.array(samples), quantile * 100, method="inverted_cdf"))
    assert abs(estimate - exact) <= RELATIVE_PRECISION / 2 * exact + 0.5


def test_percentile_rejects_a_bad_quantile_and_an_empty_histogram() -> None:
    counts = np.zeros(4, dtype=np.uint64)
    with pytest.raises(ValueError, match="empty"):
        percentile_from_counts(counts, 0, 0.5, 0, 0)
    counts[1] = 1
    with pytest.raises(ValueError, match="quantile"):
        percentile_from_counts(counts, 0, 1.5, 1, 1)
