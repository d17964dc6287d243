"""The transition table, row by row, and every pair it leaves out."""

from __future__ import annotations

import pytest

from qk.orders import (
    TERMINAL_STATUSES,
    TRANSITION_ROWS,
    TRANSITIONS,
    WORKING,
    InvalidOrderTransition,
    OrderErrorReason,
    OrderEventKind,
    OrderStatus,
    Transition,
)
from qk.orders.transitions import render_markdown
from tests.orders.conftest import PARTIAL, apply_event, fill, order_in, snapshot

E = OrderEventKind
S = OrderStatus
EVENTS = [e for e in OrderEventKind if e is not E.INITIALIZED]
# A fill on a FILLED order cannot be built: every fill would overfill (test_order covers it).
MISSING = [
    (s, e)
    for s in OrderStatus
    for e in EVENTS
    if (s, e) not in TRANSITIONS and not (s is S.FILLED and e in (E.FILLED, E.PARTIALLY_FILLED))
]


@pytest.mark.parametrize("row", TRANSITION_ROWS, ids=lambda r: f"{r.status.name}-{r.event.name}")
def test_apply_when_row_exists_then_status_is_row_target(row: Transition) -> None:
    order = order_in(row.status)
    before = order.revision

    event = apply_event(order, row.event)

    expected = S.ACCEPTED if row.target is WORKING else row.target
    assert order.status is expected
    assert event is not None
    assert (event.kind, event.status_before, event.status_after) == (
        row.event,
        row.status,
        expected,
    )
    assert order.revision == before + 1
    assert order.events[-1] is event


@pytest.mark.parametrize("pair", MISSING, ids=lambda p: f"{p[0].name}-{p[1].name}")
def test_apply_when_no_row_then_raises_invalid_transition_and_order_unchanged(
    pair: tuple[OrderStatus, OrderEventKind],
) -> None:
    status, kind = pair
    order = order_in(status)
    before = snapshot(order)

    with pytest.raises(InvalidOrderTransition) as caught:
        apply_event(order, kind)

    assert caught.value.status is status
    assert caught.value.event is kind
    assert caught.value.reason is OrderErrorReason.INVALID_TRANSITION
    assert caught.value.client_order_id == order.client_order_id.value
    assert snapshot(order) == before


def test_table_when_status_is_denied_then_nothing_leaves_it() -> None:
    assert not [key for key in TRANSITIONS if key[0] is S.DENIED]


def test_table_when_status_is_terminal_then_only_documented_rows_leave_it() -> None:
    leaving = [
        row
        for row in TRANSITION_ROWS
        if row.status in TERMINAL_STATUSES and row.target is not row.status
    ]

    assert {(r.status, r.event, r.target) for r in leaving} == {
        (S.CANCELED, E.FILLED, S.FILLED),
        (S.EXPIRED, E.FILLED, S.FILLED),
    }
    assert all(r.note for r in leaving)


def test_table_when_row_touches_terminal_status_then_it_has_a_note() -> None:
    undocumented = [r for r in TRANSITION_ROWS if r.status in TERMINAL_STATUSES and not r.note]

    assert undocumented == []


def test_cancel_rejected_when_partially_filled_before_request_then_back_to_partially_filled() -> (
    None
):
    order = order_in(S.PARTIALLY_FILLED)
    order.apply(E.CANCEL_PENDING, ts_event=3, ts_init=3)

    order.apply(E.CANCEL_REJECTED, ts_event=4, ts_init=4)

    assert order.status is S.PARTIALLY_FILLED


def test_cancel_rejected_when_fill_crossed_the_request_then_partially_filled() -> None:
    order = order_in(S.PENDING_CANCEL)
    order.apply_fill(fill(PARTIAL))
    assert order.status is S.PENDING_CANCEL  # the request is still out

    order.apply(E.CANCEL_REJECTED, ts_event=4, ts_init=4)

    assert order.status is S.PARTIALLY_FILLED
    assert order.filled_quantity == PARTIAL


def test_modify_rejected_when_triggered_before_request_then_back_to_triggered() -> None:
    order = order_in(S.TRIGGERED)
    order.apply(E.MODIFY_PENDING, ts_event=3, ts_init=3)

    order.apply(E.MODIFY_REJECTED, ts_event=4, ts_init=4)

    assert order.status is S.TRIGGERED


def test_modified_when_trigger_crossed_the_request_then_triggered() -> None:
    order = order_in(S.PENDING_MODIFY)
    order.apply(E.TRIGGERED, ts_event=3, ts_init=3)
    assert order.status is S.PENDING_MODIFY

    order.apply_modified(ts_event=4, ts_init=4, price=250_100)

    assert order.status is S.TRIGGERED
    assert order.price == 250_100


def test_fill_when_canceled_then_booked_and_still_canceled() -> None:
    order = order_in(S.CANCELED)

    order.apply_fill(fill(PARTIAL))

    assert order.status is S.CANCELED
    assert order.filled_quantity == PARTIAL


def test_fill_when_canceled_and_it_completes_the_order_then_filled() -> None:
    order = order_in(S.CANCELED)

    order.apply_fill(fill(order.quantity))

    assert order.status is S.FILLED


def test_reconciliation_when_unknown_then_any_venue_outcome_settles_it() -> None:
    settled = {e for (s, e) in TRANSITIONS if s is S.UNKNOWN and e is not E.STATUS_UNKNOWN}

    assert settled == {
        E.ACCEPTED,
        E.REJECTED,
        E.TRIGGERED,
        E.PARTIALLY_FILLED,
        E.FILLED,
        E.CANCELED,
        E.EXPIRED,
    }
    order = order_in(S.UNKNOWN)
    event = order.apply(E.ACCEPTED, ts_event=5, ts_init=6, reconciliation=True)
    assert event.reconciliation
    assert order.status is S.ACCEPTED


def test_render_markdown_when_rendered_then_every_status_and_noted_row_appears() -> None:
    text = render_markdown()

    for status in OrderStatus:
        assert f"| **{status.name}** |" in text
    for row in TRANSITION_ROWS:
        if row.note:
            assert row.note in text
