"""Errors of the fee models."""

from __future__ import annotations

__all__ = [
    "FeeError",
    "FeeInputError",
    "FeeScheduleError",
    "UnknownFeeModelError",
]


class FeeError(Exception):
    """Base class of fee model errors."""


class FeeScheduleError(FeeError, ValueError):
    """A fee schedule file is malformed or inconsistent; the message names the file, the model
    and the component."""


class UnknownFeeModelError(FeeError, LookupError):
    """No fee model has the name that was asked for."""


class FeeInputError(FeeError, ValueError):
    """A fill cannot be priced by this model: bad quantity or price, wrong venue, instrument
    kind or currency."""
