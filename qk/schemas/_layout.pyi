"""Type stub of the compiled ``qk.schemas._layout`` (generated from ``cext/layout.pyx``)."""

SCHEMA_HASH: int
"""``QK_SCHEMA_HASH`` from ``records.h`` as compiled."""

HEADER_SIZE: int
"""``QK_HEADER_SIZE`` from ``records.h`` as compiled."""

def layout_table() -> list[tuple[str, str, int, int, int]]:
    """Return ``[(record, field, offset, size, alignment), ...]`` as compiled."""

def record_table() -> list[tuple[str, int, int, int, int]]:
    """Return ``[(record, type_id, version, sizeof, alignof), ...]`` as compiled."""

def cython_layout_table() -> tuple[list[tuple[str, str, int, int]], dict[str, int]]:
    """Return ``([(record, field, offset, size), ...], {record: sizeof})`` via ``records.pxd``."""
