"""Resource limits and hygiene for an untrusted child process (a strategy).

:func:`apply_sandbox` runs inside the child, before the strategy's code is imported: it lowers the
resource limits (address space, CPU time, open files; no core dumps, which could hold secrets),
removes environment variables that look like credentials, and closes every inherited file
descriptor above 2 except an allow-list, so the child holds no socket or file its parent had open.
Limits only go down: a limit the parent already set lower than asked is kept.
"""

from __future__ import annotations

import json
import os
import re
import resource
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import asdict, dataclass

__all__ = [
    "SandboxLimits",
    "apply_sandbox",
    "is_credential_name",
    "scrub_credentials",
]

# Name parts that mark an environment variable as a secret. PWD (the working directory) is not one.
_SECRET_PARTS = frozenset(
    {
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "CREDENTIAL",
        "CREDENTIALS",
        "KEY",
        "KEYS",
        "APIKEY",
        "AUTH",
        "COOKIE",
        "PRIVATE",
        "SIGNATURE",
    }
)
_SPLIT = re.compile(r"[^A-Z0-9]+")


def is_credential_name(name: str) -> bool:
    """True when an environment variable's name looks like it holds a credential.

    The name is split on non-alphanumerics (``BINANCE_API_SECRET`` → BINANCE, API, SECRET) and any
    part naming a secret (KEY, SECRET, TOKEN, PASSWORD, AUTH, ...) marks it.
    """
    return any(part in _SECRET_PARTS for part in _SPLIT.split(name.upper()) if part)


def scrub_credentials(environ: MutableMapping[str, str]) -> list[str]:
    """Delete credential-looking variables from ``environ`` in place; return their names, sorted."""
    removed = sorted(name for name in environ if is_credential_name(name))
    for name in removed:
        del environ[name]
    return removed


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    """Limits for one sandboxed process. None leaves a limit as inherited."""

    address_space_bytes: int | None = None
    """RLIMIT_AS: allocations beyond it fail with MemoryError."""
    cpu_seconds: int | None = None
    """RLIMIT_CPU: CPU seconds after which the kernel sends SIGXCPU, and SIGKILL one second later."""
    open_files: int | None = 256
    """RLIMIT_NOFILE: the highest file descriptor number + 1 the process may open."""
    core_dumps: bool = False
    """Allow core dumps (RLIMIT_CORE); off, because a core holds the process's memory."""
    keep_fds: tuple[int, ...] = ()
    """Inherited descriptors above 2 to keep open (e.g. a pipe the parent hands over on purpose)."""
    scrub_environment: bool = True
    """Remove credential-looking environment variables (see :func:`is_credential_name`)."""

    def __post_init__(self) -> None:
        for field_name in ("address_space_bytes", "cpu_seconds", "open_files"):
            value = getattr(self, field_name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(
                    f"sandbox limit {field_name} must be a positive int, got {value!r}"
                )
        if self.open_files is not None and self.open_files < 8:
            raise ValueError(
                f"sandbox limit open_files={self.open_files} is too low for a Python process (>= 8)"
            )
        bad = [fd for fd in self.keep_fds if not isinstance(fd, int) or fd < 3]
        if bad:
            raise ValueError(f"sandbox keep_fds must be descriptors above 2, got {bad}")

    def to_json(self) -> str:
        """A JSON form for a child's command line (:meth:`from_json` reads it back)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxLimits:
        """Parse :meth:`to_json` output; ValueError naming the field on anything else."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"sandbox limits are not JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"sandbox limits must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sandbox limit(s) {unknown}; known: {sorted(known)}")
        kwargs = dict(data)
        if "keep_fds" in kwargs:
            kwargs["keep_fds"] = tuple(kwargs["keep_fds"])
        return cls(**kwargs)


def _lower(which: int, value: int, headroom: int = 0) -> None:
    soft, hard = resource.getrlimit(which)
    wanted_hard = value + headroom
    new_hard = wanted_hard if hard == resource.RLIM_INFINITY else min(hard, wanted_hard)
    new_soft = value if soft == resource.RLIM_INFINITY else min(soft, value)
    resource.setrlimit(which, (min(new_soft, new_hard), new_hard))


def _open_fds() -> list[int]:
    try:
        return sorted(int(entry) for entry in os.listdir("/proc/self/fd"))
    except OSError:
        return list(range(3, os.sysconf("SC_OPEN_MAX")))


def close_inherited_fds(keep: Iterable[int] = ()) -> list[int]:
    """Close every descriptor above 2 not in ``keep``; return the ones closed."""
    keep_set = set(keep)
    closed = []
    for fd in _open_fds():
        if fd > 2 and fd not in keep_set:
            try:
                os.close(fd)
            except OSError:
                # The listing's own directory descriptor is gone by now.
                continue
            closed.append(fd)
    return closed


def apply_sandbox(limits: SandboxLimits) -> None:
    """Apply ``limits`` to the calling process. Call it first thing in the child.

    Descriptors are closed before the limits are lowered, so a tight ``open_files`` never trips on
    an inherited descriptor with a high number. Raises OSError if the kernel refuses a limit.
    """
    close_inherited_fds(limits.keep_fds)
    if limits.scrub_environment:
        scrub_credentials(os.environ)
    if not limits.core_dumps:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.open_files is not None:
        _lower(resource.RLIMIT_NOFILE, limits.open_files)
    if limits.cpu_seconds is not None:
        # One second between SIGXCPU (soft) and SIGKILL (hard) lets the child log why it dies.
        _lower(resource.RLIMIT_CPU, limits.cpu_seconds, headroom=1)
    if limits.address_space_bytes is not None:
        _lower(resource.RLIMIT_AS, limits.address_space_bytes)
