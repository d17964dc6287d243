"""Trading states and their transition table (ACTIVE / REDUCING / HALTED).

One table, per strategy and for everything (strategy id 0), in the style of the order table
(``qk.orders.transitions``): ``(state, event) -> state``. Every pair has a row, so no event is
ever "impossible"; a row that keeps the state says so with the reason. The table holds the
*latched* state: breaches of post-trade limits and operator commands. Two overlays make the
effective state stricter without touching the latch: the kill switch (HALTED until an operator
releases it) and the reject-burst breaker (HALTED until its cool-down ends on the clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Final, NamedTuple


class TradingState(IntEnum):
    """What a strategy (or everything) may send; larger is stricter."""

    ACTIVE = 1
    """Every order that passes the checks."""
    REDUCING = 2
    """Only orders that reduce an existing position."""
    HALTED = 3
    """No new orders."""


class TradingStateEvent(IntEnum):
    """What moves the latched state; past tense, as order events."""

    REDUCE_LIMIT_BREACHED = 1
    """A post-trade limit configured to reduce (drawdown, daily loss) was breached."""
    HALT_LIMIT_BREACHED = 2
    """A post-trade limit configured to halt was breached."""
    OPERATOR_REDUCED = 3
    """An operator asked for reducing-only."""
    OPERATOR_HALTED = 4
    """An operator halted trading."""
    OPERATOR_RESUMED = 5
    """An operator resumed trading (the only way back to ACTIVE)."""


class StateTransition(NamedTuple):
    """One row of the table."""

    state: TradingState
    event: TradingStateEvent
    target: TradingState
    why: str


_A, _R, _H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED
_E = TradingStateEvent

STATE_TRANSITION_ROWS: Final[tuple[StateTransition, ...]] = (
    StateTransition(_A, _E.REDUCE_LIMIT_BREACHED, _R, "breach: unwind only"),
    StateTransition(_A, _E.HALT_LIMIT_BREACHED, _H, "breach: stop"),
    StateTransition(_A, _E.OPERATOR_REDUCED, _R, "operator"),
    StateTransition(_A, _E.OPERATOR_HALTED, _H, "operator"),
    StateTransition(_A, _E.OPERATOR_RESUMED, _A, "already active"),
    StateTransition(_R, _E.REDUCE_LIMIT_BREACHED, _R, "already reducing"),
    StateTransition(_R, _E.HALT_LIMIT_BREACHED, _H, "a halt is stricter"),
    StateTransition(_R, _E.OPERATOR_REDUCED, _R, "already reducing"),
    StateTransition(_R, _E.OPERATOR_HALTED, _H, "operator"),
    StateTransition(_R, _E.OPERATOR_RESUMED, _A, "operator"),
    StateTransition(_H, _E.REDUCE_LIMIT_BREACHED, _H, "a breach never loosens a halt"),
    StateTransition(_H, _E.HALT_LIMIT_BREACHED, _H, "already halted"),
    StateTransition(_H, _E.OPERATOR_REDUCED, _R, "operator lets positions be unwound"),
    StateTransition(_H, _E.OPERATOR_HALTED, _H, "already halted"),
    StateTransition(_H, _E.OPERATOR_RESUMED, _A, "operator"),
)
"""Every (state, event) pair, with the reason of its target."""

STATE_TRANSITIONS: Final[Mapping[tuple[TradingState, TradingStateEvent], TradingState]] = (
    MappingProxyType({(row.state, row.event): row.target for row in STATE_TRANSITION_ROWS})
)
"""``(state, event) -> state``: the table as a read-only mapping."""


def next_state(state: TradingState, event: TradingStateEvent) -> TradingState:
    """Look the table up; every pair has a row."""
    return STATE_TRANSITIONS[(state, event)]


def render_markdown() -> str:
    """The table as Markdown (rows: state, columns: event), for ``docs/risk.md``."""
    events = list(TradingStateEvent)
    lines = [
        "| state \\ event | " + " | ".join(e.name.lower().replace("_", " ") for e in events) + " |",
        "|---|" + "---|" * len(events),
    ]
    for state in TradingState:
        cells = []
        for event in events:
            target = STATE_TRANSITIONS[(state, event)]
            cells.append("=" if target is state else target.name)
        lines.append(f"| **{state.name}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)
