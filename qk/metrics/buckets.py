"""The fixed log-linear latency buckets shared by every histogram (HDR style, 1 % precision).

Values are integer nanoseconds. Each value from 0 to 1000 ns has a bucket of its own. Above that a
bucket covers ``(m * 10**k, (m + 1) * 10**k]`` for a three-digit mantissa ``m`` in 100..999 and
``k`` in 1..8, so a bucket is never wider than 1 % of the values in it and the buckets reach
``10**11`` ns (100 s). Larger values land in one overflow bucket (their exact maximum is still
kept by the histogram). Buckets are closed on the right so that every 1-2-5 boundary exported to
Prometheus as ``le`` (100 ns, 200 ns, 500 ns, 1 µs, ... 100 s) is exactly the upper edge of a
bucket: the exported cumulative counts are exact, not interpolated.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

LINEAR_MAX_NS = 1000
"""Values up to this many ns have a bucket each."""
MAX_TRACKED_NS = 10**11
"""The upper edge of the last regular bucket (100 s); larger values go to the overflow bucket."""
_DECADES = 8
_PER_DECADE = 900
_FIRST_LOG = LINEAR_MAX_NS + 1
OVERFLOW_INDEX = _FIRST_LOG + _DECADES * _PER_DECADE
"""Index of the bucket that counts values above :data:`MAX_TRACKED_NS`."""
BUCKET_COUNT = OVERFLOW_INDEX + 1
"""Buckets per histogram, overflow included."""
RELATIVE_PRECISION = 0.01
"""Upper bound of a bucket's width relative to any value in it."""

_POW10: tuple[int, ...] = tuple(10**k for k in range(_DECADES + 4))
# For u with bit length b, the number of decimal digits is that of 2**(b-1) or one more; k is the
# digit count minus 3 (u >= 1000 always has k >= 1).
_K_FOR_BITS = tuple(max(len(str(1 << (b - 1))) - 3, 0) if b else 0 for b in range(40))
# bucket index = _BASE[k] + u // 10**k, where u // 10**k is the mantissa m in 100..999.
_BASE = tuple(_FIRST_LOG + (k - 1) * _PER_DECADE - 100 for k in range(_DECADES + 2))

EXPORT_BOUNDS_NS: tuple[int, ...] = (
    *(m * 10**e for e in range(2, 11) for m in (1, 2, 5)),
    MAX_TRACKED_NS,
)
"""The cumulative ``le`` boundaries exported to Prometheus, in ns (1-2-5 from 100 ns to 100 s)."""


def bucket_index(ns: int) -> int:
    """Index of the bucket that holds ``ns`` (an int, >= 0).

    Raises:
        ValueError: ``ns`` is negative.
    """
    if ns <= LINEAR_MAX_NS:
        if ns < 0:
            raise ValueError(f"latency must be >= 0 ns, got {ns}")
        return ns
    if ns > MAX_TRACKED_NS:
        return OVERFLOW_INDEX
    u = ns - 1
    k = _K_FOR_BITS[u.bit_length()]
    if u >= _POW10[k + 3]:
        k += 1
    return _BASE[k] + u // _POW10[k]


def bucket_bounds(index: int) -> tuple[int, float]:
    """``(low, high)`` of bucket ``index``: it holds values ``v`` with ``low < v <= high``.

    A linear bucket holds exactly ``high`` (``low = high - 1``); the overflow bucket's high is
    infinity.
    """
    if not 0 <= index < BUCKET_COUNT:
        raise ValueError(f"bucket index {index} outside 0..{BUCKET_COUNT - 1}")
    if index <= LINEAR_MAX_NS:
        return index - 1, float(index)
    if index == OVERFLOW_INDEX:
        return MAX_TRACKED_NS, math.inf
    k, offset = divmod(index - _FIRST_LOG, _PER_DECADE)
    scale = _POW10[k + 1]
    mantissa = offset + 100
    return mantissa * scale, float((mantissa + 1) * scale)


def representative_value(index: int) -> float:
    """The value reported for anything in bucket ``index``: its midpoint (exact when linear)."""
    low, high = bucket_bounds(index)
    if index <= LINEAR_MAX_NS:
        return high
    if index == OVERFLOW_INDEX:
        return float(low)
    return (low + high) / 2.0


def percentile_from_counts(
    counts: npt.NDArray[np.uint64],
    first_index: int,
    quantile: float,
    min_ns: int,
    max_ns: int,
) -> float:
    """The ``quantile`` (0..1) of a histogram by nearest rank, in ns.

    ``counts`` holds the buckets ``first_index, first_index + 1, ...``. The result is the midpoint
    of the bucket that holds the value of rank ``ceil(quantile * total)``, clamped to the recorded
    ``[min_ns, max_ns]``, so it is within half a bucket (0.5 %) of the exact order statistic
    (``numpy.percentile(..., method="inverted_cdf")``).

    Raises:
        ValueError: ``quantile`` outside 0..1, or no values.
    """
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {quantile}")
    cumulative = np.cumsum(counts, dtype=np.uint64)
    total = int(cumulative[-1]) if len(cumulative) else 0
    if total == 0:
        raise ValueError("percentile of an empty histogram")
    rank = max(1, math.ceil(quantile * total))
    position = int(np.searchsorted(cumulative, rank, side="left"))
    value = representative_value(first_index + position)
    return min(max(value, float(min_ns)), float(max_ns))
