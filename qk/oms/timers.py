"""Strategy timers in event-time order: a heap with lazy removal.

Ties at the same time fire in scheduling order (a sequence number breaks them), so two runs
over the same records fire the same timers in the same order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

__all__ = ["DueTimer", "TimerQueue"]


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A timer that is due.

    Attributes:
        strategy_id: Owner.
        name: The name it was scheduled under.
        at_ns: The market time it fires at.
    """

    strategy_id: int
    name: str
    at_ns: int


class TimerQueue:
    """Named one-shot and periodic timers of every strategy of one engine."""

    __slots__ = ("_heap", "_live", "_sequence")

    def __init__(self) -> None:
        # (at_ns, sequence, strategy_id, name); an entry is live only while _live maps its key
        # to its sequence: replacing or cancelling a timer just forgets the old sequence.
        self._heap: list[tuple[int, int, int, str]] = []
        self._live: dict[tuple[int, str], tuple[int, int | None]] = {}
        self._sequence = 0

    def schedule(
        self, strategy_id: int, name: str, now_ns: int, at_ns: int | None, every_ns: int | None
    ) -> None:
        """Schedule (or replace) a timer; semantics of ``StrategyContext.schedule_timer``.

        Raises:
            ValueError: Neither time given, a non-positive interval, or ``at_ns`` before now.
        """
        if at_ns is None and every_ns is None:
            raise ValueError(f"timer {name!r}: give at_ns, every_ns or both")
        if every_ns is not None and every_ns <= 0:
            raise ValueError(f"timer {name!r}: every_ns must be > 0, got {every_ns}")
        if at_ns is not None and at_ns < now_ns:
            raise ValueError(f"timer {name!r}: at_ns {at_ns} is before now {now_ns}")
        first = at_ns if at_ns is not None else now_ns + (every_ns or 0)
        self._push(strategy_id, name, first, every_ns)

    def cancel(self, strategy_id: int, name: str) -> None:
        """Forget a timer; unknown names are ignored."""
        self._live.pop((strategy_id, name), None)

    def next_at(self) -> int | None:
        """Time of the earliest live timer, None when none is scheduled (drops dead entries)."""
        heap = self._heap
        while heap:
            at_ns, sequence, strategy_id, name = heap[0]
            live = self._live.get((strategy_id, name))
            if live is not None and live[0] == sequence:
                return at_ns
            heapq.heappop(heap)
        return None

    def next_due(self, until_ns: int) -> DueTimer | None:
        """Pop the earliest live timer at or before ``until_ns``, re-arming a periodic one."""
        heap = self._heap
        while heap and heap[0][0] <= until_ns:
            at_ns, sequence, strategy_id, name = heapq.heappop(heap)
            key = (strategy_id, name)
            live = self._live.get(key)
            if live is None or live[0] != sequence:
                continue  # replaced or cancelled since it was pushed
            every_ns = live[1]
            if every_ns is None:
                del self._live[key]
            else:
                self._push(strategy_id, name, at_ns + every_ns, every_ns)
            return DueTimer(strategy_id, name, at_ns)
        return None

    def _push(self, strategy_id: int, name: str, at_ns: int, every_ns: int | None) -> None:
        self._sequence += 1
        self._live[(strategy_id, name)] = (self._sequence, every_ns)
        heapq.heappush(self._heap, (at_ns, self._sequence, strategy_id, name))
