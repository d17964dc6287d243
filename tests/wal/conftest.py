"""Helpers shared by the WAL tests."""

from __future__ import annotations

import numpy as np


def make_records(
    count: int, record_size: int = 64, first: int = 0, ts_base: int = 1_000
) -> np.ndarray:
    """``count`` records of ``record_size`` bytes: ts_event at offset 16, the index at 24, filler."""
    out = np.zeros((count, record_size), dtype=np.uint8)
    index = np.arange(first, first + count, dtype=np.int64)
    out[:, 16:24] = (ts_base + index).view(np.uint8).reshape(count, 8)
    if record_size >= 32:
        out[:, 24:32] = index.view(np.uint8).reshape(count, 8)
    if record_size > 32:
        out[:, 32:] = ((index[:, None] * 7 + np.arange(record_size - 32)) % 251).astype(np.uint8)
    return out


def payload_for(seq: int) -> bytes:
    """A deterministic payload of varying length for frame ``seq``."""
    length = 1 + (seq * 37) % 200
    return bytes((seq + i) % 256 for i in range(length))
