"""Shared test fixtures: unique shared-memory names, and a clean /dev/shm after every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def shm_name() -> Iterator[str]:
    """A unique name for a shared-memory object; whatever the test leaves under it is removed."""
    name = f"test-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    yield name
    for entry in Path("/dev/shm").glob(f"qk.{name}*"):
        entry.unlink(missing_ok=True)
