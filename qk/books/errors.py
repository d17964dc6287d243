"""Errors of the order book."""

from __future__ import annotations

__all__ = ["BookError", "BookStateError"]


class BookError(Exception):
    """Base class of order-book errors."""


class BookStateError(BookError):
    """An input the book's state machine has no transition for (a bug in the caller or here)."""
