"""Errors raised by the shared-memory rings.

The timeout/closed/overrun errors are defined in the compiled module (they are raised from the hot
path) and re-exported here, so callers import every ring error from one place.
"""

from __future__ import annotations

from qk.rings._ring import RingClosed, RingTimeout


class RingError(Exception):
    """Base class of ring set-up errors (create, attach, consumer registration)."""


class RingNotFoundError(RingError, FileNotFoundError):
    """No ring segment exists under that name."""


class RingExistsError(RingError, FileExistsError):
    """A ring segment with that name already exists (and ``create`` was not told to replace it)."""


class RingLayoutError(RingError):
    """The segment exists but its header does not match what this process expects."""


class ConsumerBusyError(RingError):
    """A live process is already attached as this consumer, or as the producer."""


__all__ = [
    "ConsumerBusyError",
    "RingClosed",
    "RingError",
    "RingExistsError",
    "RingLayoutError",
    "RingNotFoundError",
    "RingTimeout",
]
