"""Where the store's 32-byte master key comes from: the OS keyring, or a passphrase through scrypt.

A store records which source it was created with. The keyring source keeps a random key under
service ``quantkubera``; it is used only when :func:`usable_keyring` finds a real backend, because
keyring's fail and null backends (and a chainer with nothing to chain) would silently lose the key.
The passphrase source derives the key with scrypt from a passphrase found, in order: the caller's
argument, ``QK_SECRETS_PASSPHRASE``, the systemd credential ``qk-secrets-passphrase`` (a file in
``$CREDENTIALS_DIRECTORY``, from ``LoadCredential=``), or a prompt the caller supplies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
from keyring.backends import chainer, fail
from keyring.backends import null as null_backend

from qk.secrets.errors import DecryptError, MasterKeyUnavailableError, StoreCorruptError

__all__ = [
    "CREDENTIAL_NAME",
    "KEYRING_SERVICE",
    "KEYRING_USERNAME",
    "KEY_BYTES",
    "PASSPHRASE_ENV",
    "SCRYPT_MAX_N",
    "SCRYPT_MIN_N",
    "Prompt",
    "ScryptParams",
    "derive_key",
    "find_passphrase",
    "key_id",
    "keyring_key",
    "usable_keyring",
]

KEYRING_SERVICE = "quantkubera"
"""The keyring service the master key is stored under."""
KEYRING_USERNAME = "secrets-master-key"
"""The keyring user name the master key is stored under."""
PASSPHRASE_ENV = "QK_SECRETS_PASSPHRASE"
"""Environment variable holding the passphrase of a scrypt store."""
CREDENTIAL_NAME = "qk-secrets-passphrase"
"""Name of the systemd credential (``LoadCredential=qk-secrets-passphrase:...``) with the passphrase."""
KEY_BYTES = 32
"""Master key length: AES-256."""
SCRYPT_MIN_N = 2**15
"""The lowest scrypt cost a store may record; a file asking for less is refused, not obeyed."""
SCRYPT_MAX_N = 2**22
"""The highest scrypt cost accepted, so that a damaged file cannot ask for gigabytes of memory."""

Prompt = Callable[[str], str]
"""Asks a person for a passphrase: takes the prompt text, returns what was typed."""

_KEY_ID_CONTEXT = b"quantkubera-secrets master key id"


@dataclass(frozen=True)
class ScryptParams:
    """scrypt parameters and salt, as stored in the file (RFC 7914 names)."""

    salt: bytes
    n: int = SCRYPT_MIN_N
    r: int = 8
    p: int = 1

    @classmethod
    def new(cls) -> ScryptParams:
        """Fresh parameters with a random 16-byte salt."""
        return cls(salt=secrets.token_bytes(16))

    def validate(self, where: str) -> None:
        """Refuse parameters weaker than the minimum or too costly to compute.

        Raises:
            StoreCorruptError: naming ``where`` (the file) and the parameter.
        """
        if len(self.salt) < 16:
            raise StoreCorruptError(f"{where}: kdf.salt is {len(self.salt)} bytes; need >= 16")
        if self.n < SCRYPT_MIN_N or self.n > SCRYPT_MAX_N or self.n & (self.n - 1):
            raise StoreCorruptError(
                f"{where}: kdf.n = {self.n}; need a power of two in [2**15, 2**22]"
            )
        if not 8 <= self.r <= 32:
            raise StoreCorruptError(f"{where}: kdf.r = {self.r}; need 8..32")
        if not 1 <= self.p <= 16:
            raise StoreCorruptError(f"{where}: kdf.p = {self.p}; need 1..16")


def derive_key(passphrase: str, params: ScryptParams) -> bytes:
    """The master key scrypt derives from ``passphrase`` with ``params``."""
    return hashlib.scrypt(
        passphrase.encode(),
        salt=params.salt,
        n=params.n,
        r=params.r,
        p=params.p,
        # 128 * n * r bytes of working memory, plus room for the library's own allocations.
        maxmem=256 * params.n * params.r * params.p + 2**20,
        dklen=KEY_BYTES,
    )


def key_id(master_key: bytes) -> str:
    """A public name for a master key: ``mk-`` and 16 hex digits of an HMAC of it.

    Comparing ids tells a wrong passphrase apart from a damaged entry before any decryption.
    """
    digest = hmac.new(master_key, _KEY_ID_CONTEXT, hashlib.sha256).hexdigest()
    return "mk-" + digest[:16]


def usable_keyring() -> keyring.backend.KeyringBackend | None:
    """The current keyring backend if it can really keep a key, else None.

    keyring's ``fail.Keyring`` raises on every call, ``null.Keyring`` forgets everything, and a
    ``ChainerBackend`` with no viable backend behind it behaves like null; any backend keyring
    itself ranks at priority 0 or below is not trusted either.
    """
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null_backend.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend):
        return backend if list(backend.backends) else None
    priority = float(getattr(backend, "priority", 0))
    return backend if priority > 0 else None


def keyring_key(*, create: bool) -> bytes:
    """The master key kept in the OS keyring; with ``create``, a random one is stored if none is.

    Raises:
        MasterKeyUnavailableError: no usable keyring backend, the backend failed, no key is
            stored (and ``create`` is False), or the stored value is not a 32-byte key.
    """
    backend = usable_keyring()
    if backend is None:
        raise MasterKeyUnavailableError(
            f"no usable OS keyring backend ({type(keyring.get_keyring()).__module__}."
            f"{type(keyring.get_keyring()).__qualname__}); the store's master key lives in the "
            "keyring, so it cannot be opened here (see runbooks/secrets.md)"
        )
    try:
        stored = backend.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
        if stored is None:
            if not create:
                raise MasterKeyUnavailableError(
                    f"the OS keyring has no master key ({KEYRING_SERVICE}/{KEYRING_USERNAME}); "
                    "if it was lost, follow 'recover' in runbooks/secrets.md"
                )
            stored = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
            backend.set_password(KEYRING_SERVICE, KEYRING_USERNAME, stored)
            # Read back: a backend that accepts a write and keeps nothing must not be trusted
            # with the only copy of the key.
            if backend.get_password(KEYRING_SERVICE, KEYRING_USERNAME) != stored:
                raise MasterKeyUnavailableError(
                    f"the keyring backend {type(backend).__qualname__} did not keep the master key"
                )
    except keyring.errors.KeyringError as exc:
        raise MasterKeyUnavailableError(f"OS keyring failed: {exc}") from exc
    try:
        key = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError(
            f"the keyring entry {KEYRING_SERVICE}/{KEYRING_USERNAME} is not base64"
        ) from None
    if len(key) != KEY_BYTES:
        raise DecryptError(
            f"the keyring entry {KEYRING_SERVICE}/{KEYRING_USERNAME} holds {len(key)} bytes, "
            f"not a {KEY_BYTES}-byte key"
        )
    return key


def find_passphrase(
    passphrase: str | None,
    prompt: Prompt | None,
    *,
    environ: Mapping[str, str] | None = None,
    confirm: bool = False,
) -> str:
    """The passphrase from the first source that has one (see the module docstring).

    Args:
        passphrase: given by the caller; wins over every other source.
        prompt: asks a person; None where nobody can answer (a daemon, a gateway process).
        environ: the environment to read (default ``os.environ``).
        confirm: ask twice when prompting (a new store), refusing a mismatch.

    Raises:
        MasterKeyUnavailableError: no source has a passphrase, it is empty, or the two prompts
            differ.
    """
    env = os.environ if environ is None else environ
    found = passphrase
    if found is None:
        found = env.get(PASSPHRASE_ENV)
    if found is None and env.get("CREDENTIALS_DIRECTORY"):
        credential = Path(env["CREDENTIALS_DIRECTORY"]) / CREDENTIAL_NAME
        if credential.is_file():
            # A trailing newline comes from `echo` into the credential file, never from the
            # passphrase itself.
            found = credential.read_text(encoding="utf-8").rstrip("\r\n")
    if found is None and prompt is not None:
        found = prompt("secrets store passphrase: ")
        if confirm and prompt("repeat the passphrase: ") != found:
            raise MasterKeyUnavailableError("the two passphrases differ; nothing was written")
    if found is None:
        raise MasterKeyUnavailableError(
            f"the store needs a passphrase: set {PASSPHRASE_ENV}, provide the systemd credential "
            f"{CREDENTIAL_NAME} (LoadCredential=), or run on a terminal"
        )
    if not found:
        raise MasterKeyUnavailableError("the secrets store passphrase must not be empty")
    return found
