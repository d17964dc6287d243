"""The store file: its JSON shape, strict parsing with errors that name the field, atomic writes.

One JSON object per store (``docs/secrets.md`` § File format)::

    {"format": "quantkubera-secrets", "version": 1, "created": "...Z",
     "master_key": {"source": "keyring" | "scrypt", "key_id": "mk-...", ...},
     "entries": [{"venue", "label", "created", "rotated", "key_id", "fingerprint",
                  "cipher", "nonce", "ciphertext"}, ...]}

Everything but ``nonce`` and ``ciphertext`` is metadata in clear, so ``qk secrets list`` needs no
master key; the metadata of an entry is authenticated as AEAD associated data (:func:`entry_aad`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qk.schemas.enums import Venue
from qk.secrets.credentials import parse_label
from qk.secrets.errors import InsecureStoreError, StoreCorruptError
from qk.secrets.masterkey import KEYRING_SERVICE, KEYRING_USERNAME, ScryptParams

__all__ = [
    "CIPHER",
    "FORMAT",
    "STORE_VERSION",
    "Entry",
    "MasterKeyInfo",
    "StoreDocument",
    "entry_aad",
    "exclusive_lock",
    "format_time",
    "read_document",
    "write_document",
]

FORMAT = "quantkubera-secrets"
"""Value of the ``format`` field: tells a secrets store from any other JSON file."""
STORE_VERSION = 1
"""The layout version this code reads and writes; it is also part of every entry's AAD."""
CIPHER = "AES-256-GCM"
"""The AEAD every entry is encrypted with (96-bit random nonce per write)."""


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, to the second: how the file writes a timestamp."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class MasterKeyInfo:
    """Which master key the store uses: its source, its id and (for scrypt) the KDF parameters."""

    source: str
    key_id: str
    scrypt: ScryptParams | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``master_key`` object of the file."""
        if self.scrypt is None:
            return {
                "source": "keyring",
                "service": KEYRING_SERVICE,
                "username": KEYRING_USERNAME,
                "key_id": self.key_id,
            }
        return {
            "source": "scrypt",
            "salt": base64.b64encode(self.scrypt.salt).decode(),
            "n": self.scrypt.n,
            "r": self.scrypt.r,
            "p": self.scrypt.p,
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class Entry:
    """One encrypted credential record with its clear metadata."""

    venue: Venue
    label: str
    created: datetime
    rotated: datetime
    key_id: str
    fingerprint: str
    nonce: bytes
    ciphertext: bytes

    def to_json(self) -> dict[str, Any]:
        """The entry's object in ``entries``."""
        return {
            "venue": self.venue.name,
            "label": self.label,
            "created": format_time(self.created),
            "rotated": format_time(self.rotated),
            "key_id": self.key_id,
            "fingerprint": self.fingerprint,
            "cipher": CIPHER,
            "nonce": base64.b64encode(self.nonce).decode(),
            "ciphertext": base64.b64encode(self.ciphertext).decode(),
        }


