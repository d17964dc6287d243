"""Specification of the no-I/O rule: the source audit, the examples and the SDK itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from qk.strategy import SandboxViolation, audit_strategy_source

ROOT = Path(__file__).resolve().parents[2]
# What a strategy imports and runs inside; the loader and the descriptor reader (engine side)
# necessarily touch files and importlib and are not in this list.
STRATEGY_SIDE = ["__init__.py", "context.py", "errors.py", "params.py", "recording.py",
                 "strategy.py", "template.py"]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("import socket", "import socket"),
        ("import os.path", "import os.path"),
        ("from urllib.request import urlopen", "from urllib.request import"),
        ("from datetime import datetime", "from datetime import"),
        ("import time", "import time"),
        ("x = open('/etc/passwd')", "call open()"),
        ("eval('1')", "call eval()"),
    ],
)
def test_audit_when_forbidden_construct_then_reported_with_line(source: str, what: str) -> None:
    violations = audit_strategy_source("import numpy\n" + source, "s.py")
    assert violations == [SandboxViolation("s.py", 2, what)]


def test_audit_when_relative_import_then_allowed() -> None:
    assert audit_strategy_source("from . import time\nimport numpy as np\n") == []


def test_audit_when_momentum_example_then_clean() -> None:
    path = ROOT / "strategies" / "momentum.py"
    assert audit_strategy_source(path.read_text(), str(path)) == []


@pytest.mark.parametrize("module", STRATEGY_SIDE)
def test_sdk_strategy_side_when_audited_then_no_io_and_no_environment(module: str) -> None:
    source = (ROOT / "qk" / "strategy" / module).read_text()
    assert audit_strategy_source(source, module) == []
    assert "os.environ" not in source
    assert "getenv" not in source
