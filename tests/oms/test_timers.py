"""The timer queue: event-time order, replacement, cancellation, periodic re-arming."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.oms import DueTimer, OmsError, OmsErrorReason, SimulatedClock, TimerQueue


def _drain(queue: TimerQueue, until_ns: int) -> list[DueTimer]:
    fired = []
    while (due := queue.next_due(until_ns)) is not None:
        fired.append(due)
    return fired


def test_next_due_when_timers_share_a_time_then_fire_in_scheduling_order() -> None:
    queue = TimerQueue()
    queue.schedule(2, "b", 0, 100, None)
    queue.schedule(1, "a", 0, 100, None)
    queue.schedule(1, "early", 0, 50, None)

    assert _drain(queue, 100) == [
        DueTimer(1, "early", 50),
        DueTimer(2, "b", 100),
        DueTimer(1, "a", 100),
    ]


def test_schedule_when_name_reused_then_only_the_new_time_fires() -> None:
    queue = TimerQueue()
    queue.schedule(1, "t", 0, 100, None)
    queue.schedule(1, "t", 0, 300, None)

    assert _drain(queue, 200) == []
    assert _drain(queue, 300) == [DueTimer(1, "t", 300)]


def test_cancel_when_timer_pending_then_it_never_fires_and_unknown_names_are_ignored() -> None:
    queue = TimerQueue()
    queue.schedule(1, "t", 0, 100, None)
    queue.cancel(1, "t")
    queue.cancel(1, "never-scheduled")

    assert _drain(queue, 1_000) == []


def test_periodic_when_at_and_every_given_then_first_at_then_every_interval() -> None:
    queue = TimerQueue()
    queue.schedule(1, "p", 0, 250, 100)

    assert [d.at_ns for d in _drain(queue, 600)] == [250, 350, 450, 550]


@pytest.mark.parametrize(
    ("at_ns", "every_ns", "message"),
    [(None, None, "give at_ns"), (None, 0, "must be > 0"), (5, None, "before now")],
)
def test_schedule_when_arguments_are_bad_then_value_error(
    at_ns: int | None, every_ns: int | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TimerQueue().schedule(1, "t", 10, at_ns, every_ns)


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_next_due_when_any_times_then_fires_in_non_decreasing_time_order(
    times: list[int],
) -> None:
    queue = TimerQueue()
    for i, at_ns in enumerate(times):
        queue.schedule(1, f"t{i}", 0, at_ns, None)

    fired = [d.at_ns for d in _drain(queue, 10_000)]

    assert fired == sorted(times)


def test_clock_when_set_backwards_then_oms_error() -> None:
    clock = SimulatedClock(100)
    clock.set(100)
    with pytest.raises(OmsError) as caught:
        clock.set(99)
    assert caught.value.reason is OmsErrorReason.TIME_WENT_BACKWARDS
    assert clock.now_ns() == 100
