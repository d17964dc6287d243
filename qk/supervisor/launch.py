"""How a supervised child starts: ``python -m qk.supervisor.launch [--sandbox JSON] ENTRY``.

``ENTRY`` is ``package.module:function`` (imported and called with no arguments; its return value,
if an int, is the exit code) or ``-- ARGV...`` (executed in place of this process). The sandbox, when
given, is applied before the entry is imported or executed, so nothing the entry does runs
unconfined; resource limits and the scrubbed environment carry over ``exec``.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence

from qk.sandbox import SandboxLimits, apply_sandbox

__all__ = ["load_entry", "main"]


def load_entry(entry: str) -> Callable[[], object]:
    """Import ``package.module:function`` and return the function.

    Raises:
        ValueError: ``entry`` is malformed, or the attribute is missing or not callable.
        ImportError: the module cannot be imported.
    """
    module_name, sep, function_name = entry.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"entry {entry!r} is not 'package.module:function'")
    module = importlib.import_module(module_name)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"entry {entry!r}: {module_name} has no callable {function_name!r}")
    return function  # type: ignore[no-any-return]


def _die_with_supervisor() -> None:
    """Have the kernel send SIGTERM to this process when the supervisor that spawned it dies.

    Without it a SIGKILLed supervisor leaves its children running, holding ring cursors and CPUs,
    and the next supervisor of the session starts a second copy of each. The setting survives
    ``exec``. Only on Linux, and only when started by a supervisor (``QK_SUPERVISOR_PID``).
    """
    expected = os.environ.get("QK_SUPERVISOR_PID", "")
    if not expected.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    if libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0) != 0:
        return
    # The supervisor may have died before prctl took effect: then we are already orphaned.
    if os.getppid() != int(expected):
        os._exit(70)


def main(argv: Sequence[str] | None = None) -> int:
    """Apply the sandbox if asked, then run the entry; returns the entry's exit code.

    Raises:
        ValueError: a malformed command line (says what is wrong).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    limits = None
    if args[:1] == ["--sandbox"]:
        if len(args) < 2:
            raise ValueError("--sandbox needs a JSON argument")
        limits = SandboxLimits.from_json(args[1])
        args = args[2:]
    if args[:1] == ["--"]:
        command = args[1:]
        if not command:
            raise ValueError("nothing to execute after '--'")
    elif len(args) == 1:
        command = []
    else:
        raise ValueError(f"expected module:function or -- ARGV..., got {args!r}")
    _die_with_supervisor()
    if limits is not None:
        apply_sandbox(limits)
    if command:
        os.execvp(command[0], command)
    result = load_entry(args[0])()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
