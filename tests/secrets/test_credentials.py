"""Credentials never show their secret; venue and label parsing; the gateway loader."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail
from keyring.backends import null as null_backend

from qk.schemas.enums import Venue
from qk.secrets import (
    Credentials,
    EntryNotFoundError,
    SecretStore,
    fingerprint,
    load_for_gateway,
    mask_key,
    scrub_environment,
)
from qk.secrets.masterkey import usable_keyring
from tests.secrets.conftest import PASSPHRASE, ForgetfulKeyring, MemoryKeyring

KEY = "abCDEFGHIJKLMNOPQRSTUVWXyz"
SECRET = "s3cr3t-VALUE-that-must-not-leak"


def test_repr_and_str_show_a_masked_key_and_never_the_secret() -> None:
    credentials = Credentials(venue=Venue.BINANCE, api_key=KEY, api_secret=SECRET)

    assert repr(credentials) == "Credentials(venue=BINANCE, label='default', key=ab…yz)"
    assert str(credentials) == repr(credentials)
    assert f"{credentials}" == repr(credentials)
    for shown in (repr(credentials), str(credentials), repr([credentials])):
        assert SECRET not in shown and KEY not in shown


def test_short_key_is_masked_completely() -> None:
    assert mask_key("abcdefghijk") == "…"
    assert mask_key("abcdefghijkl") == "ab…kl"


def test_fingerprint_is_sha256_prefix_of_the_key() -> None:
    import hashlib

    assert fingerprint(KEY) == "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()[:12]
    assert Credentials(Venue.SIM, KEY, SECRET).fingerprint == fingerprint(KEY)


def test_credentials_refuse_pickling_and_copying() -> None:
    credentials = Credentials(venue=Venue.BINANCE, api_key=KEY, api_secret=SECRET)

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(credentials)
    with pytest.raises(TypeError, match="cannot be pickled"):
        copy.deepcopy(credentials)


def test_credentials_are_frozen() -> None:
    credentials = Credentials(venue=Venue.BINANCE, api_key=KEY, api_secret=SECRET)

    with pytest.raises(AttributeError):
        credentials.api_secret = "x"  # type: ignore[misc]


def test_load_for_gateway_returns_credentials_and_drops_the_passphrase_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    path = tmp_path / "secrets.json"
    monkeypatch.setenv("QK_SECRETS_PASSPHRASE", PASSPHRASE)
    SecretStore(path).set("BINANCE", KEY, SECRET, label="main")

    credentials = load_for_gateway("binance", "main", path=path)

    assert credentials == Credentials(Venue.BINANCE, KEY, SECRET, label="main")
    assert "QK_SECRETS_PASSPHRASE" not in os.environ


def test_load_for_gateway_never_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.json"
    SecretStore(path, passphrase=PASSPHRASE).set("BINANCE", KEY, SECRET)

    with pytest.raises(Exception, match="needs a passphrase"):
        load_for_gateway(Venue.BINANCE, path=path)
    with pytest.raises(EntryNotFoundError):
        load_for_gateway(Venue.BINANCE, "other", path=path, passphrase=PASSPHRASE)


def test_scrub_environment_removes_only_the_passphrase() -> None:
    env = {"PATH": "/usr/bin", "QK_SECRETS_PASSPHRASE": "x", "QK_SECRETS_PATH": "/p"}

    assert scrub_environment(env) == {"PATH": "/usr/bin", "QK_SECRETS_PATH": "/p"}


def test_fail_and_null_backends_are_not_usable() -> None:
    keyring.set_keyring(fail.Keyring())
    assert usable_keyring() is None
    keyring.set_keyring(null_backend.Keyring())
    assert usable_keyring() is None


def test_chainer_is_usable_only_with_a_backend_behind_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring.backend as backend_module

    behind: list[KeyringBackend] = []
    monkeypatch.setattr(backend_module, "get_all_keyring", lambda: behind)
    keyring.set_keyring(chainer.ChainerBackend())
    assert usable_keyring() is None

    behind.append(MemoryKeyring())
    assert usable_keyring() is not None


def test_memory_backend_is_usable_and_a_forgetful_one_is_caught(tmp_path: Path) -> None:
    keyring.set_keyring(MemoryKeyring())
    assert usable_keyring() is not None

    keyring.set_keyring(ForgetfulKeyring())
    with pytest.raises(Exception, match="did not keep the master key"):
        SecretStore(tmp_path / "s.json", master_key="keyring").set("BINANCE", KEY, SECRET)
    assert not (tmp_path / "s.json").exists()


def test_keyring_requested_without_a_usable_backend_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"no usable OS keyring backend .*fail\.Keyring"):
        SecretStore(tmp_path / "s.json", master_key="keyring").set("BINANCE", KEY, SECRET)


@pytest.mark.parametrize("name", ["binance", "BINANCE", " Binance_USDM "])
def test_venue_names_are_case_insensitive(tmp_path: Path, name: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    info = SecretStore(tmp_path / "s.json").set(name, KEY, SECRET)

    assert info.venue.name == name.strip().upper()
