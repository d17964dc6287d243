"""``SecretStore``: API credentials per venue and account label, encrypted at rest.

Each entry is sealed with AES-256-GCM under the store's master key (:mod:`qk.secrets.masterkey`),
with a fresh random nonce on every write and the entry's venue, label and metadata as associated
data. The file format is in :mod:`qk.secrets.fileformat` and ``docs/secrets.md``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from qk.schemas.enums import Venue
from qk.secrets.credentials import (
    DEFAULT_LABEL,
    Credentials,
    fingerprint,
    parse_label,
    parse_venue,
)
from qk.secrets.errors import (
    DecryptError,
    EntryNotFoundError,
    SecretsError,
    TamperedEntryError,
)
from qk.secrets.fileformat import (
    Entry,
    MasterKeyInfo,
    StoreDocument,
    entry_aad,
    exclusive_lock,
    read_document,
    write_document,
)
from qk.secrets.masterkey import (
    Prompt,
    ScryptParams,
    derive_key,
    find_passphrase,
    key_id,
    keyring_key,
    usable_keyring,
)

__all__ = [
    "PATH_ENV",
    "MasterKeySource",
    "SecretInfo",
    "SecretStore",
    "default_path",
]

PATH_ENV = "QK_SECRETS_PATH"
"""Environment variable that moves the store file."""

MasterKeySource = Literal["auto", "keyring", "passphrase"]
"""Where a new store takes its master key: ``auto`` = the keyring when usable, else a passphrase."""

_WRONG_KEY = "cannot decrypt: wrong passphrase or master key"
_PAD = 64


def default_path() -> Path:
    """``$QK_SECRETS_PATH``, else ``$XDG_CONFIG_HOME/quantkubera/secrets.json``
    (``~/.config/quantkubera/secrets.json``)."""
    override = os.environ.get(PATH_ENV)
    if override:
        return Path(override)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "quantkubera" / "secrets.json"


class SecretInfo(NamedTuple):
    """What ``list`` tells about an entry: never a key or a secret."""

    venue: Venue
    label: str
    created: datetime
    rotated: datetime
    fingerprint: str
    key_id: str


def _validate_text(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not encodable as UTF-8: {exc.reason}") from None
    return value


class SecretStore:
    """API credentials on disk, one AEAD-sealed entry per venue and account label.

    Args:
        path: the store file (default :func:`default_path`).
        passphrase: for a scrypt store; else ``QK_SECRETS_PASSPHRASE``, the systemd credential
            ``qk-secrets-passphrase`` or ``prompt`` are tried, in that order.
        prompt: asks a person for the passphrase; None (the default) never asks, which is what a
            daemon needs.
        master_key: where a *new* store gets its master key; an existing store always uses the
            source it records.
        clock: returns the current time (tests pass a fixed one).

    ``list`` and ``delete`` read only clear metadata and need no master key; ``set`` and ``get``
    unlock the store once per instance (scrypt costs 0.1-0.3 s and 32 MiB).
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        passphrase: str | None = None,
        prompt: Prompt | None = None,
        master_key: MasterKeySource = "auto",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if master_key not in ("auto", "keyring", "passphrase"):
            raise ValueError(
                f"master_key must be 'auto', 'keyring' or 'passphrase', not {master_key!r}"
            )
        self._path = Path(path) if path is not None else default_path()
        self._passphrase = passphrase
        self._prompt = prompt
        self._source: MasterKeySource = master_key
        self._clock = clock or (lambda: datetime.now(UTC))
        self._unlocked: tuple[str, bytes] | None = None

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    def exists(self) -> bool:
        """Whether the store file exists."""
        return self._path.exists()

    def master_key_info(self) -> MasterKeyInfo | None:
        """Which master key the store uses (source and id), or None when there is no store."""
        document = read_document(self._path)
        return None if document is None else document.master_key

    # -- master key --------------------------------------------------------------------------

    def _unlock(self, info: MasterKeyInfo) -> bytes:
        if self._unlocked is not None and self._unlocked[0] == info.key_id:
            return self._unlocked[1]
        if info.scrypt is None:
            key = keyring_key(create=False)
        else:
            passphrase = find_passphrase(self._passphrase, self._prompt)
            key = derive_key(passphrase, info.scrypt)
        found = key_id(key)
        if found != info.key_id:
            where = "the OS keyring's key" if info.scrypt is None else "the passphrase"
            raise DecryptError(
                f"{_WRONG_KEY}: {where} gives {found}, but {self._path} was written with "
                f"{info.key_id}"
            )
        self._unlocked = (found, key)
        return key

    def _new_master_key(self) -> tuple[MasterKeyInfo, bytes]:
        source = self._source
        if source == "auto":
            source = "keyring" if usable_keyring() is not None else "passphrase"
        if source == "keyring":
            key = keyring_key(create=True)
            info = MasterKeyInfo("keyring", key_id(key))
        else:
            params = ScryptParams.new()
            passphrase = find_passphrase(self._passphrase, self._prompt, confirm=True)
            key = derive_key(passphrase, params)
            info = MasterKeyInfo("scrypt", key_id(key), params)
        self._unlocked = (info.key_id, key)
        return info, key

    def _check_source(self, document: StoreDocument) -> None:
        wanted = {"keyring": "keyring", "passphrase": "scrypt"}.get(self._source)
        if wanted is not None and document.master_key.source != wanted:
            raise SecretsError(
                f"{self._path} already uses a {document.master_key.source} master key; the "
                f"master key source can only be chosen for a new store"
            )

    # -- entries -----------------------------------------------------------------------------

    def set(
        self, venue: Venue | str, api_key: str, api_secret: str, *, label: str = DEFAULT_LABEL
    ) -> SecretInfo:
        """Store (or rotate) the credentials of ``venue``/``label``.

        A rotation keeps the entry's creation time and sets its rotation time to now; every
        write seals with a new random nonce.

        Raises:
            UnknownVenueError, InvalidLabelError, ValueError: bad venue, label, key or secret.
            DecryptError: the master key does not open the existing store.
            MasterKeyUnavailableError: no master key can be had (see ``masterkey``).
            StoreCorruptError, InsecureStoreError: the existing file cannot be trusted.
        """
        member = parse_venue(venue)
        label = parse_label(label)
        _validate_text("api_key", api_key)
        _validate_text("api_secret", api_secret)
        with exclusive_lock(self._path):
            document = read_document(self._path)
            now = self._clock().astimezone(UTC).replace(microsecond=0)
            if document is None:
                info, key = self._new_master_key()
                document = StoreDocument(created=now, master_key=info)
            else:
                self._check_source(document)
                key = self._unlock(document.master_key)
            previous = document.find(member, label)
            created = previous.created if previous is not None else now
            entry = self._seal(
                key, document.master_key.key_id, member, label, created, now, api_key, api_secret
            )
            write_document(self._path, document.with_entry(entry))
        return _info(entry)

    @staticmethod
    def _seal(
        key: bytes,
        master_id: str,
        venue: Venue,
        label: str,
        created: datetime,
        rotated: datetime,
        api_key: str,
        api_secret: str,
    ) -> Entry:
        print_ = fingerprint(api_key)
        aad = entry_aad(
            venue, label, created=created, rotated=rotated, key_id=master_id, fingerprint=print_
        )
        nonce = secrets.token_bytes(12)
        plaintext = json.dumps({"api_key": api_key, "api_secret": api_secret}).encode()
        # Pad to a multiple of 64 bytes (JSON ignores trailing spaces) so the ciphertext length
        # does not tell how long the key and secret are.
        plaintext += b" " * (-len(plaintext) % _PAD)
        return Entry(
            venue=venue,
            label=label,
            created=created,
            rotated=rotated,
            key_id=master_id,
            fingerprint=print_,
            nonce=nonce,
            ciphertext=AESGCM(key).encrypt(nonce, plaintext, aad),
        )

    def get(self, venue: Venue | str, label: str = DEFAULT_LABEL) -> Credentials:
        """The credentials of ``venue``/``label``, decrypted.

        Raises:
            EntryNotFoundError: no store, or no entry for the venue and label.
            DecryptError: wrong passphrase or master key.
            TamperedEntryError: the entry fails authentication under the right key (its bytes
                or metadata were altered, or it was copied from another venue or label).
            UnknownVenueError, InvalidLabelError, StoreCorruptError, InsecureStoreError,
            MasterKeyUnavailableError: as their names say.
        """
        member = parse_venue(venue)
        label = parse_label(label)
        document = read_document(self._path)
        if document is None:
            raise EntryNotFoundError(f"no secrets store at {self._path}")
        entry = document.find(member, label)
        if entry is None:
            raise EntryNotFoundError(
                f"no credentials for {member.name}/{label} in {self._path}; "
                f"add them with: qk secrets set {member.name} --label {label}"
            )
        key = self._unlock(document.master_key)
        name = f"{member.name}/{label}"
        if entry.key_id != document.master_key.key_id:
            raise TamperedEntryError(
                f"{self._path}: entry {name} was sealed with master key {entry.key_id}, the "
                f"store's is {document.master_key.key_id}"
            )
        aad = entry_aad(
            member,
            label,
            created=entry.created,
            rotated=entry.rotated,
            key_id=entry.key_id,
            fingerprint=entry.fingerprint,
        )
        try:
            plaintext = AESGCM(key).decrypt(entry.nonce, entry.ciphertext, aad)
        except InvalidTag:
            # The key id matched, so the key is right: what changed is the entry.
            raise TamperedEntryError(
                f"{_WRONG_KEY}: entry {name} in {self._path} fails authentication; it was "
                "altered, or moved from another venue or label"
            ) from None
        fields = json.loads(plaintext)
        api_key, api_secret = fields["api_key"], fields["api_secret"]
        return Credentials(venue=member, api_key=api_key, api_secret=api_secret, label=label)

    def list(self) -> list[SecretInfo]:
        """Every entry's venue, label, times, key fingerprint and master key id; no secrets.

        Needs no master key. An absent store lists nothing.
        """
        document = read_document(self._path)
        if document is None:
            return []
        return [_info(entry) for entry in document.entries]

    def delete(self, venue: Venue | str, label: str = DEFAULT_LABEL) -> None:
        """Remove the entry of ``venue``/``label``; the store file stays, even when empty.

        Raises:
            EntryNotFoundError: there is no such entry.
        """
        member = parse_venue(venue)
        label = parse_label(label)
        with exclusive_lock(self._path):
            document = read_document(self._path)
            if document is None or document.find(member, label) is None:
                raise EntryNotFoundError(
                    f"no credentials for {member.name}/{label} in {self._path}"
                )
            write_document(self._path, document.without(member, label))


def _info(entry: Entry) -> SecretInfo:
    return SecretInfo(
        venue=entry.venue,
        label=entry.label,
        created=entry.created,
        rotated=entry.rotated,
        fingerprint=entry.fingerprint,
        key_id=entry.key_id,
    )
