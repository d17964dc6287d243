"""Fixtures for the secrets tests: no test ever reaches the real OS keyring.

Every test starts with keyring's fail backend installed (what a headless host without a keyring
has) and with the store's environment variables removed; tests that need a keyring install
:class:`MemoryKeyring`, a backend that keeps passwords in a dict.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

PASSPHRASE = "correct horse battery staple"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend with a real priority, so the store trusts it."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


class ForgetfulKeyring(MemoryKeyring):
    """Claims a good priority but keeps nothing it is given."""

    def set_password(self, service: str, username: str, password: str) -> None:
        return None


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("QK_SECRETS_PASSPHRASE", "QK_SECRETS_PATH", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(fail.Keyring())


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """A fresh in-memory keyring installed as keyring's current backend."""
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """``QK_SECRETS_PASSPHRASE`` set to :data:`PASSPHRASE`."""
    monkeypatch.setenv("QK_SECRETS_PASSPHRASE", PASSPHRASE)
    return PASSPHRASE


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A store path in a directory that does not exist yet."""
    return tmp_path / "config" / "quantkubera" / "secrets.json"
