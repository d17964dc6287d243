"""Restart decisions as a state machine: policy, sliding-window budget and back-off."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from qk.supervisor import (
    Backoff,
    ProcessSpec,
    RestartAction,
    RestartBudget,
    RestartPolicy,
)

S = 1_000_000_000


def spec(policy: RestartPolicy, max_restarts: int = 2, window: float = 10.0) -> ProcessSpec:
    return ProcessSpec(
        name="p",
        entry="m:f",
        restart=policy,
        max_restarts=max_restarts,
        restart_window=window,
        backoff=Backoff(initial=1.0, factor=2.0, maximum=8.0, jitter=0.5),
    )


def test_never_and_on_failure_leave_a_process_without_counting_anything() -> None:
    never = RestartBudget(spec(RestartPolicy.NEVER))
    assert never.decide(failed=True, now_ns=0).action is RestartAction.FAIL
    assert never.decide(failed=False, now_ns=0).action is RestartAction.STOP
    on_failure = RestartBudget(spec(RestartPolicy.ON_FAILURE))
    assert on_failure.decide(failed=False, now_ns=0).action is RestartAction.STOP
    assert on_failure.decide(failed=True, now_ns=0).action is RestartAction.RESTART
    assert on_failure.restarts_in_window(0) == 0


def test_budget_of_two_gives_up_on_the_third_failure_in_the_window() -> None:
    budget = RestartBudget(spec(RestartPolicy.ALWAYS, max_restarts=2, window=10.0))
    first = budget.decide(failed=True, now_ns=0, draw=0.0)
    assert (first.action, first.delay_s) == (RestartAction.RESTART, 1.0)
    budget.record_restart(1 * S)
    second = budget.decide(failed=True, now_ns=2 * S, draw=0.0)
    assert (second.action, second.delay_s) == (RestartAction.RESTART, 2.0)
    budget.record_restart(4 * S)
    assert budget.decide(failed=True, now_ns=5 * S).action is RestartAction.GIVE_UP
    # Once the first restart (at 1 s) has left the 10 s window, there is room again.
    assert budget.decide(failed=True, now_ns=11 * S + 1).action is RestartAction.RESTART


class RestartMachine(RuleBasedStateMachine):
    """Drive one budget through exits and restarts at random times; compare with a plain model."""

    @initialize(
        policy=st.sampled_from(list(RestartPolicy)),
        max_restarts=st.integers(0, 4),
        window=st.sampled_from([0.5, 1.0, 5.0, 30.0]),
    )
    def setup(self, policy: RestartPolicy, max_restarts: int, window: float) -> None:
        self.spec = spec(policy, max_restarts, window)
        self.budget = RestartBudget(self.spec)
        self.now = 0
        self.restart_times: list[int] = []
        self.ended = False

    def in_window(self) -> int:
        return sum(
            1 for t in self.restart_times if t > self.now - int(self.spec.restart_window * S)
        )

    @precondition(lambda self: not self.ended)
    @rule(
        run_for=st.integers(0, 3 * S),
        failed=st.booleans(),
        draw=st.floats(0.0, 1.0),
    )
    def process_exits(self, run_for: int, failed: bool, draw: float) -> None:
        self.now += run_for
        expected_in_window = self.in_window()
        decision = self.budget.decide(failed, self.now, draw)
        policy = self.spec.restart
        restarts = policy is RestartPolicy.ALWAYS or (policy is RestartPolicy.ON_FAILURE and failed)
        if not restarts:
            assert decision.action in (RestartAction.STOP, RestartAction.FAIL)
            assert (decision.action is RestartAction.FAIL) == failed
            self.ended = True
        elif expected_in_window >= self.spec.max_restarts:
            assert decision.action is RestartAction.GIVE_UP
            self.ended = True
        else:
            assert decision.action is RestartAction.RESTART
            assert decision.restarts_in_window == expected_in_window
            assert decision.delay_s == pytest.approx(
                self.spec.backoff.delay(expected_in_window, draw)
            )
            # The supervisor restarts once the back-off has elapsed.
            self.now += int(decision.delay_s * S)
            self.budget.record_restart(self.now)
            self.restart_times.append(self.now)

    @precondition(lambda self: self.ended)
    @rule()
    def operator_starts_it_again(self) -> None:
        # A new supervisor run: a fresh budget, nothing remembered.
        self.budget = RestartBudget(self.spec)
        self.restart_times.clear()
        self.ended = False

    @invariant()
    def never_more_restarts_in_a_window_than_allowed(self) -> None:
        if hasattr(self, "budget"):
            assert self.in_window() <= self.spec.max_restarts
            assert self.budget.restarts_in_window(self.now) == self.in_window()


RestartMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestRestartMachine = RestartMachine.TestCase
