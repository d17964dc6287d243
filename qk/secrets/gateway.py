"""The one way code obtains venue credentials.

Only a venue gateway process calls :func:`load_for_gateway`, once, at start-up: strategies, risk,
feeds and the supervisor never hold keys, and keys never travel through a ring, a config file, a
command line or a log. :data:`SECRET_ENV_VARS` lists what a supervisor strips from the environment
of every process that is not a gateway (:func:`scrub_environment`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from qk.schemas.enums import Venue
from qk.secrets.credentials import DEFAULT_LABEL, Credentials
from qk.secrets.masterkey import PASSPHRASE_ENV
from qk.secrets.store import SecretStore

__all__ = ["SECRET_ENV_VARS", "load_for_gateway", "scrub_environment"]

SECRET_ENV_VARS = (PASSPHRASE_ENV,)
"""Environment variables that can unlock the store; only a gateway process may inherit them."""


def load_for_gateway(
    venue: Venue | str,
    label: str = DEFAULT_LABEL,
    *,
    path: Path | str | None = None,
    passphrase: str | None = None,
) -> Credentials:
    """The credentials of ``venue``/``label`` for the gateway process that is starting.

    Never prompts: a gateway runs unattended, so a scrypt store's passphrase must come from
    ``passphrase``, ``QK_SECRETS_PASSPHRASE`` or the systemd credential ``qk-secrets-passphrase``.
    After loading, ``QK_SECRETS_PASSPHRASE`` is removed from this process's environment so that
    nothing the gateway spawns inherits it.

    Args:
        venue: a :class:`Venue` or its name.
        label: the account label (default ``default``).
        path: the store file (default ``$QK_SECRETS_PATH`` or ``~/.config/quantkubera/secrets.json``).
        passphrase: the passphrase of a scrypt store, if the caller already has it.

    Raises:
        qk.secrets.SecretsError: any failure, with a message naming the store, venue and label.
    """
    credentials = SecretStore(path, passphrase=passphrase).get(venue, label)
    os.environ.pop(PASSPHRASE_ENV, None)
    return credentials


def scrub_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` without :data:`SECRET_ENV_VARS`, for a process that is not a gateway."""
    return {name: value for name, value in environ.items() if name not in SECRET_ENV_VARS}
