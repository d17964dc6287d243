"""The layout model: field types, record definitions and the computed byte layout.

Layout rule (the same as a C compiler's on every platform we target): fields in the order given,
each at the next offset that is a multiple of its natural alignment, the record padded to a
multiple of 8. On top of that we forbid *implicit* padding: every byte of a record must belong to a
named field (use an explicit ``reserved`` field). Padding bytes are whatever the writer left in
memory, and a record whose bytes are not fully determined by its fields would break byte-for-byte
replay and WAL checksums.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag

__all__ = [
    "RECORD_ALIGNMENT",
    "SCALAR_TYPES",
    "FieldDef",
    "FieldLayout",
    "FieldType",
    "LayoutError",
    "RecordDef",
    "RecordLayout",
    "ScalarType",
    "compute_layout",
    "parse_field_type",
]

RECORD_ALIGNMENT = 8
"""Every record's size is a multiple of this."""


class LayoutError(ValueError):
    """A record definition cannot be laid out (bad type, hidden padding, duplicate name...)."""


@dataclass(frozen=True)
class ScalarType:
    """One of the fixed set of element types.

    Attributes:
        name: Schema spelling (``u8`` ... ``f64``, ``char``).
        c_type: C spelling in ``records.h``.
        numpy_format: Little-endian numpy format string of one element.
        size: Size in bytes (equal to the natural alignment for all of them).
    """

    name: str
    c_type: str
    numpy_format: str
    size: int


SCALAR_TYPES: dict[str, ScalarType] = {
    t.name: t
    for t in (
        ScalarType("u8", "uint8_t", "<u1", 1),
        ScalarType("u16", "uint16_t", "<u2", 2),
        ScalarType("u32", "uint32_t", "<u4", 4),
        ScalarType("u64", "uint64_t", "<u8", 8),
        ScalarType("i8", "int8_t", "<i1", 1),
        ScalarType("i16", "int16_t", "<i2", 2),
        ScalarType("i32", "int32_t", "<i4", 4),
        ScalarType("i64", "int64_t", "<i8", 8),
        ScalarType("f64", "double", "<f8", 8),
        ScalarType("char", "char", "S1", 1),
    )
}

_TYPE_RE = re.compile(r"^(?P<base>[a-z0-9]+)(?:\[(?P<count>[0-9]+)\])?$")


@dataclass(frozen=True)
class FieldType:
    """A parsed field type: a scalar, a fixed array of a scalar, or ``char[N]``.

    Attributes:
        spelling: The type as written in the definition (``i64``, ``i64[10]``, ``char[32]``).
        scalar: The element type.
        count: Number of elements, or ``None`` for a plain scalar.
    """

    spelling: str
    scalar: ScalarType
    count: int | None

    @property
    def size(self) -> int:
        """Size of the whole field in bytes."""
        return self.scalar.size * (self.count or 1)

    @property
    def alignment(self) -> int:
        """Natural alignment in bytes (that of one element)."""
        return self.scalar.size

    @property
    def is_char_array(self) -> bool:
        """True for ``char[N]`` (a fixed, NUL-padded byte string)."""
        return self.scalar.name == "char"

    @property
    def c_type_name(self) -> str:
        """C type name usable in ``_Alignof``/``sizeof`` (``int64_t[10]``)."""
        return self.scalar.c_type if self.count is None else f"{self.scalar.c_type}[{self.count}]"

    def c_declaration(self, name: str) -> str:
        """C member declaration, e.g. ``int64_t bid_price[10]``."""
        suffix = "" if self.count is None else f"[{self.count}]"
        return f"{self.scalar.c_type} {name}{suffix}"

    @property
    def numpy_format(self) -> str | tuple[str, tuple[int]]:
        """numpy format: ``<i8``, ``S32`` for char arrays, ``("<i8", (10,))`` for arrays."""
        if self.is_char_array:
            return f"S{self.count}"
        if self.count is None:
            return self.scalar.numpy_format
        return (self.scalar.numpy_format, (self.count,))


def parse_field_type(spelling: str) -> FieldType:
    """Parse a schema type spelling.

    Args:
        spelling: ``u8``, ``u16``, ``u32``, ``u64``, ``i8``, ``i16``, ``i32``, ``i64``, ``f64``,
            any of those with ``[N]``, or ``char[N]``.

    Returns:
        The parsed type.

    Raises:
        LayoutError: The spelling is not one of the above.
    """
    match = _TYPE_RE.match(spelling)
    scalar = SCALAR_TYPES.get(match["base"]) if match else None
    if match is None or scalar is None:
        allowed = ", ".join(n for n in SCALAR_TYPES if n != "char")
        raise LayoutError(
            f"unknown field type {spelling!r}: expected one of {allowed}, optionally with [N], "
            "or char[N]"
        )
    count = int(match["count"]) if match["count"] is not None else None
    if count is not None and count < 1:
        raise LayoutError(f"field type {spelling!r}: array length must be at least 1")
    if scalar.name == "char" and count is None:
        raise LayoutError(f"field type {spelling!r}: char needs a length, e.g. char[16]")
    return FieldType(spelling, scalar, count)


@dataclass(frozen=True)
class FieldDef:
    """A field as declared in ``definitions.py``.

    Attributes:
        name: Field name (a C and Python identifier).
        ctype: Type spelling, see :func:`parse_field_type`.
        doc: One-line description, including the unit and fixed-point scale.
        enum: The IntEnum/IntFlag whose values the field holds, if any (documentation only).
    """

    name: str
    ctype: str
    doc: str
    enum: type[IntEnum] | type[IntFlag] | None = None


