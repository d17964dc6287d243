"""Record arrays ↔ Arrow tables, and the fixed-point scale of each field.

The store keeps every field of a record exactly as it is in memory: integer fields as Arrow
integers of the same width, ``char[N]`` as ``fixed_size_binary(N)``, arrays (``i64[10]``) as
``fixed_size_list``. A record read back is byte-identical to the one written.

Exports add, for each field whose description names a fixed-point scale (``(price)``, ``(qty)``,
``(avg price)``, ``(money)``, see ``qk/schemas/definitions.py``), a ``<field>_decimal`` column of
Arrow ``decimal128(38, scale)``: the exact value as a decimal number that pandas, DuckDB and
Polars read as such. Floats are never written: they cannot hold every fixed-point value exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from qk.schemas.definitions import HEADER, RECORDS
from qk.schemas.fixed import AVERAGE_PRICE_EXTRA_PRECISION, MONEY_PRECISION
from qk.schemas.layout import FieldDef, parse_field_type
from qk.schemas.records import dtype_of, layout_of

__all__ = [
    "Scale",
    "arrow_schema",
    "field_scales",
    "records_to_table",
    "scale_precision",
    "table_to_records",
]

_SCALE_RE = re.compile(r"\((price|qty|avg price|money)[,)]")

_ARROW_SCALARS: Mapping[str, pa.DataType] = {
    "u8": pa.uint8(),
    "u16": pa.uint16(),
    "u32": pa.uint32(),
    "u64": pa.uint64(),
    "i8": pa.int8(),
    "i16": pa.int16(),
    "i32": pa.int32(),
    "i64": pa.int64(),
    "f64": pa.float64(),
}


@dataclass(frozen=True, slots=True)
class Scale:
    """A field's fixed-point scale kind: ``price``, ``qty``, ``avg price`` or ``money``."""

    field: str
    kind: str


def _fields(record: str) -> tuple[FieldDef, ...]:
    name = layout_of(record).name
    for definition in RECORDS:
        if definition.name == name:
            return HEADER.fields + definition.fields
    raise LookupError(name)  # pragma: no cover - layout_of already refused unknown names


def field_scales(record: str) -> tuple[Scale, ...]:
    """The fields of a record type that hold fixed-point values, with their scale kind.

    Durations (``*_ns``) are skipped: BarEvent ``timeframe_ns`` is a quantity only for volume bars.
    """
    scales = []
    for field in _fields(record):
        match = _SCALE_RE.search(field.doc)
        if match and not field.name.endswith("_ns"):
            scales.append(Scale(field.name, match.group(1)))
    return tuple(scales)


def scale_precision(
    kind: str, price_precision: int | None, size_precision: int | None
) -> int | None:
    """Decimals of a scale kind for an instrument (None when the instrument is unknown)."""
    if kind == "money":
        return MONEY_PRECISION
    if kind == "price":
        return price_precision
    if kind == "avg price":
        return None if price_precision is None else price_precision + AVERAGE_PRICE_EXTRA_PRECISION
    return size_precision


def _arrow_type(ctype: str) -> pa.DataType:
    field_type = parse_field_type(ctype)
    if field_type.is_char_array:
        return pa.binary(field_type.count or 1)
    scalar = _ARROW_SCALARS[field_type.scalar.name]
    return scalar if field_type.count is None else pa.list_(scalar, field_type.count)


def arrow_schema(record: str) -> pa.Schema:
    """The store's Arrow schema of a record type: one column per field, in layout order."""
    return pa.schema(
        [pa.field(f.name, _arrow_type(f.ctype), nullable=False) for f in _fields(record)]
    )


def records_to_table(records: npt.NDArray[np.void], record: str) -> pa.Table:
    """A record array → Arrow table in the store's schema (exact, no conversion of values)."""
    schema = arrow_schema(record)
    columns: list[pa.Array] = []
    for field in schema:
        values = np.ascontiguousarray(records[field.name])
        if pa.types.is_fixed_size_binary(field.type):
            buffer = pa.py_buffer(values.view(np.uint8).tobytes())
            columns.append(pa.Array.from_buffers(field.type, len(values), [None, buffer]))
        elif pa.types.is_fixed_size_list(field.type):
            flat = pa.array(values.reshape(-1), type=field.type.value_type)
            columns.append(pa.FixedSizeListArray.from_arrays(flat, field.type.list_size))
        else:
            columns.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def table_to_records(table: pa.Table, record: str) -> npt.NDArray[np.void]:
    """An Arrow table in the store's schema → a record array of the record's dtype.

    Raises:
        ValueError: a column is missing or has another type (names the column).
    """
    schema = arrow_schema(record)
    dtype = dtype_of(record)
    out = np.zeros(table.num_rows, dtype=dtype)
    for field in schema:
        if field.name not in table.column_names:
            raise ValueError(f"column {field.name!r} of {record} is missing")
        column = table.column(field.name)
        if column.type != field.type:
            raise ValueError(
                f"column {field.name!r} of {record} is {column.type}, expected {field.type}"
            )
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if array.null_count:
            raise ValueError(f"column {field.name!r} of {record} has nulls")
        if pa.types.is_fixed_size_binary(field.type):
            width = field.type.byte_width
            data = array.buffers()[1]
            raw = np.frombuffer(
                data, dtype=np.uint8, count=len(array) * width, offset=array.offset * width
            )
            out[field.name] = raw.view(f"S{width}")
        elif pa.types.is_fixed_size_list(field.type):
            flat = array.flatten().to_numpy(zero_copy_only=False)
            out[field.name] = flat.reshape(len(array), field.type.list_size)
        else:
            out[field.name] = array.to_numpy(zero_copy_only=False)
    return out
