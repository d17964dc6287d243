"""CRC32C: known vectors, the `crc32c` package, hardware vs software."""

from __future__ import annotations

import crc32c as reference
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qk.wal import _frames

VECTORS = [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]


@pytest.mark.parametrize(("data", "expected"), VECTORS)
def test_crc32c_matches_known_vectors(data: bytes, expected: int) -> None:
    assert _frames.crc32c(data) == expected
    assert _frames.crc32c_software(data) == expected


def test_crc32c_implementation_is_named() -> None:
    assert _frames.crc32c_implementation() in {"sse4.2", "armv8-crc", "slicing-by-8"}
    assert _frames.crc32c_hardware_available() == (
        _frames.crc32c_implementation() != "slicing-by-8"
    )


@given(st.binary(max_size=4096))
def test_crc32c_agrees_with_the_crc32c_package(data: bytes) -> None:
    assert _frames.crc32c(data) == reference.crc32c(data)
    assert _frames.crc32c_software(data) == reference.crc32c(data)


@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=15))
def test_crc32c_hardware_equals_software_at_every_alignment(data: bytes, skip: int) -> None:
    if not _frames.crc32c_hardware_available():
        pytest.skip("no CRC32C instruction on this CPU")
    view = memoryview(data)[min(skip, len(data)) :]
    assert _frames.crc32c_hardware(view) == _frames.crc32c_software(view)


@given(st.binary(max_size=1024), st.binary(max_size=1024))
def test_crc32c_continues_from_a_previous_value(first: bytes, second: bytes) -> None:
    whole = _frames.crc32c(first + second)
    assert _frames.crc32c(second, _frames.crc32c(first)) == whole
    assert _frames.crc32c_software(second, _frames.crc32c_software(first)) == whole


def test_crc32c_of_a_large_buffer_releases_the_gil_and_agrees() -> None:
    data = bytes(range(256)) * 4096
    assert _frames.crc32c(data) == reference.crc32c(data)
