"""Errors of the instrument master."""

from __future__ import annotations

__all__ = [
    "InstrumentDefinitionError",
    "InstrumentError",
    "InstrumentFileError",
    "InstrumentMasterExistsError",
    "InstrumentMasterLayoutError",
    "InstrumentMasterNotFoundError",
    "UnknownInstrumentError",
]


class InstrumentError(Exception):
    """Base class of instrument master errors."""


class UnknownInstrumentError(InstrumentError, LookupError):
    """No instrument has the id or (venue, symbol) that was asked for."""


class InstrumentDefinitionError(InstrumentError, ValueError):
    """An instrument's fields are invalid or inconsistent (e.g. an option without a strike)."""


class InstrumentFileError(InstrumentError, ValueError):
    """An instrument file (TOML/CSV) is malformed; the message names the file and the entry."""


class InstrumentMasterNotFoundError(InstrumentError, FileNotFoundError):
    """No published instrument master has that name."""


class InstrumentMasterExistsError(InstrumentError, FileExistsError):
    """An instrument master with that name is already published."""


class InstrumentMasterLayoutError(InstrumentError):
    """A shared-memory segment is not an instrument master of this build (magic, version,
    schema hash or size mismatch)."""
