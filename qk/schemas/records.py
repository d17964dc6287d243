"""numpy dtypes, lookups and hashes for every record, built from ``definitions.py``.

Typical use::

    from qk.schemas import records

    trades = records.new_records("TradeEvent", 1024, source=3)
    trades["price"] = ...
    kind = records.peek_type(buffer)            # RecordType of raw bytes
    view = records.as_record(buffer)            # validated, zero-copy structured view
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import IntEnum, IntFlag
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from qk.schemas import enums, fixed
from qk.schemas.definitions import HEADER, HEADER_SIZE, RECORDS
from qk.schemas.enums import RecordType
from qk.schemas.layout import RecordLayout, compute_layout

__all__ = [
    "HEADER_DTYPE",
    "HEADER_LAYOUT",
    "HEADER_SIZE",
    "LAYOUTS",
    "MAX_RECORD_SIZE",
    "RECORD_HASHES",
    "SCHEMA_HASH",
    "RecordError",
    "RecordSizeError",
    "RecordVersionError",
    "UnknownRecordTypeError",
    "as_record",
    "dtype_of",
    "layout_of",
    "new_records",
    "peek_type",
    "record_hash",
    "record_type_of",
    "schema_description",
]

RecordKey = str | int | RecordType
"""A record is named by its name (``"TradeEvent"``), its type id or its RecordType."""


class RecordError(ValueError):
    """Bytes or a name that do not make a valid record."""


class UnknownRecordTypeError(RecordError, LookupError):
    """No record type has that name or type id."""


class RecordVersionError(RecordError):
    """The bytes carry a layout version this build does not know."""


class RecordSizeError(RecordError):
    """The header's size, or the buffer's length, does not match the record type."""


HEADER_LAYOUT: RecordLayout = compute_layout(HEADER, (), is_header=True)
"""Layout of the common 40-byte header."""

LAYOUTS: tuple[RecordLayout, ...] = tuple(compute_layout(r, HEADER.fields) for r in RECORDS)
"""Every record layout, in definition order."""

if HEADER_LAYOUT.size != HEADER_SIZE:  # pragma: no cover - guards an edit to definitions.py
    raise RuntimeError(f"header is {HEADER_LAYOUT.size} bytes, expected {HEADER_SIZE}")


def _build_dtype(layout: RecordLayout) -> np.dtype[np.void]:
    return np.dtype(
        {
            "names": [f.name for f in layout.fields],
            "formats": [f.field_type.numpy_format for f in layout.fields],
            "offsets": [f.offset for f in layout.fields],
            "itemsize": layout.size,
        },
        align=True,
    )


def _build_indexes() -> tuple[dict[str, RecordLayout], dict[int, RecordLayout]]:
    by_name: dict[str, RecordLayout] = {}
    by_id: dict[int, RecordLayout] = {}
    for layout in LAYOUTS:
        if layout.name in by_name:
            raise RuntimeError(f"record name {layout.name} is defined twice")
        if layout.type_id in by_id:
            other = by_id[layout.type_id].name
            raise RuntimeError(f"records {other} and {layout.name} share type id {layout.type_id}")
        by_name[layout.name] = layout
        by_id[layout.type_id] = layout
    return by_name, by_id


_BY_NAME, _BY_ID = _build_indexes()
_DTYPES: dict[str, np.dtype[np.void]] = {lay.name: _build_dtype(lay) for lay in LAYOUTS}

HEADER_DTYPE: np.dtype[np.void] = _build_dtype(HEADER_LAYOUT)
"""dtype of the common header; ``buffer[:40].view(HEADER_DTYPE)`` reads any record's header."""

MAX_RECORD_SIZE: int = max(lay.size for lay in LAYOUTS)
"""Size of the largest record, bytes (a ring slot that holds any record needs this much)."""


def layout_of(record: RecordKey) -> RecordLayout:
    """Return the layout of a record type.

    Args:
        record: Record name (``"TradeEvent"``), type id or RecordType.

    Raises:
        UnknownRecordTypeError: No such record type.
    """
    if isinstance(record, str):
        layout = _BY_NAME.get(record)
        if layout is None:
            raise UnknownRecordTypeError(
                f"unknown record name {record!r}; known: {', '.join(sorted(_BY_NAME))}"
            )
        return layout
    if isinstance(record, bool) or not isinstance(record, int | np.integer):
        raise TypeError(f"a record is named by str or int type id, got {type(record).__name__}")
    layout = _BY_ID.get(int(record))
    if layout is None:
        raise UnknownRecordTypeError(
            f"unknown record type id {int(record)}; known: "
            + ", ".join(f"{lay.type_id} ({lay.name})" for lay in LAYOUTS)
        )
    return layout


def dtype_of(record: RecordKey) -> np.dtype[np.void]:
    """Return the numpy structured dtype of a record type (explicit offsets and itemsize).

    Args:
        record: Record name, type id or RecordType.

    Raises:
        UnknownRecordTypeError: No such record type.
    """
    return _DTYPES[layout_of(record).name]


def record_type_of(record: RecordKey) -> RecordType:
    """Return the RecordType of a record name or type id.

    Raises:
        UnknownRecordTypeError: No such record type.
    """
    return RecordType(layout_of(record).type_id)


