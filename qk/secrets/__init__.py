"""Encrypted API credentials: the store, the gateway loader, log redaction and ``qk secrets``.

``docs/secrets.md`` has the threat model and the file format; ``runbooks/secrets.md`` the
procedures. Code obtains credentials only through :func:`load_for_gateway`, inside a venue gateway
process.
"""

from __future__ import annotations

from qk.logs import REDACTED, redact_secrets
from qk.secrets.credentials import DEFAULT_LABEL, Credentials, fingerprint, mask_key
from qk.secrets.errors import (
    DecryptError,
    EntryNotFoundError,
    InsecureStoreError,
    InvalidLabelError,
    MasterKeyUnavailableError,
    SecretsError,
    StoreCorruptError,
    TamperedEntryError,
    UnknownVenueError,
)
from qk.secrets.gateway import SECRET_ENV_VARS, load_for_gateway, scrub_environment
from qk.secrets.store import PATH_ENV, SecretInfo, SecretStore, default_path

__all__ = [
    "DEFAULT_LABEL",
    "PATH_ENV",
    "REDACTED",
    "SECRET_ENV_VARS",
    "Credentials",
    "DecryptError",
    "EntryNotFoundError",
    "InsecureStoreError",
    "InvalidLabelError",
    "MasterKeyUnavailableError",
    "SecretInfo",
    "SecretStore",
    "SecretsError",
    "StoreCorruptError",
    "TamperedEntryError",
    "UnknownVenueError",
    "default_path",
    "fingerprint",
    "load_for_gateway",
    "mask_key",
    "redact_secrets",
    "scrub_environment",
]
