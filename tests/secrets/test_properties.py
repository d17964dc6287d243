"""Property tests: any key and secret round-trip; any damage to the file is caught."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keyring
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.secrets import SecretsError, SecretStore, mask_key
from tests.secrets.conftest import MemoryKeyring

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

_TEXT = st.text(min_size=1, max_size=200)
_LABEL = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(api_key=_TEXT, api_secret=_TEXT, label=_LABEL)
def test_any_key_and_secret_round_trip(api_key: str, api_secret: str, label: str) -> None:
    keyring.set_keyring(MemoryKeyring())
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "secrets.json"
        SecretStore(path).set("BINANCE", api_key, api_secret, label=label)

        credentials = SecretStore(path).get("BINANCE", label)
        raw = path.read_bytes()
        # The same store holding another secret: text that appears there too ("master_key",
        # a date) is the file's structure, and proves nothing either way.
        other = Path(directory) / "other.json"
        SecretStore(other).set("BINANCE", api_key, SECRET, label=label)
        structure = other.read_bytes()

    assert (credentials.api_key, credentials.api_secret) == (api_key, api_secret)
    assert repr(credentials) == (
        f"Credentials(venue=BINANCE, label={label!r}, key={mask_key(api_key)})"
    )
    if len(api_secret) >= 8 and api_secret.encode() not in structure:
        assert api_secret.encode() not in raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_flipped_byte_is_caught_or_harmless(data: st.DataObject) -> None:
    keyring.set_keyring(MemoryKeyring())
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "secrets.json"
        SecretStore(path).set("BINANCE", KEY, SECRET)
        raw = bytearray(path.read_bytes())
        position = data.draw(st.integers(0, len(raw) - 1), label="position")
        raw[position] ^= data.draw(st.integers(1, 255), label="xor")
        path.write_bytes(bytes(raw))

        try:
            credentials = SecretStore(path).get("BINANCE")
        except SecretsError:
            return
    # Only bytes outside what is authenticated (the store's own creation time, whitespace
    # that stays whitespace) may change without an error, and then nothing else changed.
    assert (credentials.api_key, credentials.api_secret) == (KEY, SECRET)