@dataclass(frozen=True)
class RecordDef:
    """A record type as declared in ``definitions.py``.

    Attributes:
        name: CamelCase record name (``TradeEvent``); the Python lookup key.
        type_id: Stable record type id written in the header.
        version: Layout version; bump it whenever the layout changes.
        doc: What the record means, who writes it and who reads it.
        fields: Fields after the common header, in layout order.
        flags: The IntFlag that defines this type's header ``flags`` bits, if any.
    """

    name: str
    type_id: int
    version: int
    doc: str
    fields: tuple[FieldDef, ...]
    flags: type[IntFlag] | None = None

    @property
    def c_name(self) -> str:
        """snake_case name used for C identifiers (``trade_event``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()


@dataclass(frozen=True)
class FieldLayout:
    """A field with its computed place in the record.

    Attributes:
        name: Field name.
        field_type: Parsed type.
        offset: Byte offset from the start of the record.
        doc: Description.
        enum: Enum of the values, if any.
        in_header: True for the common header fields.
    """

    name: str
    field_type: FieldType
    offset: int
    doc: str
    enum: type[IntEnum] | type[IntFlag] | None
    in_header: bool

    @property
    def size(self) -> int:
        """Field size in bytes."""
        return self.field_type.size

    @property
    def alignment(self) -> int:
        """Field alignment in bytes."""
        return self.field_type.alignment


@dataclass(frozen=True)
class RecordLayout:
    """A record with every field placed (header included).

    Attributes:
        name: Record name.
        type_id: Record type id (0 for the bare header).
        version: Layout version.
        doc: Description.
        fields: All fields, header first.
        size: Record size in bytes, a multiple of 8.
        flags: The IntFlag of this type's header flags, if any.
        c_name: snake_case name for C identifiers.
    """

    name: str
    type_id: int
    version: int
    doc: str
    fields: tuple[FieldLayout, ...]
    size: int
    flags: type[IntFlag] | None
    c_name: str
    _by_name: dict[str, FieldLayout] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})

    @property
    def alignment(self) -> int:
        """Alignment of the whole record (its largest field alignment)."""
        return max(f.alignment for f in self.fields)

    def field(self, name: str) -> FieldLayout:
        """Return the field called ``name``.

        Raises:
            LookupError: No such field in this record.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise LookupError(f"record {self.name} has no field {name!r}") from None

    def canonical(self) -> str:
        """A canonical text of the layout; what the schema hashes are computed over.

        Docstrings are left out on purpose: rewording a description must not change the hash.
        """
        fields = ";".join(f"{f.name}:{f.field_type.spelling}@{f.offset}" for f in self.fields)
        return f"{self.name}|{self.type_id}|{self.version}|{self.size}|{fields}"


_IDENT_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def compute_layout(
    record: RecordDef, header: tuple[FieldDef, ...], *, is_header: bool = False
) -> RecordLayout:
    """Place every field of ``record`` after ``header``.

    Args:
        record: The record definition.
        header: The common header fields (empty when laying out the header itself).
        is_header: True when ``record`` is the header itself.

    Returns:
        The layout.

    Raises:
        LayoutError: Bad field name or type, duplicate names, a version or type id out of range,
            or implicit padding anywhere in the record.
    """
    if not 0 <= record.type_id <= 0xFFFF:
        raise LayoutError(f"record {record.name}: type id {record.type_id} does not fit in u16")
    if not 1 <= record.version <= 0xFF and not is_header:
        raise LayoutError(f"record {record.name}: version {record.version} is not in 1..255")
    placed: list[FieldLayout] = []
    seen: set[str] = set()
    offset = 0
    for index, declared in enumerate((*header, *record.fields)):
        if not _IDENT_RE.match(declared.name):
            raise LayoutError(
                f"record {record.name}: field name {declared.name!r} must be lower_snake_case"
            )
        if declared.name in seen:
            raise LayoutError(f"record {record.name}: field {declared.name!r} is declared twice")
        seen.add(declared.name)
        ftype = parse_field_type(declared.ctype)
        aligned = -(-offset // ftype.alignment) * ftype.alignment
        if aligned != offset:
            raise LayoutError(
                f"record {record.name}: {aligned - offset} byte(s) of implicit padding before "
                f"field {declared.name!r} at offset {offset}; add an explicit reserved field"
            )
        placed.append(
            FieldLayout(
                declared.name,
                ftype,
                offset,
                declared.doc,
                declared.enum,
                in_header=index < len(header) or is_header,
            )
        )
        offset += ftype.size
    if offset % RECORD_ALIGNMENT:
        pad = RECORD_ALIGNMENT - offset % RECORD_ALIGNMENT
        raise LayoutError(
            f"record {record.name}: size {offset} is not a multiple of {RECORD_ALIGNMENT}; "
            f"add an explicit reserved field of {pad} byte(s) at the end"
        )
    if offset > 0xFFFF:
        raise LayoutError(f"record {record.name}: size {offset} does not fit the u16 size field")
    return RecordLayout(
        name=record.name,
        type_id=record.type_id,
        version=record.version,
        doc=record.doc,
        fields=tuple(placed),
        size=offset,
        flags=record.flags,
        c_name=record.c_name,
    )