def entry_aad(
    venue: Venue, label: str, *, created: datetime, rotated: datetime, key_id: str, fingerprint: str
) -> bytes:
    """The associated data an entry is sealed with.

    It binds the store format and version, the venue and label (so a record copied to another
    venue or account fails to decrypt) and the rest of the clear metadata (so an edited timestamp
    or fingerprint is detected too).
    """
    return json.dumps(
        {
            "format": FORMAT,
            "version": STORE_VERSION,
            "venue": venue.name,
            "label": label,
            "created": format_time(created),
            "rotated": format_time(rotated),
            "key_id": key_id,
            "fingerprint": fingerprint,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@dataclass(frozen=True)
class StoreDocument:
    """The whole store file, parsed."""

    created: datetime
    master_key: MasterKeyInfo
    entries: tuple[Entry, ...] = ()

    def find(self, venue: Venue, label: str) -> Entry | None:
        """The entry for ``venue``/``label``, if any."""
        for entry in self.entries:
            if entry.venue is venue and entry.label == label:
                return entry
        return None

    def with_entry(self, new: Entry) -> StoreDocument:
        """A copy with ``new`` replacing the entry of the same venue and label, or added."""
        kept = [e for e in self.entries if (e.venue, e.label) != (new.venue, new.label)]
        kept.append(new)
        kept.sort(key=lambda e: (e.venue.value, e.label))
        return replace(self, entries=tuple(kept))

    def without(self, venue: Venue, label: str) -> StoreDocument:
        """A copy without the entry for ``venue``/``label``."""
        kept = tuple(e for e in self.entries if (e.venue, e.label) != (venue, label))
        return replace(self, entries=kept)

    def to_bytes(self) -> bytes:
        """The file's bytes: indented JSON, one trailing newline."""
        body = {
            "format": FORMAT,
            "version": STORE_VERSION,
            "created": format_time(self.created),
            "master_key": self.master_key.to_json(),
            "entries": [entry.to_json() for entry in self.entries],
        }
        return (json.dumps(body, indent=2) + "\n").encode()


class _Fields:
    """Typed access to one JSON object; every error names the file and the field path."""

    def __init__(self, obj: object, where: str, path: str) -> None:
        if not isinstance(obj, dict):
            raise StoreCorruptError(f"{where}: {path or 'top level'} is not a JSON object")
        self._obj: dict[str, Any] = obj
        self._where = where
        self._path = path

    def _name(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def fail(self, key: str, problem: str) -> StoreCorruptError:
        return StoreCorruptError(f"{self._where}: field {self._name(key)} {problem}")

    def get(self, key: str) -> Any:
        if key not in self._obj:
            raise self.fail(key, "is missing")
        return self._obj[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a non-empty string, not {value!r}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"must be an integer, not {value!r}")
        return value

    def b64(self, key: str) -> bytes:
        text = self.text(key)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(key, "is not valid base64") from None

    def time(self, key: str) -> datetime:
        text = self.text(key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(key, f"is not an ISO 8601 time: {text!r}") from None
        if moment.tzinfo is None:
            raise self.fail(key, f"has no time zone: {text!r}")
        return moment.astimezone(UTC)

    def sub(self, key: str) -> _Fields:
        return _Fields(self.get(key), self._where, self._name(key))


def _parse_master_key(fields: _Fields, where: str) -> MasterKeyInfo:
    source = fields.text("source")
    key_id = fields.text("key_id")
    if source == "keyring":
        return MasterKeyInfo("keyring", key_id)
    if source == "scrypt":
        params = ScryptParams(
            salt=fields.b64("salt"),
            n=fields.integer("n"),
            r=fields.integer("r"),
            p=fields.integer("p"),
        )
        params.validate(where)
        return MasterKeyInfo("scrypt", key_id, params)
    raise fields.fail("source", f"must be 'keyring' or 'scrypt', not {source!r}")


def _parse_entry(fields: _Fields) -> Entry:
    venue_name = fields.text("venue")
    try:
        venue = Venue[venue_name]
    except KeyError:
        raise fields.fail("venue", f"names no venue: {venue_name!r}") from None
    label = fields.text("label")
    try:
        parse_label(label)
    except ValueError as exc:
        raise fields.fail("label", str(exc)) from None
    cipher = fields.text("cipher")
    if cipher != CIPHER:
        raise fields.fail("cipher", f"is {cipher!r}; this store only uses {CIPHER}")
    nonce = fields.b64("nonce")
    if len(nonce) != 12:
        raise fields.fail("nonce", f"is {len(nonce)} bytes, not 12")
    ciphertext = fields.b64("ciphertext")
    if len(ciphertext) < 16:
        raise fields.fail("ciphertext", "is shorter than its 16-byte tag")
    return Entry(
        venue=venue,
        label=label,
        created=fields.time("created"),
        rotated=fields.time("rotated"),
        key_id=fields.text("key_id"),
        fingerprint=fields.text("fingerprint"),
        nonce=nonce,
        ciphertext=ciphertext,
    )


def parse_document(data: bytes, where: str) -> StoreDocument:
    """Parse a store file's bytes.

    Raises:
        StoreCorruptError: not JSON, not a secrets store, another version, or a bad field; the
            message names ``where`` and the field (``entries[1].nonce``).
    """
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreCorruptError(f"{where}: not valid JSON ({exc})") from None
    top = _Fields(raw, where, "")
    if top.get("format") != FORMAT:
        raise top.fail("format", f"must be {FORMAT!r}: this is not a QuantKubera secrets store")
    version = top.integer("version")
    if version != STORE_VERSION:
        raise top.fail(
            "version", f"is {version}; this qk reads secrets store version {STORE_VERSION}"
        )
    entries_raw = top.get("entries")
    if not isinstance(entries_raw, list):
        raise top.fail("entries", "must be a list")
    entries = tuple(
        _parse_entry(_Fields(item, where, f"entries[{i}]")) for i, item in enumerate(entries_raw)
    )
    seen: set[tuple[Venue, str]] = set()
    for i, entry in enumerate(entries):
        if (entry.venue, entry.label) in seen:
            raise StoreCorruptError(
                f"{where}: entries[{i}] repeats {entry.venue.name}/{entry.label}"
            )
        seen.add((entry.venue, entry.label))
    return StoreDocument(
        created=top.time("created"),
        master_key=_parse_master_key(top.sub("master_key"), where),
        entries=entries,
    )


def _check_private(path: Path, st: os.stat_result) -> None:
    # Like ssh with its keys: an encrypted store readable by others invites offline guessing of
    # the passphrase, so a too-open file is refused rather than used.
    if st.st_mode & 0o077:
        raise InsecureStoreError(
            f"{path}: mode {stat.S_IMODE(st.st_mode):04o} lets other users read or write the "
            f"secrets store; run: chmod 600 {path}"
        )
    if st.st_uid != os.geteuid():
        raise InsecureStoreError(
            f"{path}: owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})"
        )
    parent = path.parent.stat()
    if parent.st_mode & 0o022 and not parent.st_mode & stat.S_ISVTX:
        raise InsecureStoreError(
            f"{path.parent}: other users can write this directory and so replace the secrets "
            f"store; run: chmod go-w {path.parent}"
        )


def read_document(path: Path) -> StoreDocument | None:
    """The store at ``path``, or None if there is no file.

    Raises:
        InsecureStoreError: the file or its directory is open to other users.
        StoreCorruptError: see :func:`parse_document`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            # A rename replaces the link, not its target, so a linked store would fork silently.
            raise InsecureStoreError(
                f"{path} is a symbolic link; point QK_SECRETS_PATH at the file itself"
            ) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        _check_private(path, os.fstat(handle.fileno()))
        data = handle.read()
    return parse_document(data, str(path))


def write_document(path: Path, document: StoreDocument) -> None:
    """Replace the store at ``path`` atomically: a 0600 temp file, fsync, rename, fsync the dir.

    A crash at any point leaves either the old file or the new one, never a mix.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(document.to_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` so that two writers never lose an update."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
