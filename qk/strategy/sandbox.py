"""A static check of strategy source: the cheap part of "a strategy has no I/O".

A strategy never reads the wall clock, opens sockets or files, spawns processes or reads the
environment (credentials live there). Issue 5's process sandbox enforces this for real; until
then :func:`audit_strategy_source` refuses the obvious ways in, so a loader can reject a file
before importing it and a test can keep the examples honest. It is a lint, not a security
boundary: ``getattr`` tricks get past it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Final

__all__ = ["FORBIDDEN_CALLS", "FORBIDDEN_MODULES", "SandboxViolation", "audit_strategy_source"]

FORBIDDEN_MODULES: Final = frozenset(
    {
        # network
        "socket", "ssl", "http", "urllib", "requests", "httpx", "aiohttp", "websockets",
        "asyncio", "selectors",
        # processes, files, environment
        "os", "sys", "subprocess", "shutil", "pathlib", "io", "tempfile", "glob", "pickle",
        "multiprocessing", "threading", "signal", "ctypes", "importlib", "builtins",
        # wall clock (market time comes from context.clock)
        "time", "datetime",
    }
)  # fmt: skip
"""Top-level modules a strategy may not import."""

FORBIDDEN_CALLS: Final = frozenset(
    {"open", "eval", "exec", "compile", "__import__", "input", "breakpoint", "globals"}
)
"""Builtins a strategy may not call."""


@dataclass(frozen=True, slots=True)
class SandboxViolation:
    """One forbidden construct.

    Attributes:
        filename: Source name.
        line: 1-based line.
        what: What was found (``import socket``, ``call open()``).
    """

    filename: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.what} is not allowed in a strategy"


def audit_strategy_source(source: str, filename: str = "<strategy>") -> list[SandboxViolation]:
    """Forbidden imports and calls in strategy source, in line order (empty: clean).

    Raises:
        SyntaxError: The source does not parse.
    """
    found: list[SandboxViolation] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.partition(".")[0] in FORBIDDEN_MODULES:
                    found.append(SandboxViolation(filename, node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and module.partition(".")[0] in FORBIDDEN_MODULES:
                found.append(SandboxViolation(filename, node.lineno, f"from {module} import"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FORBIDDEN_CALLS
        ):
            found.append(SandboxViolation(filename, node.lineno, f"call {node.func.id}()"))
    return sorted(found, key=lambda v: v.line)
