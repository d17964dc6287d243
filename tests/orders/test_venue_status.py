"""Venue status tables: exactly the statuses VENUES.md lists, each mapped to a usable event."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from qk.orders import TRANSITIONS, OrderEventKind, OrderStatus
from qk.orders.venue_status import (
    BINANCE_FUTURES_EXECUTION_TYPES,
    BINANCE_FUTURES_ORDER_STATUSES,
    BINANCE_SPOT_EXECUTION_TYPES,
    BINANCE_SPOT_ORDER_STATUSES,
    COINDCX_ORDER_STATUSES,
    KITE_ORDER_STATUSES,
    UnknownVenueStatus,
    VenueStatus,
    kite_status_event,
    lookup,
)
from qk.schemas.enums import OrderType

E = OrderEventKind

# The lists below are copied from /work/shared/VENUES.md (§1.4, §3.5, §4, §5.4) on 2026-11-25.
EXPECTED: dict[str, tuple[Mapping[str, VenueStatus], set[str]]] = {
    "kite §1.4": (
        KITE_ORDER_STATUSES,
        {
            "COMPLETE", "CANCELLED", "REJECTED", "OPEN", "TRIGGER PENDING",
            "PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING",
            "MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED", "CANCEL PENDING",
            "AMO REQ RECEIVED", "NOT MODIFIED", "UPDATE",
        },
    ),
    "binance spot X §3.5": (
        BINANCE_SPOT_ORDER_STATUSES,
        {
            "NEW", "PENDING_NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PENDING_CANCEL",
            "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH",
        },
    ),
    "binance spot x §3.5": (
        BINANCE_SPOT_EXECUTION_TYPES,
        {"NEW", "CANCELED", "REPLACED", "REJECTED", "TRADE", "EXPIRED", "TRADE_PREVENTION"},
    ),
    "binance futures X §4": (
        BINANCE_FUTURES_ORDER_STATUSES,
        {
            "NEW", "PENDING_NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "PENDING_CANCEL",
            "REJECTED", "EXPIRED", "EXPIRED_IN_MATCH", "NEW_INSURANCE", "NEW_ADL",
        },
    ),
    "binance futures x §4": (
        BINANCE_FUTURES_EXECUTION_TYPES,
        {"NEW", "CANCELED", "CALCULATED", "EXPIRED", "TRADE", "AMENDMENT"},
    ),
    "coindcx §5.4": (
        COINDCX_ORDER_STATUSES,
        {
            "init", "initial", "untriggered", "open", "partially_filled", "filled",
            "partially_cancelled", "cancelled", "rejected",
        },
    ),
}  # fmt: skip

TERMINAL_EVENTS = {E.FILLED, E.CANCELED, E.REJECTED, E.EXPIRED}


@pytest.mark.parametrize("name", EXPECTED)
def test_table_when_compared_with_venues_md_then_same_statuses(name: str) -> None:
    table, statuses = EXPECTED[name]

    assert set(table) == statuses
    assert all(row.venue_status == key for key, row in table.items())


@pytest.mark.parametrize("name", EXPECTED)
def test_table_when_status_is_terminal_then_event_is_terminal(name: str) -> None:
    table, _ = EXPECTED[name]

    for row in table.values():
        if row.terminal and row.event is not None:
            assert row.event in TERMINAL_EVENTS, row
        if row.event in TERMINAL_EVENTS:
            assert row.terminal, row


@pytest.mark.parametrize("name", EXPECTED)
def test_table_when_event_mapped_then_an_accepted_order_can_take_it(name: str) -> None:
    table, _ = EXPECTED[name]

    for row in table.values():
        if row.event is None or row.event in (E.MODIFIED, E.MODIFY_REJECTED):
            continue
        assert (OrderStatus.ACCEPTED, row.event) in TRANSITIONS, row


@pytest.mark.parametrize(
    ("table", "status", "event"),
    [
        (KITE_ORDER_STATUSES, "COMPLETE", E.FILLED),
        (KITE_ORDER_STATUSES, "CANCELLED", E.CANCELED),
        (KITE_ORDER_STATUSES, "OPEN PENDING", None),
        (KITE_ORDER_STATUSES, "NOT MODIFIED", E.MODIFY_REJECTED),
        (BINANCE_SPOT_ORDER_STATUSES, "EXPIRED_IN_MATCH", E.EXPIRED),
        (BINANCE_SPOT_EXECUTION_TYPES, "REPLACED", E.MODIFIED),
        (BINANCE_FUTURES_EXECUTION_TYPES, "AMENDMENT", E.MODIFIED),
        (COINDCX_ORDER_STATUSES, "partially_cancelled", E.CANCELED),
    ],
)
def test_lookup_when_known_status_then_expected_event(
    table: Mapping[str, VenueStatus], status: str, event: E | None
) -> None:
    assert lookup(table, status).event is event


def test_lookup_when_fill_statuses_then_fills_are_derived_first() -> None:
    assert lookup(KITE_ORDER_STATUSES, "CANCELLED").derive_fills
    assert lookup(BINANCE_SPOT_ORDER_STATUSES, "EXPIRED").derive_fills
    assert lookup(BINANCE_SPOT_EXECUTION_TYPES, "TRADE").derive_fills
    assert lookup(BINANCE_FUTURES_EXECUTION_TYPES, "CALCULATED").derive_fills


def test_lookup_when_unknown_status_then_raises_naming_the_table() -> None:
    with pytest.raises(UnknownVenueStatus, match="'CANCELED' is not a known kite status"):
        lookup(KITE_ORDER_STATUSES, "CANCELED")  # Kite spells it CANCELLED


def test_kite_open_when_stop_was_trigger_pending_then_triggered() -> None:
    assert kite_status_event("OPEN", OrderType.STOP_LIMIT, was_trigger_pending=True) is E.TRIGGERED
    assert kite_status_event("OPEN", OrderType.STOP_LIMIT, was_trigger_pending=False) is E.ACCEPTED
    assert kite_status_event("OPEN", OrderType.LIMIT, was_trigger_pending=True) is E.ACCEPTED
    assert (
        kite_status_event("TRIGGER PENDING", OrderType.STOP_MARKET, was_trigger_pending=False)
        is E.ACCEPTED
    )
