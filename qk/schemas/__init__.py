"""Record layouts: the one definition of every record, its numpy dtype, hashes and fixed point.

The layouts are declared in :mod:`qk.schemas.definitions`; :mod:`qk.schemas.records` builds the
numpy dtypes and the schema hash from them, and ``python -m qk.schemas.generate`` writes the C
header, the Cython layout probe and ``docs/schemas.md``.
"""

from qk.schemas.enums import RecordType
from qk.schemas.records import (
    HEADER_DTYPE,
    HEADER_SIZE,
    MAX_RECORD_SIZE,
    SCHEMA_HASH,
    RecordError,
    RecordSizeError,
    RecordVersionError,
    UnknownRecordTypeError,
    as_record,
    dtype_of,
    layout_of,
    new_records,
    peek_type,
    record_hash,
    record_type_of,
)

__all__ = [
    "HEADER_DTYPE",
    "HEADER_SIZE",
    "MAX_RECORD_SIZE",
    "SCHEMA_HASH",
    "RecordError",
    "RecordSizeError",
    "RecordType",
    "RecordVersionError",
    "UnknownRecordTypeError",
    "as_record",
    "dtype_of",
    "layout_of",
    "new_records",
    "peek_type",
    "record_hash",
    "record_type_of",
]
