"""docs/orders.md shows the tables the code has."""

from __future__ import annotations

from pathlib import Path

from qk.orders import ClientOrderId, transitions, venue_status

DOC = Path(__file__).resolve().parents[2] / "docs" / "orders.md"


def _between(text: str, begin: str, end: str) -> str:
    start = text.index(begin)
    start = text.index("\n", start) + 1
    return text[start : text.index(end, start)]


def test_docs_when_compared_with_transition_rows_then_table_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")

    shown = _between(text, "<!-- BEGIN transition table", "<!-- END transition table")

    assert shown == transitions.render_markdown(), (
        "docs/orders.md is stale: paste qk.orders.transitions.render_markdown() between the markers"
    )


def test_docs_when_compared_with_venue_tables_then_tables_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")

    shown = _between(text, "<!-- BEGIN venue tables", "<!-- END venue tables")

    assert shown == venue_status.render_markdown(), (
        "docs/orders.md is stale: paste qk.orders.venue_status.render_markdown() between the markers"
    )


def test_docs_when_showing_a_client_order_id_example_then_it_is_right() -> None:
    assert f'"{ClientOrderId(7, 1).to_text()}"' in DOC.read_text(encoding="utf-8")
