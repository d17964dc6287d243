"""Errors of the order management engine, with stable reason codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["OmsError", "OmsErrorReason"]


class OmsErrorReason(IntEnum):
    """Why the engine refused a call; stable codes for logs and alerts."""

    TIME_WENT_BACKWARDS = 1
    """A record or timer earlier than the market time already processed."""
    UNKNOWN_STRATEGY = 2
    """A strategy id no context was registered for."""
    DUPLICATE_STRATEGY = 3
    """A second context for a strategy id already registered."""
    UNKNOWN_ORDER = 4
    """An execution event for an order the engine never created."""


class OmsError(Exception):
    """A call the engine cannot honour.

    Attributes:
        reason: The typed reason.
    """

    def __init__(self, reason: OmsErrorReason, message: str) -> None:
        super().__init__(f"{reason.name}: {message}")
        self.reason = reason
