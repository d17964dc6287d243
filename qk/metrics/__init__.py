"""Per-process metrics in shared memory, exported by the supervisor to Prometheus.

Each process owns one segment ``/qk.<session>.metrics.<process>`` (:class:`MetricsSegment`) with
counters, gauges and 1 %-bucket latency histograms that its hot paths update with plain stores.
:class:`MetricsExporter` discovers a session's segments and serves them on a localhost ``/metrics``.
:class:`StageClock` breaks tick-to-order latency down by pipeline stage. See
``docs/observability.md``.
"""

from qk.metrics.errors import (
    MetricDefinitionError,
    MetricsError,
    MetricsLayoutError,
    MetricsTableFullError,
    SegmentBusyError,
)
from qk.metrics.exporter import MetricsExporter, SessionCollector
from qk.metrics.layout import Geometry, MetricKind, segment_name
from qk.metrics.reader import (
    HistogramSnapshot,
    MetricInfo,
    SegmentInfo,
    SegmentReader,
    cleanup_stale,
    discover,
)
from qk.metrics.segment import Counter, FloatGauge, Histogram, IntGauge, MetricsSegment
from qk.metrics.stages import STAGE_NAMES, TICK_TO_ORDER, Stage, StageClock, stage_metric

__all__ = [
    "STAGE_NAMES",
    "TICK_TO_ORDER",
    "Counter",
    "FloatGauge",
    "Geometry",
    "Histogram",
    "HistogramSnapshot",
    "IntGauge",
    "MetricDefinitionError",
    "MetricInfo",
    "MetricKind",
    "MetricsError",
    "MetricsExporter",
    "MetricsLayoutError",
    "MetricsSegment",
    "MetricsTableFullError",
    "SegmentBusyError",
    "SegmentInfo",
    "SegmentReader",
    "SessionCollector",
    "Stage",
    "StageClock",
    "cleanup_stale",
    "discover",
    "segment_name",
    "stage_metric",
]
