"""Errors of the secrets store; each names the file, entry or field that is wrong."""

from __future__ import annotations

__all__ = [
    "DecryptError",
    "EntryNotFoundError",
    "InsecureStoreError",
    "InvalidLabelError",
    "MasterKeyUnavailableError",
    "SecretsError",
    "StoreCorruptError",
    "TamperedEntryError",
    "UnknownVenueError",
]


class SecretsError(RuntimeError):
    """Base class of every error the secrets store raises."""


class DecryptError(SecretsError):
    """The master key does not open the store: a wrong passphrase or a different keyring key."""


class TamperedEntryError(SecretsError):
    """An entry failed authentication under the right master key: it was altered or moved."""


class StoreCorruptError(SecretsError):
    """The store file is not a well-formed secrets store (bad JSON, a missing or mistyped field)."""


class InsecureStoreError(SecretsError):
    """The store file or its directory can be read or written by other users."""


class MasterKeyUnavailableError(SecretsError):
    """No master key can be obtained: no usable keyring, no passphrase, no terminal to ask on."""


class EntryNotFoundError(SecretsError):
    """The store holds no entry for the venue and label asked for."""


class UnknownVenueError(SecretsError, ValueError):
    """A venue name that is not a member of :class:`qk.schemas.enums.Venue`."""


class InvalidLabelError(SecretsError, ValueError):
    """An account label outside the allowed alphabet or length."""
