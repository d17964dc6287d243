"""Fixtures of the metrics tests: a unique session name whose segments are removed afterwards."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PYTHON = sys.executable
"""The interpreter child processes run under (the venv's)."""


@pytest.fixture
def session() -> Iterator[str]:
    """A session name no other test uses; every metrics segment under it is unlinked after."""
    name = f"t{os.getpid()}-{uuid.uuid4().hex[:10]}"
    yield name
    for entry in Path("/dev/shm").glob(f"qk.{name}.metrics.*"):
        entry.unlink(missing_ok=True)
