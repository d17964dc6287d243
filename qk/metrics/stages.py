"""Tick-to-order latency broken down by pipeline stage.

Every record carries the correlation id of the tick that caused it (``corr_id`` in the record
header). A stage marks the moment it has handled a record of a correlation id with a
``CLOCK_MONOTONIC`` timestamp (``time.monotonic_ns()``; the same clock in every process on a host),
and :class:`StageClock` records the time since the nearest earlier stage marked for that id into
the ``stage_<name>_latency`` histogram. When the gateway stage is marked and the feed stage is
known, the whole path also goes into ``tick_to_order_latency``.

In one process (a backtest, a benchmark) the clock remembers earlier stages itself. Across
processes a stage passes the upstream stage's timestamp, carried with the record, as ``since_ns``.
"""

from __future__ import annotations

from enum import IntEnum

from qk.metrics.segment import Histogram, MetricsSegment


class Stage(IntEnum):
    """The pipeline stages, in the order a tick flows through them (DESIGN.md §2)."""

    FEED = 0
    """A venue message normalised into a record and published."""
    AGGREGATOR = 1
    """Ticks folded into bars and published."""
    STRATEGY = 2
    """The strategy decided and wrote an order intent."""
    RISK = 3
    """Pre-trade checks approved (or denied) the intent."""
    OMS = 4
    """The order manager created the order."""
    GATEWAY = 5
    """The order left for the venue."""


STAGE_NAMES: tuple[str, ...] = tuple(stage.name.lower() for stage in Stage)
"""``feed``, ``aggregator``, ``strategy``, ``risk``, ``oms``, ``gateway``."""


def stage_metric(stage: Stage) -> str:
    """The histogram name of ``stage``: ``stage_<name>_latency``."""
    return f"stage_{stage.name.lower()}_latency"


TICK_TO_ORDER = "tick_to_order_latency"
"""The histogram of feed mark to gateway mark of the same correlation id."""

_UNSET = -1


class StageClock:
    """Records per-stage latency of correlation ids into a process's metrics segment.

    It keeps the stage timestamps of the ``capacity`` most recently seen correlation ids; an id
    pushed out before its later stages are marked simply records nothing for them.
    """

    def __init__(self, segment: MetricsSegment, capacity: int = 65536) -> None:
        if capacity < 1:
            raise ValueError(f"StageClock capacity must be >= 1, got {capacity}")
        self._histograms: tuple[Histogram, ...] = tuple(
            segment.histogram(
                stage_metric(stage),
                f"time from the previous pipeline stage to the end of {stage.name.lower()}",
            )
            for stage in Stage
        )
        self._total = segment.histogram(TICK_TO_ORDER, "time from feed to gateway of one tick")
        self._capacity = capacity
        self._marks: dict[int, list[int]] = {}

    def mark(
        self, correlation_id: int, stage: Stage, t_ns: int, since_ns: int | None = None
    ) -> int:
        """Note that ``stage`` finished with ``correlation_id`` at monotonic time ``t_ns``.

        Args:
            correlation_id: the record header's ``corr_id``.
            stage: the stage that finished.
            t_ns: ``time.monotonic_ns()`` when it finished.
            since_ns: the previous stage's monotonic timestamp, when it comes with the record
                (across processes); otherwise the nearest earlier stage this clock saw is used.

        Returns:
            The latency recorded for ``stage`` in ns, or -1 if there was nothing to measure from.

        Raises:
            ValueError: the timestamp is before the one it is measured from.
        """
        marks = self._marks.get(correlation_id)
        if marks is None:
            if len(self._marks) >= self._capacity:
                # Dicts keep insertion order: the first key is the oldest correlation id.
                del self._marks[next(iter(self._marks))]
            marks = self._marks[correlation_id] = [_UNSET] * len(Stage)
        start = since_ns
        if start is None:
            for earlier in range(stage - 1, -1, -1):
                if marks[earlier] != _UNSET:
                    start = marks[earlier]
                    break
        marks[stage] = t_ns
        latency = _UNSET
        if start is not None:
            latency = t_ns - start
            if latency < 0:
                raise ValueError(
                    f"stage {stage.name.lower()} of correlation id {correlation_id} marked at "
                    f"{t_ns} ns, before the {start} ns it is measured from"
                )
            self._histograms[stage].record(latency)
        if stage is Stage.GATEWAY and marks[Stage.FEED] != _UNSET:
            self._total.record(t_ns - marks[Stage.FEED])
        return latency

    def forget(self, correlation_id: int) -> None:
        """Drop what is remembered of ``correlation_id`` (it will see no more stages)."""
        self._marks.pop(correlation_id, None)

    def __len__(self) -> int:
        return len(self._marks)