def new_records(record: RecordKey, count: int = 1, *, source: int = 0) -> npt.NDArray[np.void]:
    """Allocate zeroed records with the header's type, version, size and source filled in.

    Args:
        record: Record name, type id or RecordType.
        count: Number of records.
        source: Producing component / stream id for the header.

    Returns:
        A 1-D structured array of ``count`` records.

    Raises:
        UnknownRecordTypeError: No such record type.
        ValueError: Negative count or a source that does not fit u16.
    """
    layout = layout_of(record)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0 <= source <= 0xFFFF:
        raise ValueError(f"source {source} does not fit the u16 header field")
    array = np.zeros(count, dtype=_DTYPES[layout.name])
    array["type"] = layout.type_id
    array["version"] = layout.version
    array["size"] = layout.size
    array["source"] = source
    return array


def peek_type(buffer: bytes | bytearray | memoryview | npt.NDArray[np.generic]) -> RecordType:
    """Read the record type id from the first two bytes of a record.

    Raises:
        RecordSizeError: The buffer is shorter than a header.
        UnknownRecordTypeError: The type id is not a known record type.
    """
    header = _header_of(buffer)
    return record_type_of(int(header["type"]))


def as_record(
    buffer: bytes | bytearray | memoryview | npt.NDArray[np.generic],
) -> npt.NDArray[np.void]:
    """View the bytes of one record as a 1-element array of its dtype, after validating them.

    No copy is made; a read-only buffer gives a read-only view.

    Args:
        buffer: At least the record's bytes, starting at its header.

    Returns:
        A 1-element structured array of the record's dtype.

    Raises:
        UnknownRecordTypeError: Unknown type id.
        RecordVersionError: The version is not the one this build knows.
        RecordSizeError: The header's size is wrong for the type, or the buffer is too short.
    """
    header = _header_of(buffer)
    layout = layout_of(int(header["type"]))
    version, size = int(header["version"]), int(header["size"])
    if version != layout.version:
        raise RecordVersionError(
            f"{layout.name} record has layout version {version}, this build knows version "
            f"{layout.version}"
        )
    if size != layout.size:
        raise RecordSizeError(
            f"{layout.name} record header says {size} bytes, the layout is {layout.size}"
        )
    raw = _as_bytes_array(buffer)
    if raw.size < size:
        raise RecordSizeError(f"{layout.name} record needs {size} bytes, buffer has {raw.size}")
    return raw[:size].view(_DTYPES[layout.name])


def _as_bytes_array(
    buffer: bytes | bytearray | memoryview | npt.NDArray[np.generic],
) -> npt.NDArray[np.uint8]:
    if isinstance(buffer, np.ndarray):
        return buffer.reshape(-1).view(np.uint8)
    return np.frombuffer(buffer, dtype=np.uint8)


def _header_of(buffer: bytes | bytearray | memoryview | npt.NDArray[np.generic]) -> np.void:
    raw = _as_bytes_array(buffer)
    if raw.size < HEADER_SIZE:
        raise RecordSizeError(f"a record needs at least {HEADER_SIZE} bytes, got {raw.size}")
    header: np.void = raw[:HEADER_SIZE].view(HEADER_DTYPE)[0]
    return header


def schema_description() -> str:
    """The canonical text the schema hash is computed over.

    It covers every layout (names, types, offsets, sizes, versions), every enum's members and
    the fixed-point constants: a change to any of them changes :data:`SCHEMA_HASH`. Docstrings
    are left out, so rewording documentation does not.
    """
    lines = [HEADER_LAYOUT.canonical()]
    lines += [layout.canonical() for layout in sorted(LAYOUTS, key=lambda lay: lay.type_id)]
    for enum in _schema_enums():
        members = ",".join(f"{m.name}={int(m.value)}" for m in enum)
        lines.append(f"enum {enum.__name__}|{members}")
    lines.append(
        "fixed|"
        f"MONEY_PRECISION={fixed.MONEY_PRECISION},"
        f"AVERAGE_PRICE_EXTRA_PRECISION={fixed.AVERAGE_PRICE_EXTRA_PRECISION},"
        f"MULTIPLIER_PRECISION={fixed.MULTIPLIER_PRECISION}"
    )
    return "\n".join(lines) + "\n"


def _schema_enums() -> list[type[IntEnum] | type[IntFlag]]:
    found: list[type[IntEnum] | type[IntFlag]] = []
    for value in vars(enums).values():
        if (
            isinstance(value, type)
            and issubclass(value, IntEnum | IntFlag)
            and value.__module__ == enums.__name__
        ):
            found.append(value)
    return sorted(found, key=lambda e: e.__name__)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


SCHEMA_HASH: int = _hash64(schema_description())
"""u64 hash of every layout, enum and fixed-point constant; rings and the WAL store it and
refuse to attach to data written under a different schema."""

RECORD_HASHES: Mapping[str, int] = MappingProxyType(
    {layout.name: _hash64(layout.canonical()) for layout in LAYOUTS}
)
"""Per-record u64 hash of its layout alone (for stores holding one record type)."""


def record_hash(record: RecordKey) -> int:
    """u64 hash of one record type's layout (name, type id, version, fields, offsets, size).

    Raises:
        UnknownRecordTypeError: No such record type.
    """
    return RECORD_HASHES[layout_of(record).name]
