"""SecretStore: round trips, the file on disk, and every way opening it can fail."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from qk.schemas.enums import Venue
from qk.secrets import (
    DecryptError,
    EntryNotFoundError,
    InsecureStoreError,
    InvalidLabelError,
    SecretsError,
    SecretStore,
    StoreCorruptError,
    TamperedEntryError,
    UnknownVenueError,
)
from qk.secrets.masterkey import KEYRING_SERVICE, KEYRING_USERNAME, SCRYPT_MIN_N
from tests.secrets.conftest import PASSPHRASE, MemoryKeyring

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _doc(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(json.dumps(doc))
    path.chmod(0o600)


def test_set_then_get_with_keyring_returns_the_same_credentials(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("binance", KEY, SECRET)

    credentials = SecretStore(store_path).get(Venue.BINANCE)

    assert (credentials.api_key, credentials.api_secret) == (KEY, SECRET)
    assert credentials.venue is Venue.BINANCE and credentials.label == "default"
    assert _doc(store_path)["master_key"]["source"] == "keyring"
    assert (KEYRING_SERVICE, KEYRING_USERNAME) in memory_keyring.passwords


def test_set_then_get_with_passphrase_when_no_keyring_uses_scrypt(
    store_path: Path, passphrase_env: str
) -> None:
    SecretStore(store_path).set(Venue.BINANCE_USDM, KEY, SECRET, label="sub-1")

    credentials = SecretStore(store_path).get("BINANCE_USDM", "sub-1")

    assert (credentials.api_key, credentials.api_secret) == (KEY, SECRET)
    kdf = _doc(store_path)["master_key"]
    assert kdf["source"] == "scrypt"
    assert kdf["n"] >= SCRYPT_MIN_N and kdf["r"] >= 8 and kdf["p"] >= 1
    assert len(kdf["salt"]) >= 22  # 16 bytes of base64


def test_store_file_is_0600_in_a_0700_directory_and_holds_no_plaintext(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)

    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store_path.parent.stat().st_mode) == 0o700
    raw = store_path.read_bytes()
    assert KEY.encode() not in raw and SECRET.encode() not in raw
    assert KEY[:12].encode() not in raw


def test_no_temporary_files_are_left_after_writes(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE", KEY, SECRET)
    store.set("BINANCE", KEY, SECRET + "2")
    store.delete("BINANCE")

    assert sorted(p.name for p in store_path.parent.iterdir()) == [
        "secrets.json",
        "secrets.json.lock",
    ]


def test_failed_replace_keeps_the_previous_file_and_removes_the_temp_file(
    store_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE", KEY, SECRET)
    before = store_path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space left"):
        store.set("BINANCE", KEY, "other")

    assert store_path.read_bytes() == before
    assert not [p for p in store_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_rotation_keeps_created_moves_rotated_and_uses_a_new_nonce(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    times = iter([datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 3, 1, 9, 30, tzinfo=UTC)])
    store = SecretStore(store_path, clock=lambda: next(times))
    store.set("BINANCE", KEY, SECRET)
    first_nonce = _doc(store_path)["entries"][0]["nonce"]

    info = store.set("BINANCE", KEY, "rotated-secret")

    assert info.created == datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert info.rotated == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert _doc(store_path)["entries"][0]["nonce"] != first_nonce
    assert store.get("BINANCE").api_secret == "rotated-secret"


def test_same_credentials_written_twice_give_different_ciphertexts(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE", KEY, SECRET, label="a")
    store.set("BINANCE", KEY, SECRET, label="b")

    first, second = _doc(store_path)["entries"]

    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_wrong_passphrase_cannot_decrypt(
    store_path: Path, passphrase_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    monkeypatch.setenv("QK_SECRETS_PASSPHRASE", "not the passphrase")

    with pytest.raises(DecryptError, match="cannot decrypt: wrong passphrase or master key"):
        SecretStore(store_path).get("BINANCE")
    with pytest.raises(DecryptError, match="cannot decrypt"):
        SecretStore(store_path).set("BINANCE_USDM", KEY, SECRET)
    assert [i.venue for i in SecretStore(store_path).list()] == [Venue.BINANCE]


def test_a_different_keyring_key_cannot_decrypt(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    memory_keyring.passwords[(KEYRING_SERVICE, KEYRING_USERNAME)] = "A" * 43 + "="

    with pytest.raises(DecryptError, match="wrong passphrase or master key"):
        SecretStore(store_path).get("BINANCE")


def test_lost_keyring_key_says_how_to_recover(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    memory_keyring.passwords.clear()

    with pytest.raises(SecretsError, match=r"runbooks/secrets\.md"):
        SecretStore(store_path).get("BINANCE")
    assert memory_keyring.passwords == {}  # a new key is never made for an existing store


def test_keyring_store_on_a_host_without_keyring_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    keyring.set_keyring(fail.Keyring())

    with pytest.raises(SecretsError, match="no usable OS keyring backend"):
        SecretStore(store_path).get("BINANCE")


def test_flipped_ciphertext_byte_is_reported_as_tampering(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    import base64

    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    doc = _doc(store_path)
    blob = bytearray(base64.b64decode(doc["entries"][0]["ciphertext"]))
    blob[5] ^= 0x01
    doc["entries"][0]["ciphertext"] = base64.b64encode(bytes(blob)).decode()
    _write(store_path, doc)

    with pytest.raises(TamperedEntryError, match=r"BINANCE/default .*fails authentication"):
        SecretStore(store_path).get("BINANCE")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("venue", "BINANCE_USDM"),
        ("label", "other"),
        ("rotated", "2030-01-01T00:00:00Z"),
        ("fingerprint", "sha256:000000000000"),
    ],
)
def test_entry_with_edited_metadata_fails_to_decrypt(
    store_path: Path, memory_keyring: MemoryKeyring, field: str, value: str
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    doc = _doc(store_path)
    doc["entries"][0][field] = value
    _write(store_path, doc)
    venue = value if field == "venue" else "BINANCE"
    label = value if field == "label" else "default"

    with pytest.raises(TamperedEntryError, match="altered, or moved"):
        SecretStore(store_path).get(venue, label)


def test_record_copied_to_another_venue_fails_while_the_original_still_opens(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE", KEY, SECRET)
    doc = _doc(store_path)
    moved = dict(doc["entries"][0], venue="COINDCX")
    doc["entries"].append(moved)
    _write(store_path, doc)

    with pytest.raises(TamperedEntryError):
        SecretStore(store_path).get("COINDCX")
    assert SecretStore(store_path).get("BINANCE").api_key == KEY


def test_entry_claiming_another_master_key_id_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    doc = _doc(store_path)
    doc["entries"][0]["key_id"] = "mk-0000000000000000"
    _write(store_path, doc)

    with pytest.raises(TamperedEntryError, match="sealed with master key mk-0000000000000000"):
        SecretStore(store_path).get("BINANCE")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["entries"][0].pop("nonce"), r"field entries\[0\]\.nonce is missing"),
        (lambda d: d["entries"][0].update(nonce="%%%"), r"entries\[0\]\.nonce is not valid base64"),
        (lambda d: d["entries"][0].update(nonce="AAAA"), r"entries\[0\]\.nonce is 3 bytes"),
        (lambda d: d["entries"][0].update(venue="KRAKEN"), r"entries\[0\]\.venue names no venue"),
        (lambda d: d["entries"][0].update(cipher="DES"), r"entries\[0\]\.cipher is 'DES'"),
        (lambda d: d["entries"][0].update(created="yesterday"), r"entries\[0\]\.created is not"),
        (lambda d: d["entries"].append(dict(d["entries"][0])), r"entries\[1\] repeats BINANCE"),
        (lambda d: d.update(version=2), r"field version is 2; this qk reads"),
        (lambda d: d.update(format="other"), r"not a QuantKubera secrets store"),
        (lambda d: d.update(entries={}), r"field entries must be a list"),
        (lambda d: d["master_key"].update(source="hsm"), r"master_key\.source must be"),
        (lambda d: d["master_key"].update(n=1024), r"kdf\.n = 1024"),
        (lambda d: d["master_key"].update(salt="AAAA"), r"kdf\.salt is 3 bytes"),
    ],
)
def test_malformed_store_names_the_file_and_field(
    store_path: Path, passphrase_env: str, edit: Any, message: str
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    doc = _doc(store_path)
    edit(doc)
    _write(store_path, doc)

    with pytest.raises(StoreCorruptError, match=message) as caught:
        SecretStore(store_path).get("BINANCE")
    assert str(store_path) in str(caught.value)


def test_store_that_is_not_json_is_refused(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text("{not json")
    store_path.chmod(0o600)

    with pytest.raises(StoreCorruptError, match="not valid JSON"):
        SecretStore(store_path).list()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_store_readable_by_others_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring, mode: int
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    store_path.chmod(mode)

    with pytest.raises(InsecureStoreError, match=f"mode {mode:04o}.*chmod 600"):
        SecretStore(store_path).get("BINANCE")


def test_store_in_a_world_writable_directory_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    store_path.parent.chmod(0o777)
    try:
        with pytest.raises(InsecureStoreError, match="chmod go-w"):
            SecretStore(store_path).list()
    finally:
        store_path.parent.chmod(0o700)


def test_unknown_venue_lists_the_valid_ones(store_path: Path) -> None:
    with pytest.raises(UnknownVenueError, match="unknown venue 'KRAKEN'; use one of SIM, BINANCE"):
        SecretStore(store_path).set("KRAKEN", KEY, SECRET)
    assert not store_path.exists()


@pytest.mark.parametrize("label", ["", "-x", "has space", "a/b", "x" * 33])
def test_invalid_label_is_refused(store_path: Path, label: str) -> None:
    with pytest.raises(InvalidLabelError, match="invalid account label"):
        SecretStore(store_path).set("BINANCE", KEY, SECRET, label=label)


@pytest.mark.parametrize(("key", "secret"), [("", SECRET), (KEY, ""), (KEY, "\ud800")])
def test_empty_or_unencodable_key_or_secret_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring, key: str, secret: str
) -> None:
    with pytest.raises(ValueError, match="api_"):
        SecretStore(store_path).set("BINANCE", key, secret)
    assert not store_path.exists()


def test_missing_entry_and_missing_store_are_reported(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    with pytest.raises(EntryNotFoundError, match="no secrets store at"):
        SecretStore(store_path).get("BINANCE")
    SecretStore(store_path).set("BINANCE", KEY, SECRET)

    with pytest.raises(
        EntryNotFoundError, match=r"no credentials for BINANCE/spare.*qk secrets set"
    ):
        SecretStore(store_path).get("BINANCE", "spare")
    with pytest.raises(EntryNotFoundError, match="no credentials for COINDCX/default"):
        SecretStore(store_path).delete("COINDCX")


def test_list_shows_metadata_and_never_a_key_or_secret(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE_USDM", KEY, SECRET)
    store.set("BINANCE", "k2-" + KEY[3:], "s2-" + SECRET[3:], label="alt")

    listed = store.list()

    assert [(i.venue, i.label) for i in listed] == [
        (Venue.BINANCE, "alt"),
        (Venue.BINANCE_USDM, "default"),
    ]
    assert listed[1].fingerprint == SecretStore(store_path).get("BINANCE_USDM").fingerprint
    text = repr(listed)
    for value in (KEY, SECRET, KEY[3:15], SECRET[3:15]):
        assert value not in text


def test_list_and_delete_need_no_master_key(
    store_path: Path, passphrase_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    SecretStore(store_path).set("COINDCX", KEY, SECRET)
    monkeypatch.delenv("QK_SECRETS_PASSPHRASE")

    SecretStore(store_path).delete("COINDCX")

    assert [i.venue for i in SecretStore(store_path).list()] == [Venue.BINANCE]


def test_without_keyring_or_passphrase_the_store_cannot_be_created(store_path: Path) -> None:
    with pytest.raises(SecretsError, match=r"QK_SECRETS_PASSPHRASE.*LoadCredential"):
        SecretStore(store_path).set("BINANCE", KEY, SECRET)
    assert not store_path.exists()


def test_prompt_is_asked_twice_for_a_new_store_and_a_mismatch_writes_nothing(
    store_path: Path,
) -> None:
    answers = iter(["one", "two"])

    with pytest.raises(SecretsError, match="two passphrases differ"):
        SecretStore(store_path, prompt=lambda _: next(answers)).set("BINANCE", KEY, SECRET)
    assert not store_path.exists()

    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return PASSPHRASE

    SecretStore(store_path, prompt=prompt).set("BINANCE", KEY, SECRET)
    SecretStore(store_path, prompt=prompt).get("BINANCE")
    assert len(asked) == 3


def test_systemd_credential_supplies_the_passphrase(
    store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "qk-secrets-passphrase").write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    SecretStore(store_path).set("BINANCE", KEY, SECRET)

    assert SecretStore(store_path, passphrase=PASSPHRASE).get("BINANCE").api_secret == SECRET


def test_passphrase_can_be_forced_while_a_keyring_exists(
    store_path: Path, memory_keyring: MemoryKeyring, passphrase_env: str
) -> None:
    SecretStore(store_path, master_key="passphrase").set("BINANCE", KEY, SECRET)

    assert _doc(store_path)["master_key"]["source"] == "scrypt"
    assert memory_keyring.passwords == {}
    with pytest.raises(SecretsError, match="already uses a scrypt master key"):
        SecretStore(store_path, master_key="keyring").set("BINANCE", KEY, SECRET)


def test_two_writers_at_once_lose_no_entry(store_path: Path, memory_keyring: MemoryKeyring) -> None:
    SecretStore(store_path).set("SIM", KEY, SECRET)
    venues = ["BINANCE", "BINANCE_USDM", "NSE", "NFO", "COINDCX", "COINDCX_FUTURES"]
    errors: list[BaseException] = []

    def write(venue: str) -> None:
        try:
            SecretStore(store_path).set(venue, KEY, SECRET)
        except BaseException as exc:  # collected so the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(v,)) for v in venues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert {i.venue.name for i in SecretStore(store_path).list()} == {"SIM", *venues}


def test_store_path_comes_from_the_environment(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "elsewhere.json"
    monkeypatch.setenv("QK_SECRETS_PATH", str(target))

    SecretStore().set("BINANCE", KEY, SECRET)

    assert SecretStore().path == target and target.exists()


def test_ciphertext_length_does_not_follow_the_secret_length(
    store_path: Path, memory_keyring: MemoryKeyring
) -> None:
    store = SecretStore(store_path)
    store.set("BINANCE", KEY, "a", label="short")
    store.set("BINANCE", KEY, "abcdefgh", label="longer")

    lengths = {len(e["ciphertext"]) for e in _doc(store_path)["entries"]}

    assert len(lengths) == 1
    assert store.get("BINANCE", "short").api_secret == "a"


def test_symlinked_store_is_refused(
    store_path: Path, memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    SecretStore(store_path).set("BINANCE", KEY, SECRET)
    link = store_path.parent / "link.json"
    link.symlink_to(store_path)

    with pytest.raises(InsecureStoreError, match="is a symbolic link"):
        SecretStore(link).list()
