"""Helpers for the runtime tests: unique session names, descriptors, shared-memory clean-up."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qk.runtime.cli import register
from qk.runtime.plan import SessionPlan, load_plan
from qk.schemas import as_record
from qk.wal import WalReader

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def _leftovers(session: str) -> list[Path]:
    shm = Path("/dev/shm")
    lock = Path(tempfile.gettempdir()) / f"qk.{session}.control.lock"
    found = [*shm.glob(f"qk.{session}.*"), *shm.glob(f"sem.qk.{session}.*")]
    return sorted([*found, lock] if lock.exists() else found)


@pytest.fixture
def session_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A session name unique to this test and process; its segments are removed afterwards."""
    name = f"t{os.getpid()}-{request.node.name[:12]}".replace("_", "-")
    yield name
    for path in _leftovers(name):
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class RecordedSession:
    """A finished records-limited momentum session run through ``qk start``."""

    root: Path
    name: str
    summary: dict[str, Any]
    stdout: str
    code: int

    @property
    def directory(self) -> Path:
        return self.root / self.name


@pytest.fixture(scope="session")
def recorded_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedSession]:
    """One paper session of 3000 trades as fast as possible, shared by the tests that read it."""
    root = tmp_path_factory.mktemp("sessions")
    name = f"t{os.getpid()}-recorded"
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["start", "--mode", "paper", "--config", str(momentum_paper()),
                              "--session", name, "--root", str(root), "--speed", "0",
                              "--records", "3000"])  # fmt: skip
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = args.func(args)
        summary = json.loads((root / name / "summary.json").read_text())
        yield RecordedSession(root, name, summary, out.getvalue(), code)
    finally:
        for path in _leftovers(name):
            path.unlink(missing_ok=True)


def leftovers(session: str) -> list[Path]:
    """Shared-memory segments of a session still in /dev/shm."""
    return _leftovers(session)


def descriptor(tmp_path: Path, text: str) -> Path:
    """Write a deployment descriptor into ``tmp_path``."""
    path = tmp_path / "deployment.toml"
    path.write_text(text)
    return path


def momentum_paper() -> Path:
    """The bundled paper descriptor."""
    return ROOT / "configs" / "momentum_paper.toml"


KEEP_SUBMITTING = f"""
mode = "paper"

[strategy]
class = "{HERE / "keep_submitting.py"}:KeepSubmitting"
id = 3

[market]
venue = "SIM"
instruments = ["BTCUSDT"]
timeframes = ["1s"]

[account]
capital = "100000"
currency = "USDT"

[models]
latency = "0"

[risk]
max_orders_per_window = 1000000
rate_window_ns = 1_000_000_000
"""


ALTERNATING = f"""
mode = "paper"

[strategy]
class = "{HERE / "alternating.py"}:Alternating"
id = 1

[market]
venue = "SIM"
instruments = ["BTCUSDT"]
timeframes = ["1s"]

[account]
capital = "100000"
currency = "USDT"

[models]
fee = "sim.spot"
slippage_bps = 1
latency = "5ms"

[risk]
max_orders_per_window = 1000000
rate_window_ns = 1_000_000_000
"""


def plan_of(summary_dir: Path) -> SessionPlan:
    """The plan a finished session wrote."""
    return load_plan(summary_dir / "plan.json")


def wal_streams(wal_dir: str | Path) -> dict[int, list[tuple[int, bytes]]]:
    """Every WAL frame as ``stream -> [(stream seq, payload)]`` in log order."""
    out: dict[int, list[tuple[int, bytes]]] = {}
    with WalReader(wal_dir) as reader:
        for record in reader:
            out.setdefault(record.stream, []).append((record.stream_seq, record.payload))
    return out


def records(payloads: list[tuple[int, bytes]]) -> list[np.void]:
    """The payloads as typed record scalars."""
    return [as_record(np.frombuffer(p, np.uint8))[0] for _, p in payloads]
