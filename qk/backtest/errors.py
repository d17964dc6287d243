"""Errors of the backtest runner, each with a typed reason whose code is stable."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["BacktestError", "BacktestErrorReason"]


class BacktestErrorReason(IntEnum):
    """Why a backtest was refused. Codes are stable (logs and tests match on them)."""

    BAD_PARAMS = 1
    """A ``--param`` override the strategy refused (name, type or range)."""
    NO_DATA = 2
    """The trade array is empty."""
    WRONG_RECORDS = 3
    """Not a TradeEvent array, or a trade of an instrument the deployment does not trade."""
    UNSORTED_DATA = 4
    """Trades not in non-decreasing event-time order."""
    UNKNOWN_FEE_MODEL = 5
    """``[models] fee`` names no known fee model."""
    BAD_DATA_FILE = 6
    """A trades file that cannot be read."""
    FEE_MODEL_NOT_APPLICABLE = 7
    """``[models] fee`` names a model that does not cover an instrument of the deployment."""


class BacktestError(ValueError):
    """A backtest that cannot run, with the reason and a message naming the culprit.

    Attributes:
        reason: Why.
    """

    def __init__(self, reason: BacktestErrorReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
