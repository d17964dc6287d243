"""The compiled C structs (via qk.schemas._layout) agree with the numpy dtypes, field by field."""

from __future__ import annotations

import numpy as np
import pytest

from qk.schemas import _layout, records
from qk.schemas.layout import RecordLayout

ALL_LAYOUTS: list[RecordLayout] = [records.HEADER_LAYOUT, *records.LAYOUTS]


def _dtype(layout: RecordLayout) -> np.dtype[np.void]:
    return (
        records.HEADER_DTYPE if layout is records.HEADER_LAYOUT else records.dtype_of(layout.name)
    )


def test_compiled_table_lists_exactly_the_defined_fields_in_order() -> None:
    compiled = [(rec, field) for rec, field, *_ in _layout.layout_table()]
    defined = [(lay.name, f.name) for lay in ALL_LAYOUTS for f in lay.fields]
    assert compiled == defined


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda lay: lay.name)
def test_compiled_offsets_sizes_and_alignments_match_dtype_and_definition(
    layout: RecordLayout,
) -> None:
    compiled = {
        field: (offset, size, align)
        for rec, field, offset, size, align in _layout.layout_table()
        if rec == layout.name
    }
    dtype = _dtype(layout)
    assert dtype.fields is not None
    for f in layout.fields:
        field_dtype, dtype_offset = dtype.fields[f.name][:2]
        c_offset, c_size, c_align = compiled[f.name]
        assert (c_offset, c_size, c_align) == (f.offset, f.size, f.alignment), f.name
        assert (dtype_offset, field_dtype.itemsize, field_dtype.alignment) == (
            c_offset,
            c_size,
            c_align,
        ), f.name


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=lambda lay: lay.name)
def test_compiled_struct_size_and_alignment_match_dtype(layout: RecordLayout) -> None:
    table = {
        rec: (type_id, version, size, align)
        for rec, type_id, version, size, align in _layout.record_table()
    }
    type_id, version, size, align = table[layout.name]
    dtype = _dtype(layout)
    assert (type_id, version) == (layout.type_id, layout.version)
    assert size == dtype.itemsize == layout.size
    assert align == dtype.alignment == layout.alignment


def test_compiled_schema_hash_and_header_size_match_python() -> None:
    assert _layout.SCHEMA_HASH == records.SCHEMA_HASH
    assert _layout.HEADER_SIZE == records.HEADER_SIZE == records.HEADER_DTYPE.itemsize


def test_cython_struct_declarations_match_dtype_field_by_field() -> None:
    """records.pxd (what Cython code cimports) declares the same layout the dtypes describe."""
    rows, sizes = _layout.cython_layout_table()
    assert [(rec, field) for rec, field, *_ in rows] == [
        (lay.name, f.name) for lay in ALL_LAYOUTS for f in lay.fields
    ]
    for rec, field, offset, size in rows:
        dtype = _dtype(next(lay for lay in ALL_LAYOUTS if lay.name == rec))
        assert dtype.fields is not None
        field_dtype, dtype_offset = dtype.fields[field][:2]
        assert (offset, size) == (dtype_offset, field_dtype.itemsize), (rec, field)
    for layout in ALL_LAYOUTS:
        assert sizes[layout.name] == _dtype(layout).itemsize, layout.name
