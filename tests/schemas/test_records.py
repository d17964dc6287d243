"""Record definitions, dtypes, lookups and hashes."""

from __future__ import annotations

import numpy as np
import pytest

from qk.schemas import SCHEMA_HASH, records
from qk.schemas.definitions import HEADER, RECORDS
from qk.schemas.enums import RecordType
from qk.schemas.layout import (
    FieldDef,
    LayoutError,
    RecordDef,
    RecordLayout,
    compute_layout,
    parse_field_type,
)

# Layout lock: a layout change without a version bump fails here. When you change a record,
# bump its version in definitions.py, regenerate, and update its line below.
LOCKED_LAYOUTS = {
    "TickEvent": (1, 0x86EE1EAC942C3663),
    "TradeEvent": (1, 0x8856B1D17B4E05A2),
    "QuoteEvent": (1, 0x03656D264E82FE8A),
    "DepthEvent": (1, 0x1C8FB1D121747277),
    "BarEvent": (2, 0xC5D46548575C0DBC),
    "OrderIntent": (1, 0x4E471705DFAAB09E),
    "OrderAck": (1, 0xA359CD23BA8BB1E2),
    "OrderUpdate": (1, 0x9D5ABD7F32FD36FD),
    "FillEvent": (1, 0x9BB144A78EC7A64B),
    "PositionUpdate": (1, 0x0338209720CE8811),
    "PortfolioSnapshot": (1, 0x944A46AEA3E7F7C2),
    "RiskEvent": (1, 0x989CFFBB54734540),
    "SystemHealthEvent": (1, 0x7CB81367935F5D3A),
    "ControlCommand": (1, 0xAD5A5035AED86924),
    "TimerEvent": (1, 0xE7288552CBEB94A9),
    "Instrument": (1, 0x3EF4FB52E7F0CAF5),
}


def test_header_is_exactly_the_agreed_40_bytes() -> None:
    expected = [
        ("type", "u16", 0),
        ("version", "u8", 2),
        ("flags", "u8", 3),
        ("size", "u16", 4),
        ("source", "u16", 6),
        ("seq", "u64", 8),
        ("ts_event", "i64", 16),
        ("ts_recv", "i64", 24),
        ("corr_id", "u64", 32),
    ]
    layout = records.HEADER_LAYOUT
    assert [(f.name, f.field_type.spelling, f.offset) for f in layout.fields] == expected
    assert layout.size == records.HEADER_SIZE == records.HEADER_DTYPE.itemsize == 40


@pytest.mark.parametrize("layout", records.LAYOUTS, ids=lambda lay: lay.name)
def test_every_record_starts_with_the_header_and_is_a_multiple_of_8(
    layout: RecordLayout,
) -> None:
    head = layout.fields[: len(records.HEADER_LAYOUT.fields)]
    assert [(f.name, f.offset) for f in head] == [
        (f.name, f.offset) for f in records.HEADER_LAYOUT.fields
    ]
    assert layout.size % 8 == 0
    assert records.dtype_of(layout.name).itemsize == layout.size


@pytest.mark.parametrize("layout", records.LAYOUTS, ids=lambda lay: lay.name)
def test_every_byte_of_a_record_belongs_to_a_field(layout: RecordLayout) -> None:
    covered = np.zeros(layout.size, dtype=bool)
    for f in layout.fields:
        assert not covered[f.offset : f.offset + f.size].any(), f"{f.name} overlaps"
        covered[f.offset : f.offset + f.size] = True
        assert f.offset % f.alignment == 0, f"{f.name} misaligned"
    assert covered.all()


def test_every_record_type_id_has_exactly_one_definition() -> None:
    assert sorted(r.type_id for r in RECORDS) == sorted(int(t) for t in RecordType)
    for layout in records.LAYOUTS:
        assert records.record_type_of(layout.name) == RecordType(layout.type_id)


def test_every_field_is_documented() -> None:
    for layout in (records.HEADER_LAYOUT, *records.LAYOUTS):
        assert layout.doc.strip()
        for f in layout.fields:
            assert f.doc.strip(), f"{layout.name}.{f.name}"


def test_the_mission_record_types_exist() -> None:
    required = {
        "TickEvent", "TradeEvent", "QuoteEvent", "DepthEvent", "BarEvent", "OrderIntent",
        "OrderAck", "OrderUpdate", "FillEvent", "PositionUpdate", "PortfolioSnapshot",
        "RiskEvent", "SystemHealthEvent", "ControlCommand", "TimerEvent", "Instrument",
    }  # fmt: skip
    assert required <= {lay.name for lay in records.LAYOUTS}


def test_layouts_match_the_lock_so_changes_bump_the_version() -> None:
    current = {lay.name: (lay.version, records.record_hash(lay.name)) for lay in records.LAYOUTS}
    changed = {name: current[name] for name in current if current[name] != LOCKED_LAYOUTS.get(name)}
    assert not changed, (
        "layouts changed; bump each record's version and update LOCKED_LAYOUTS: "
        + ", ".join(f"{n}: (version {v}, 0x{h:016X})" for n, (v, h) in changed.items())
    )


def test_lookup_by_name_type_id_and_enum_give_the_same_dtype() -> None:
    dtype = records.dtype_of("TradeEvent")
    assert records.dtype_of(2) is dtype
    assert records.dtype_of(RecordType.TRADE_EVENT) is dtype
    assert dtype["price"] == np.dtype("<i8")
    assert records.dtype_of("Instrument")["symbol"] == np.dtype("S32")
    assert records.dtype_of("DepthEvent")["bid_price"].shape == (10,)


