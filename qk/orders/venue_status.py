"""Venue order statuses and execution types mapped into our lifecycle events: data, one place.

Every adapter (and its loopback mock) translates a venue's status through these tables and then
applies the event to the order through the transition table. ``event=None`` means the status
carries no lifecycle event of its own: the order stays where it is (a transient venue state), or
only fills are derived from cumulative quantities (Kite has no PARTIALLY_FILLED status).

Sources (as compiled in ``/work/shared/VENUES.md`` on 2026-11-25):

- Zerodha Kite Connect v3: VENUES.md §1.4 (kdoc orders "Order statuses", kforum 28101, 5480,
  5605, 37170; kmock order_info.json; pykiteconnect constants).
- Binance spot: VENUES.md §3.5 (binance-spot-api-docs enums.md).
- Binance USD-M futures: VENUES.md §4 (nautilus_trader messages.rs).
- CoinDCX: VENUES.md §5.4 (docs.coindcx.com "Terminology").

Fills come from execution reports or trade lists (Binance ``x=TRADE``, Kite ``/trades`` or the
change in ``filled_quantity``); the fill's quantity decides PARTIALLY_FILLED vs FILLED, so a
status that reports fills maps to the fill event it implies and ``derive_fills`` is True.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from qk.orders.enums import OrderEventKind
from qk.schemas.enums import OrderType

__all__ = [
    "BINANCE_FUTURES_EXECUTION_TYPES",
    "BINANCE_FUTURES_ORDER_STATUSES",
    "BINANCE_SPOT_EXECUTION_TYPES",
    "BINANCE_SPOT_ORDER_STATUSES",
    "COINDCX_ORDER_STATUSES",
    "KITE_ORDER_STATUSES",
    "UnknownVenueStatus",
    "VenueStatus",
    "kite_status_event",
    "lookup",
]

E = OrderEventKind


class UnknownVenueStatus(LookupError):
    """A venue status or execution type missing from the tables (a venue change to handle)."""


@dataclass(frozen=True, slots=True)
class VenueStatus:
    """One venue status and what it means for us.

    Attributes:
        venue_status: The venue's string, exactly as it appears on the wire.
        event: Our lifecycle event, or None when the status itself moves nothing.
        terminal: Whether the venue treats the order as finished.
        derive_fills: Whether fills must be derived (from cumulative quantities or trades)
            before applying ``event``.
        note: Why, where it is not obvious.
    """

    venue_status: str
    event: OrderEventKind | None
    terminal: bool = False
    derive_fills: bool = False
    note: str = ""


def _table(*rows: VenueStatus) -> Mapping[str, VenueStatus]:
    table: dict[str, VenueStatus] = {}
    for row in rows:
        if row.venue_status in table:  # pragma: no cover - guards an edit below
            raise RuntimeError(f"venue status {row.venue_status!r} listed twice")
        table[row.venue_status] = row
    return MappingProxyType(table)


# fmt: off
KITE_ORDER_STATUSES: Final = _table(
    # VENUES.md §1.4: terminal COMPLETE, CANCELLED, REJECTED.
    VenueStatus("COMPLETE", E.FILLED, True, True, "fills from /trades or filled_quantity"),
    VenueStatus("CANCELLED", E.CANCELED, True, True,
                "a partly filled IOC or cancelled order keeps filled_quantity > 0: book it first"),
    VenueStatus("REJECTED", E.REJECTED, True, False, "reason in status_message(_raw)"),
    # Live states.
    VenueStatus("OPEN", E.ACCEPTED, False, True,
                "no PARTIALLY_FILLED status: 0 < filled_quantity < quantity is a partial fill; "
                "on a stop order that was TRIGGER PENDING, OPEN means TRIGGERED "
                "(kite_status_event)"),
    VenueStatus("TRIGGER PENDING", E.ACCEPTED, False, False, "a stop order working, untriggered"),
    VenueStatus("AMO REQ RECEIVED", E.ACCEPTED, False, False,
                "after-market order held by the broker until the session opens"),
    # Transient states: the answer is still coming, nothing changes.
    VenueStatus("PUT ORDER REQ RECEIVED", None, note="submit in progress at the broker"),
    VenueStatus("VALIDATION PENDING", None, note="submit in progress at the broker"),
    VenueStatus("OPEN PENDING", None, note="submit in progress at the exchange"),
    VenueStatus("MODIFY VALIDATION PENDING", None, note="our modify in progress"),
    VenueStatus("MODIFY PENDING", None, note="our modify in progress"),
    VenueStatus("CANCEL PENDING", None, note="our cancel in progress"),
    VenueStatus("MODIFIED", E.MODIFIED, note="a modify applied (ours or from Kite web/app)"),
    VenueStatus("NOT MODIFIED", E.MODIFY_REJECTED, note="seen on the wire (kforum 5480)"),
    VenueStatus("UPDATE", None, False, True,
                "postback/WS status for a modification or partial fill: compare the fields and "
                "filled_quantity with the order to find the events"),
)
"""Zerodha Kite ``status`` (REST order book, postbacks, WS order updates)."""

BINANCE_SPOT_ORDER_STATUSES: Final = _table(
    VenueStatus("NEW", E.ACCEPTED),
    VenueStatus("PENDING_NEW", None, note="order lists: the leg is not working yet"),
    VenueStatus("PARTIALLY_FILLED", E.PARTIALLY_FILLED, False, True),
    VenueStatus("FILLED", E.FILLED, True, True),
    VenueStatus("CANCELED", E.CANCELED, True, True, "single L; may follow partial fills"),
    VenueStatus("PENDING_CANCEL", None, note="documented as unused"),
    VenueStatus("REJECTED", E.REJECTED, True),
    VenueStatus("EXPIRED", E.EXPIRED, True, True,
                "IOC/FOK/MARKET by type rules; with z > 0 it is a partial fill then expiry, "
                "not a failure"),
    VenueStatus("EXPIRED_IN_MATCH", E.EXPIRED, True, True,
                "expired by self-trade prevention; the prevented quantity is not filled"),
)
"""Binance spot order ``status`` / executionReport ``X``."""

BINANCE_SPOT_EXECUTION_TYPES: Final = _table(
    VenueStatus("NEW", E.ACCEPTED),
    VenueStatus("CANCELED", E.CANCELED, True),
    VenueStatus("REPLACED", E.MODIFIED, note="order amend (keep priority)"),
    VenueStatus("REJECTED", E.REJECTED, True,
                note="cancel-replace whose new order was rejected after the cancel succeeded"),
    VenueStatus("TRADE", None, False, True,
                "a fill (l, L, t, n, N): PARTIALLY_FILLED or FILLED by cumulative quantity; "
                "X may already say FILLED"),
    VenueStatus("EXPIRED", E.EXPIRED, True),
    VenueStatus("TRADE_PREVENTION", None,
                note="self-trade prevention: the prevented quantity is not filled; X says "
                "whether the order expired (EXPIRED_IN_MATCH)"),
)
"""Binance spot executionReport execution type ``x``."""

BINANCE_FUTURES_ORDER_STATUSES: Final = _table(
    *BINANCE_SPOT_ORDER_STATUSES.values(),
    VenueStatus("NEW_INSURANCE", E.ACCEPTED,
                note="insurance-fund liquidation order, exchange generated (not ours)"),
    VenueStatus("NEW_ADL", E.ACCEPTED,
                note="auto-deleveraging order, exchange generated (not ours)"),
)
"""Binance USD-M futures order status ``X`` (spot's plus two seen on the wire)."""

BINANCE_FUTURES_EXECUTION_TYPES: Final = _table(
    VenueStatus("NEW", E.ACCEPTED),
    VenueStatus("CANCELED", E.CANCELED, True),
    VenueStatus("CALCULATED", None, False, True,
                "liquidation execution: a fill by quantity like TRADE"),
    VenueStatus("EXPIRED", E.EXPIRED, True),
    VenueStatus("TRADE", None, False, True,
                "a fill: PARTIALLY_FILLED or FILLED by cumulative quantity"),
    VenueStatus("AMENDMENT", E.MODIFIED, note="price/quantity modified (PUT /fapi/v1/order)"),
)
"""Binance USD-M ORDER_TRADE_UPDATE execution type ``x``."""

COINDCX_ORDER_STATUSES: Final = _table(
    VenueStatus("init", E.ACCEPTED,
                note="created but not on the book, e.g. an untriggered stop-limit"),
    VenueStatus("initial", None, note="futures: newly placed, not confirmed yet"),
    VenueStatus("untriggered", E.ACCEPTED, note="futures TP/SL waiting for its trigger"),
    VenueStatus("open", E.ACCEPTED),
    VenueStatus("partially_filled", E.PARTIALLY_FILLED, False, True),
    VenueStatus("filled", E.FILLED, True, True),
    VenueStatus("partially_cancelled", E.CANCELED, True, True, "partly filled then cancelled"),
    VenueStatus("cancelled", E.CANCELED, True),
    VenueStatus("rejected", E.REJECTED, True, False, "may come after acceptance"),
)
"""CoinDCX spot/futures order ``status`` (margin orders use another set, not mapped)."""
# fmt: on

_TABLES: Final[Mapping[str, Mapping[str, VenueStatus]]] = MappingProxyType(
    {
        "kite": KITE_ORDER_STATUSES,
        "binance_spot_status": BINANCE_SPOT_ORDER_STATUSES,
        "binance_spot_execution": BINANCE_SPOT_EXECUTION_TYPES,
        "binance_futures_status": BINANCE_FUTURES_ORDER_STATUSES,
        "binance_futures_execution": BINANCE_FUTURES_EXECUTION_TYPES,
        "coindcx": COINDCX_ORDER_STATUSES,
    }
)

_STOP_TYPES: Final = frozenset(
    {
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TAKE_PROFIT_MARKET,
        OrderType.TAKE_PROFIT_LIMIT,
    }
)


def lookup(table: Mapping[str, VenueStatus], venue_status: str) -> VenueStatus:
    """Find a venue status in one of the tables.

    Args:
        table: One of the tables of this module.
        venue_status: The string from the wire.

    Raises:
        UnknownVenueStatus: Not in the table; the message names the table's statuses.
    """
    row = table.get(venue_status)
    if row is None:
        name = next((k for k, v in _TABLES.items() if v is table), "table")
        raise UnknownVenueStatus(
            f"{venue_status!r} is not a known {name} status; known: {', '.join(table)}"
        )
    return row


def kite_status_event(
    venue_status: str, order_type: OrderType, *, was_trigger_pending: bool
) -> OrderEventKind | None:
    """The event a Kite status means for one order (the only context-dependent Kite status).

    Kite moves a stop order TRIGGER PENDING -> OPEN when its trigger trades, so OPEN on a stop
    order seen TRIGGER PENDING before is our TRIGGERED; everywhere else the table decides.

    Args:
        venue_status: Kite ``status``.
        order_type: The order's type.
        was_trigger_pending: Whether the order was last seen TRIGGER PENDING.

    Raises:
        UnknownVenueStatus: Not a Kite status.
    """
    row = lookup(KITE_ORDER_STATUSES, venue_status)
    if venue_status == "OPEN" and order_type in _STOP_TYPES and was_trigger_pending:
        return OrderEventKind.TRIGGERED
    return row.event


_TITLES: Final = (
    ("Zerodha Kite `status` (VENUES.md §1.4)", KITE_ORDER_STATUSES),
    ("Binance spot order status `X` (VENUES.md §3.5)", BINANCE_SPOT_ORDER_STATUSES),
    ("Binance spot execution type `x` (VENUES.md §3.5)", BINANCE_SPOT_EXECUTION_TYPES),
    ("Binance USD-M order status `X` (VENUES.md §4)", BINANCE_FUTURES_ORDER_STATUSES),
    ("Binance USD-M execution type `x` (VENUES.md §4)", BINANCE_FUTURES_EXECUTION_TYPES),
    ("CoinDCX `status` (VENUES.md §5.4)", COINDCX_ORDER_STATUSES),
)


def render_markdown() -> str:
    """Render every venue table as Markdown (used by ``docs/orders.md``)."""
    lines: list[str] = []
    for title, table in _TITLES:
        lines += [
            f"#### {title}",
            "",
            "| venue status | our event | terminal | fills first | note |",
            "|---|---|---|---|---|",
        ]
        for row in table.values():
            event = row.event.name if row.event is not None else "—"
            terminal = "yes" if row.terminal else ""
            fills = "yes" if row.derive_fills else ""
            lines.append(f"| `{row.venue_status}` | {event} | {terminal} | {fills} | {row.note} |")
        lines.append("")
    return "\n".join(lines)
