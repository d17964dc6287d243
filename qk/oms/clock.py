"""Market time for the in-process engine: moved forward by the records, never by the wall."""

from __future__ import annotations

from qk.oms.errors import OmsError, OmsErrorReason

__all__ = ["SimulatedClock"]


class SimulatedClock:
    """A forward-only clock set from event times (implements :class:`qk.strategy.Clock`).

    Args:
        start_ns: Initial time, ns since epoch UTC.
    """

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """Current market time, ns since epoch UTC."""
        return self._now

    def set(self, ts_ns: int) -> None:
        """Move to ``ts_ns``.

        Raises:
            OmsError: TIME_WENT_BACKWARDS when ``ts_ns`` is before now (records out of order).
        """
        if ts_ns < self._now:
            raise OmsError(
                OmsErrorReason.TIME_WENT_BACKWARDS,
                f"market time went backwards: {ts_ns} < {self._now}",
            )
        self._now = ts_ns
