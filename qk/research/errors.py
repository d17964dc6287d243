"""Errors of the research tools (vectorised path, sweeps, walk-forward), with stable codes."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ResearchError", "ResearchErrorReason"]


class ResearchErrorReason(IntEnum):
    """Why a research run was refused. Codes are stable (logs and tests match on them)."""

    NOT_VECTORIZABLE = 1
    """The deployment uses something the vectorised kernel cannot reproduce exactly."""
    RISK_WOULD_BIND = 2
    """A risk limit might deny an order or change the trading state for this parameter set:
    only the event engine models that."""
    BAD_SPACE = 3
    """A ``--param`` search-space entry that cannot be parsed or is empty."""
    BAD_PARAMS = 4
    """A parameter set the strategy refuses (e.g. fast >= slow, a quantity off the lot grid)."""
    BAD_SPLIT = 5
    """Walk-forward split arguments that give no usable fold."""
    BAD_OBJECTIVE = 6
    """An unknown objective name."""
    NUMERIC_RANGE = 7
    """Values too large for the kernel's int64 fixed point."""


class ResearchError(ValueError):
    """A research run that cannot go ahead, with the reason and a message naming the culprit.

    Attributes:
        reason: Why.
    """

    def __init__(self, reason: ResearchErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