def test_unknown_record_name_and_type_id_raise_a_clear_error() -> None:
    with pytest.raises(
        records.UnknownRecordTypeError, match=r"unknown record name 'Trade'.*TradeEvent"
    ):
        records.dtype_of("Trade")
    with pytest.raises(records.UnknownRecordTypeError, match="unknown record type id 999"):
        records.layout_of(999)
    with pytest.raises(LookupError):
        records.dtype_of(0)


def test_new_records_fills_the_header_and_zeroes_the_rest() -> None:
    fills = records.new_records("FillEvent", 3, source=7)
    assert fills.shape == (3,)
    assert (fills["type"] == RecordType.FILL_EVENT).all()
    assert (fills["version"] == records.layout_of("FillEvent").version).all()
    assert (fills["size"] == 160).all()
    assert (fills["source"] == 7).all()
    raw = fills.view(np.uint8).reshape(3, -1)
    assert not raw[:, 8:].any()


def test_new_records_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="source 70000"):
        records.new_records("TradeEvent", 1, source=70000)
    with pytest.raises(ValueError, match="count"):
        records.new_records("TradeEvent", -1)


def test_as_record_views_bytes_of_any_type_without_copying() -> None:
    quote = records.new_records("QuoteEvent", 1)
    quote["bid_price"] = 123_45
    quote["seq"] = 9
    buffer = bytearray(quote.tobytes() + b"trailing")
    assert records.peek_type(buffer) is RecordType.QUOTE_EVENT
    view = records.as_record(buffer)
    assert view.dtype == records.dtype_of("QuoteEvent")
    assert int(view["bid_price"][0]) == 123_45
    view["seq"] = 10
    assert records.as_record(buffer)["seq"][0] == 10


def test_as_record_rejects_wrong_version_size_type_and_short_buffers() -> None:
    trade = records.new_records("TradeEvent", 1)
    bad_version = trade.copy()
    bad_version["version"] = 9
    with pytest.raises(records.RecordVersionError, match="TradeEvent record has layout version 9"):
        records.as_record(bad_version.tobytes())
    bad_size = trade.copy()
    bad_size["size"] = 64
    with pytest.raises(records.RecordSizeError, match="header says 64 bytes"):
        records.as_record(bad_size.tobytes())
    with pytest.raises(records.RecordSizeError, match="needs 72 bytes, buffer has 50"):
        records.as_record(trade.tobytes()[:50])
    with pytest.raises(records.RecordSizeError, match="at least 40 bytes"):
        records.peek_type(b"\x02\x00")
    unknown = trade.copy()
    unknown["type"] = 4242
    with pytest.raises(records.UnknownRecordTypeError, match="4242"):
        records.as_record(unknown.tobytes())


def test_schema_hash_is_a_stable_u64_that_covers_layouts_and_enums() -> None:
    assert 0 < SCHEMA_HASH < 2**64
    description = records.schema_description()
    assert "TradeEvent|2|1|72|" in description
    assert "enum Side|BUY=1,SELL=2" in description
    assert records._hash64(description) == SCHEMA_HASH


def test_record_hash_differs_between_records_and_changes_with_an_offset() -> None:
    hashes = set(records.RECORD_HASHES.values())
    assert len(hashes) == len(records.LAYOUTS)
    trade = next(r for r in RECORDS if r.name == "TradeEvent")
    swapped = RecordDef(
        trade.name, trade.type_id, trade.version, trade.doc,
        (trade.fields[0], trade.fields[1], trade.fields[2], trade.fields[4], trade.fields[3],
         trade.fields[5]),
    )  # fmt: skip
    layout = compute_layout(swapped, HEADER.fields)
    assert records._hash64(layout.canonical()) != records.record_hash("TradeEvent")


def test_implicit_padding_is_rejected_with_the_field_named() -> None:
    bad = RecordDef("Bad", 999, 1, "doc", (FieldDef("a", "u8", "a"), FieldDef("b", "i64", "b")))
    with pytest.raises(LayoutError, match=r"7 byte\(s\) of implicit padding before field 'b'"):
        compute_layout(bad, HEADER.fields)
    tail = RecordDef("Tail", 999, 1, "doc", (FieldDef("a", "u32", "a"),))
    with pytest.raises(LayoutError, match=r"not a multiple of 8.*4 byte"):
        compute_layout(tail, HEADER.fields)


def test_bad_definitions_are_rejected() -> None:
    with pytest.raises(LayoutError, match="unknown field type 'u128'"):
        parse_field_type("u128")
    with pytest.raises(LayoutError, match="char needs a length"):
        parse_field_type("char")
    with pytest.raises(LayoutError, match="at least 1"):
        parse_field_type("i64[0]")
    dup = RecordDef("Dup", 999, 1, "doc", (FieldDef("seq", "u64", "again"),))
    with pytest.raises(LayoutError, match="'seq' is declared twice"):
        compute_layout(dup, HEADER.fields)
    camel = RecordDef("Camel", 999, 1, "doc", (FieldDef("BadName", "u64", "x"),))
    with pytest.raises(LayoutError, match="lower_snake_case"):
        compute_layout(camel, HEADER.fields)
    version = RecordDef("V", 999, 0, "doc", ())
    with pytest.raises(LayoutError, match="version 0"):
        compute_layout(version, HEADER.fields)
