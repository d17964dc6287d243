"""The order lifecycle: ONE transition table, ``(status, event) -> status``.

Every mode (backtest, paper, live) and every venue adapter moves orders through this table and
nowhere else (DESIGN.md §7); :class:`qk.orders.order.Order` is its only caller. A pair with no
row is an impossible transition: the order raises
:class:`~qk.orders.errors.InvalidOrderTransition` and stays unchanged, never silently overwritten.

The model is NautilusTrader's ``OrderFsm`` (``model/orders/base.pyx``), with three differences
that each have a row note below:

- a fill that arrives while a cancel or modify is pending leaves the request pending (the answer
  is still coming) instead of forgetting it;
- a late fill after CANCELED/EXPIRED is booked but only re-opens nothing: the status stays
  terminal unless the fill completes the order (then FILLED, the cancel never took effect);
- ``UNKNOWN``: a submit whose outcome is unknown; any venue outcome settles it (reconciliation).

Rows whose target is :data:`WORKING` go back to the status the order works in, derived from its
facts rather than remembered: PARTIALLY_FILLED if anything filled, else TRIGGERED if its trigger
fired, else ACCEPTED. Deriving it keeps answers correct when a fill or a trigger crossed the
pending request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from qk.orders.enums import OrderEventKind, OrderStatus

__all__ = [
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "TRANSITION_ROWS",
    "WORKING",
    "Target",
    "Transition",
    "WorkingStatus",
    "render_markdown",
    "transition_of",
]


class WorkingStatus(Enum):
    """Marker target: back to the status the order works in (see the module docstring)."""

    WORKING = "working"


WORKING: Final = WorkingStatus.WORKING
"""Target of rows that end a pending request: PARTIALLY_FILLED, TRIGGERED or ACCEPTED."""

Target = OrderStatus | WorkingStatus
"""What a row leads to: a status, or :data:`WORKING`."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table.

    Attributes:
        status: Status before the event.
        event: The event.
        target: Status after it, or :data:`WORKING`.
        note: Why the row exists, for rows a reader would not expect; empty otherwise.
    """

    status: OrderStatus
    event: OrderEventKind
    target: Target
    note: str = ""


S = OrderStatus
E = OrderEventKind

# fmt: off
TRANSITION_ROWS: Final[tuple[Transition, ...]] = (
    # INITIALIZED: created by the OMS from an approved intent.
    Transition(S.INITIALIZED, E.DENIED, S.DENIED),
    Transition(S.INITIALIZED, E.SUBMITTED, S.SUBMITTED),
    # SUBMITTED: sent, no answer yet.
    Transition(S.SUBMITTED, E.ACCEPTED, S.ACCEPTED),
    Transition(S.SUBMITTED, E.REJECTED, S.REJECTED),
    Transition(S.SUBMITTED, E.CANCELED, S.CANCELED,
               "IOC/FOK killed with no ack first (Kite reports an unfilled IOC as CANCELLED)"),
    Transition(S.SUBMITTED, E.EXPIRED, S.EXPIRED,
               "Binance answers an unfilled IOC/FOK/MARKET with EXPIRED in the place response"),
    Transition(S.SUBMITTED, E.TRIGGERED, S.TRIGGERED,
               "the trigger overtook the ack; a trigger proves the venue accepted the order"),
    Transition(S.SUBMITTED, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED,
               "a fill overtook the ack (Binance FULL responses carry fills; streams race REST)"),
    Transition(S.SUBMITTED, E.FILLED, S.FILLED,
               "a fill overtook the ack (Binance FULL responses carry fills; streams race REST)"),
    Transition(S.SUBMITTED, E.STATUS_UNKNOWN, S.UNKNOWN,
               "timeout or 5XX: the venue may have the order; reconciliation settles it"),
    # UNKNOWN: whatever the venue says the order is, it is (reconciliation by client order id).
    Transition(S.UNKNOWN, E.ACCEPTED, S.ACCEPTED, "reconciliation: the venue has it working"),
    Transition(S.UNKNOWN, E.REJECTED, S.REJECTED,
               "reconciliation: the venue refused it or does not know it (never placed)"),
    Transition(S.UNKNOWN, E.TRIGGERED, S.TRIGGERED, "reconciliation: working and triggered"),
    Transition(S.UNKNOWN, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED, "reconciliation: fills found"),
    Transition(S.UNKNOWN, E.FILLED, S.FILLED, "reconciliation: fills found"),
    Transition(S.UNKNOWN, E.CANCELED, S.CANCELED, "reconciliation: it was cancelled (IOC/FOK)"),
    Transition(S.UNKNOWN, E.EXPIRED, S.EXPIRED, "reconciliation: it expired (IOC/FOK/MARKET)"),
    Transition(S.UNKNOWN, E.STATUS_UNKNOWN, S.UNKNOWN,
               "a status query timed out too: still unknown, recorded"),
    # ACCEPTED: working at the venue.
    Transition(S.ACCEPTED, E.ACCEPTED, S.ACCEPTED,
               "the same ack twice: the REST response and the user stream both report NEW"),
    Transition(S.ACCEPTED, E.REJECTED, S.REJECTED,
               "rejected after acceptance: CoinDCX (VENUES.md §5.4), a stop-limit at trigger"),
    Transition(S.ACCEPTED, E.TRIGGERED, S.TRIGGERED),
    Transition(S.ACCEPTED, E.MODIFY_PENDING, S.PENDING_MODIFY),
    Transition(S.ACCEPTED, E.MODIFIED, S.ACCEPTED,
               "an amendment we did not ask for (Kite web/app, Binance futures AMENDMENT)"),
    Transition(S.ACCEPTED, E.CANCEL_PENDING, S.PENDING_CANCEL),
    Transition(S.ACCEPTED, E.CANCELED, S.CANCELED,
               "a cancel we did not ask for (venue, operator, kill switch of another process)"),
    Transition(S.ACCEPTED, E.EXPIRED, S.EXPIRED),
    Transition(S.ACCEPTED, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    Transition(S.ACCEPTED, E.FILLED, S.FILLED),
    # TRIGGERED: a stop whose trigger traded, now working as a market or limit order.
    Transition(S.TRIGGERED, E.ACCEPTED, S.TRIGGERED, "a late ack, overtaken by the trigger"),
    Transition(S.TRIGGERED, E.TRIGGERED, S.TRIGGERED, "the same trigger reported twice"),
    Transition(S.TRIGGERED, E.REJECTED, S.REJECTED,
               "the venue refuses the order its trigger released (NautilusTrader keeps this row)"),
    Transition(S.TRIGGERED, E.MODIFY_PENDING, S.PENDING_MODIFY),
    Transition(S.TRIGGERED, E.MODIFIED, S.TRIGGERED, "an amendment we did not ask for"),
    Transition(S.TRIGGERED, E.CANCEL_PENDING, S.PENDING_CANCEL),
    Transition(S.TRIGGERED, E.CANCELED, S.CANCELED, "a cancel we did not ask for"),
    Transition(S.TRIGGERED, E.EXPIRED, S.EXPIRED),
    Transition(S.TRIGGERED, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    Transition(S.TRIGGERED, E.FILLED, S.FILLED),
    # PARTIALLY_FILLED: some quantity filled, the rest working.
    Transition(S.PARTIALLY_FILLED, E.ACCEPTED, S.PARTIALLY_FILLED,
               "a late ack, overtaken by a fill"),
    Transition(S.PARTIALLY_FILLED, E.TRIGGERED, S.PARTIALLY_FILLED,
               "a late trigger report, overtaken by a fill"),
    Transition(S.PARTIALLY_FILLED, E.MODIFY_PENDING, S.PENDING_MODIFY),
    Transition(S.PARTIALLY_FILLED, E.MODIFIED, S.PARTIALLY_FILLED,
               "an amendment we did not ask for"),
    Transition(S.PARTIALLY_FILLED, E.CANCEL_PENDING, S.PENDING_CANCEL),
    Transition(S.PARTIALLY_FILLED, E.CANCELED, S.CANCELED, "a cancel we did not ask for"),
    Transition(S.PARTIALLY_FILLED, E.EXPIRED, S.EXPIRED,
               "Binance IOC/MARKET partly filled then EXPIRED (VENUES.md §3.5): not a failure"),
    Transition(S.PARTIALLY_FILLED, E.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    Transition(S.PARTIALLY_FILLED, E.FILLED, S.FILLED),
    # PENDING_MODIFY: a modify sent, no answer yet.
    Transition(S.PENDING_MODIFY, E.ACCEPTED, S.PENDING_MODIFY,
               "a late ack of the order itself; the modify answer is still coming"),
    Transition(S.PENDING_MODIFY, E.TRIGGERED, S.PENDING_MODIFY,
               "the trigger crossed the modify request; the modify answer is still coming"),
    Transition(S.PENDING_MODIFY, E.MODIFY_PENDING, S.PENDING_MODIFY, "another modify request"),
    Transition(S.PENDING_MODIFY, E.MODIFIED, WORKING),
    Transition(S.PENDING_MODIFY, E.MODIFY_REJECTED, WORKING),
    Transition(S.PENDING_MODIFY, E.CANCEL_PENDING, S.PENDING_CANCEL,
               "a cancel supersedes the modify; the modify answer may still come"),
    Transition(S.PENDING_MODIFY, E.CANCELED, S.CANCELED),
    Transition(S.PENDING_MODIFY, E.EXPIRED, S.EXPIRED),
    Transition(S.PENDING_MODIFY, E.REJECTED, S.REJECTED,
               "the venue dropped the order on the modify (a stop-limit re-check fails)"),
    Transition(S.PENDING_MODIFY, E.PARTIALLY_FILLED, S.PENDING_MODIFY,
               "a fill before the modify took effect; the modify answer is still coming"),
    Transition(S.PENDING_MODIFY, E.FILLED, S.FILLED,
               "the fill won the race; the modify will be rejected"),
    # PENDING_CANCEL: a cancel sent, no answer yet.
    Transition(S.PENDING_CANCEL, E.ACCEPTED, S.PENDING_CANCEL,
               "a late ack of the order itself; the cancel answer is still coming"),
    Transition(S.PENDING_CANCEL, E.TRIGGERED, S.PENDING_CANCEL,
               "the trigger crossed the cancel request; the cancel answer is still coming"),
    Transition(S.PENDING_CANCEL, E.CANCEL_PENDING, S.PENDING_CANCEL, "another cancel request"),
    Transition(S.PENDING_CANCEL, E.MODIFIED, S.PENDING_CANCEL,
               "the answer to a modify sent before the cancel"),
    Transition(S.PENDING_CANCEL, E.MODIFY_REJECTED, S.PENDING_CANCEL,
               "the answer to a modify sent before the cancel"),
    Transition(S.PENDING_CANCEL, E.CANCELED, S.CANCELED),
    Transition(S.PENDING_CANCEL, E.CANCEL_REJECTED, WORKING),
    Transition(S.PENDING_CANCEL, E.EXPIRED, S.EXPIRED),
    Transition(S.PENDING_CANCEL, E.REJECTED, S.REJECTED,
               "the venue refuses the order its trigger released while the cancel was in flight"),
    Transition(S.PENDING_CANCEL, E.PARTIALLY_FILLED, S.PENDING_CANCEL,
               "a fill after the cancel request: real; the cancel answer is still coming"),
    Transition(S.PENDING_CANCEL, E.FILLED, S.FILLED,
               "the fill won the race; the cancel will be rejected"),
    # Terminal statuses. DENIED and REJECTED absorb everything but a repeated reject.
    Transition(S.REJECTED, E.REJECTED, S.REJECTED,
               "the same reject twice (REST response and user stream)"),
    Transition(S.FILLED, E.CANCEL_REJECTED, S.FILLED,
               "the answer to a cancel that lost the race with the last fill"),
    Transition(S.FILLED, E.MODIFY_REJECTED, S.FILLED,
               "the answer to a modify that lost the race with the last fill"),
    Transition(S.CANCELED, E.CANCELED, S.CANCELED,
               "the same cancel twice (REST response and user stream)"),
    Transition(S.CANCELED, E.PARTIALLY_FILLED, S.CANCELED,
               "real world: a fill executed before the cancel took effect but reported after it "
               "(fills and cancel acks travel on different channels); booked, still cancelled"),
    Transition(S.CANCELED, E.FILLED, S.FILLED,
               "real world: a late fill that completes the order proves the cancel never took "
               "effect (NautilusTrader: CANCELED -> FILLED)"),
    Transition(S.EXPIRED, E.EXPIRED, S.EXPIRED, "the same expiry twice"),
    Transition(S.EXPIRED, E.PARTIALLY_FILLED, S.EXPIRED,
               "real world: an IOC's fill reported after its EXPIRED; booked, still expired"),
    Transition(S.EXPIRED, E.FILLED, S.FILLED,
               "real world: a late fill that completes the order; the expiry never took effect"),
)
# fmt: on


def _index(rows: tuple[Transition, ...]) -> Mapping[tuple[OrderStatus, OrderEventKind], Target]:
    table: dict[tuple[OrderStatus, OrderEventKind], Target] = {}
    for row in rows:
        key = (row.status, row.event)
        if key in table:  # pragma: no cover - guards an edit to the rows above
            raise RuntimeError(f"transition {row.status.name} x {row.event.name} defined twice")
        table[key] = row.target
    return MappingProxyType(table)


TRANSITIONS: Final[Mapping[tuple[OrderStatus, OrderEventKind], Target]] = _index(TRANSITION_ROWS)
"""``(status, event) -> target``: the table as a read-only mapping."""

TERMINAL_STATUSES: Final[frozenset[OrderStatus]] = frozenset(
    {S.DENIED, S.REJECTED, S.FILLED, S.CANCELED, S.EXPIRED}
)
"""Statuses after which nothing works at the venue (late fills may still be booked, see rows)."""

OPEN_STATUSES: Final[frozenset[OrderStatus]] = frozenset(
    {S.ACCEPTED, S.TRIGGERED, S.PARTIALLY_FILLED, S.PENDING_MODIFY, S.PENDING_CANCEL}
)
"""Statuses of an order known to be working at the venue."""


def transition_of(status: OrderStatus, event: OrderEventKind) -> Target | None:
    """Look up the table.

    Args:
        status: Current status.
        event: The event.

    Returns:
        The target status or :data:`WORKING`; None when the transition is impossible.
    """
    return TRANSITIONS.get((status, event))


def render_markdown() -> str:
    """Render the table as Markdown: a states x events grid, then every row with a note.

    Returns:
        Markdown text (used by ``docs/orders.md``; a test keeps the page in step).
    """
    events = [
        E.SUBMITTED, E.DENIED, E.ACCEPTED, E.REJECTED, E.TRIGGERED, E.PARTIALLY_FILLED,
        E.FILLED, E.CANCEL_PENDING, E.CANCEL_REJECTED, E.CANCELED, E.MODIFY_PENDING,
        E.MODIFY_REJECTED, E.MODIFIED, E.EXPIRED, E.STATUS_UNKNOWN,
    ]  # fmt: skip
    short = {e: e.name.replace("_", " ").lower() for e in events}
    lines = [
        "| status \\ event | " + " | ".join(short[e] for e in events) + " |",
        "|---|" + "---|" * len(events),
    ]
    for status in OrderStatus:
        cells = []
        for event in events:
            target = TRANSITIONS.get((status, event))
            if target is None:
                cells.append("·")
            elif isinstance(target, WorkingStatus):
                cells.append("*working*")
            else:
                cells.append("=" if target is status else target.name)
        lines.append(f"| **{status.name}** | " + " | ".join(cells) + " |")
    lines += ["", "| status | event | to | why |", "|---|---|---|---|"]
    for row in TRANSITION_ROWS:
        if row.note:
            to = "*working*" if isinstance(row.target, WorkingStatus) else row.target.name
            lines.append(f"| {row.status.name} | {row.event.name} | {to} | {row.note} |")
    return "\n".join(lines) + "\n"
