"""Errors of the portfolio."""

from __future__ import annotations

__all__ = ["CurrencyMismatchError", "InvalidFillError", "PortfolioError", "PositionStateError"]


class PortfolioError(Exception):
    """Base class of portfolio errors."""


class InvalidFillError(PortfolioError, ValueError):
    """A fill the portfolio refuses: non-positive quantity or price, bad side or strategy id."""


class CurrencyMismatchError(PortfolioError, ValueError):
    """Money in one currency was offered where another is required (a fee not in the
    instrument's settlement currency)."""


class PositionStateError(PortfolioError, RuntimeError):
    """A position transition outside the transition table: a bug, never a silent overwrite."""
