"""Where a run came from: the code version, the interpreter and the machine, and fingerprints of
its inputs."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "code_version",
    "environment",
    "fingerprint_array",
    "fingerprint_bytes",
    "fingerprint_file",
    "inputs_hash",
]

_PACKAGE = "quantkubera"
_CHUNK = 1 << 20


def fingerprint_bytes(data: bytes | memoryview) -> str:
    """``sha256:<hex>`` of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def fingerprint_array(array: npt.NDArray[Any]) -> str:
    """``sha256:<hex>`` over an array's bytes in C order (a record array: its records' bytes)."""
    return fingerprint_bytes(np.ascontiguousarray(array).view(np.uint8).data)


def fingerprint_file(path: Path | str) -> str:
    """``sha256:<hex>`` of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """The code that runs: git commit, ``git describe`` and dirtiness of the checkout holding the
    ``qk`` package when it is one, and the installed package version.

    The working tree's dirtiness is recorded because a run on uncommitted changes cannot be
    reproduced from the commit alone.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        version: str | None = metadata.version(_PACKAGE)
    except metadata.PackageNotFoundError:
        version = None
    commit = _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "git_commit": commit,
        "git_describe": _git(root, "describe", "--always", "--dirty", "--tags") if commit else None,
        "git_dirty": bool(status) if commit else None,
        "package_version": version,
    }


def environment() -> dict[str, str]:
    """Interpreter and machine."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "numpy": np.__version__,
    }


def inputs_hash(
    kind: str,
    params: Mapping[str, Any],
    data_fingerprint: str | None,
    config_sha256: str | None,
    commit: str | None,
) -> str:
    """``sha256:<hex>`` of what determines a run's results: two runs with the same inputs hash
    ran the same code on the same data with the same parameters (ids differ, content does not)."""
    canonical = json.dumps(
        {
            "kind": kind,
            "params": params,
            "data": data_fingerprint,
            "config": config_sha256,
            "commit": commit,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return fingerprint_bytes(canonical.encode())
