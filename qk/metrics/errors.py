"""Errors of the shared-memory metrics: each names the segment and the metric involved."""

from __future__ import annotations


class MetricsError(Exception):
    """Base class of every metrics error."""


class MetricsLayoutError(MetricsError, ValueError):
    """A segment is not a metrics segment of this layout version, or is damaged."""


class MetricDefinitionError(MetricsError, ValueError):
    """A metric name, label set or help text cannot be registered as given."""


class MetricsTableFullError(MetricsError, RuntimeError):
    """The name table or the slots of one metric kind are used up."""


class SegmentBusyError(MetricsError, RuntimeError):
    """A live process already owns the metrics segment of that session and process name."""
