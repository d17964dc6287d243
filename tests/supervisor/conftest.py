"""Shared helpers for the supervisor tests: a session name, supervisors that always stop, polling."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qk.supervisor import ProcessSpec, Supervisor

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = "tests.supervisor.children"


def child(name: str, function: str, **kwargs: Any) -> ProcessSpec:
    """A spec running ``tests.supervisor.children:<function>`` from the repository root."""
    return ProcessSpec(name=name, entry=f"{CHILDREN}:{function}", cwd=ROOT, **kwargs)


def drive(supervisor: Supervisor, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run supervision passes until ``done()`` holds; fail with the status after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached in {timeout}s; status: {supervisor.status()}")
        time.sleep(0.01)
        supervisor.step()


def wait_for(done: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll ``done()`` until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached in {timeout}s")
        time.sleep(0.01)


@pytest.fixture
def session(shm_name: str) -> str:
    """A unique session name; its heartbeat table is removed after the test."""
    return shm_name


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    """Supervisors appended here are stopped (children terminated) after the test."""
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        supervisor.stop()
