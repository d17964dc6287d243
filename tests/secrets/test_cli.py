"""``qk secrets set|list|delete``: stdin input, output without secrets, errors."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from qk.secrets import SecretStore, UnknownVenueError
from qk.secrets.cli import register
from tests.secrets.conftest import PASSPHRASE

KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="qk")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def path(tmp_path: Path, passphrase_env: str) -> Path:
    return tmp_path / "secrets.json"


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_set_reads_key_and_secret_from_stdin_and_prints_no_secret(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, f"  {KEY}\n{SECRET}\r\n")

    assert _run(["secrets", "set", "binance", "--label", "main", "--path", str(path)]) == 0

    out = capsys.readouterr().out
    assert out.startswith("stored BINANCE/main: key sha256:")
    assert "(scrypt)" in out
    assert KEY not in out and SECRET not in out
    stored = SecretStore(path, passphrase=PASSPHRASE).get("BINANCE", "main")
    assert (stored.api_key, stored.api_secret) == (KEY, SECRET)


def test_set_twice_reports_a_rotation(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime, timedelta

    import qk.secrets.store as store_module

    _stdin(monkeypatch, f"{KEY}\n{SECRET}\n")
    _run(["secrets", "set", "BINANCE", "--path", str(path)])
    later = datetime.now(UTC) + timedelta(days=1)
    real = store_module.SecretStore.__init__

    def at_later(self: SecretStore, *a: object, **k: object) -> None:
        real(self, *a, clock=lambda: later, **k)

    monkeypatch.setattr(store_module.SecretStore, "__init__", at_later)
    _stdin(monkeypatch, f"{KEY}\nnew-secret\n")
    _run(["secrets", "set", "BINANCE", "--path", str(path)])

    assert capsys.readouterr().out.splitlines()[-1].startswith("rotated BINANCE/default")


def test_list_prints_a_table_and_json_without_secrets(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for venue in ("BINANCE_USDM", "BINANCE"):
        _stdin(monkeypatch, f"{KEY}\n{SECRET}\n")
        _run(["secrets", "set", venue, "--path", str(path)])
    capsys.readouterr()

    assert _run(["secrets", "list", "--path", str(path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "venue",
        "label",
        "created",
        "rotated",
        "fingerprint",
        "master",
        "key",
    ]
    assert [line.split()[0] for line in table[1:]] == ["BINANCE", "BINANCE_USDM"]

    _run(["secrets", "list", "--json", "--path", str(path)])
    rows = json.loads(capsys.readouterr().out)
    assert {row["venue"] for row in rows} == {"BINANCE", "BINANCE_USDM"}
    assert set(rows[0]) == {"venue", "label", "created", "rotated", "fingerprint", "key_id"}
    dumped = json.dumps(rows) + "\n".join(table)
    assert KEY not in dumped and SECRET not in dumped and KEY[:10] not in dumped


def test_list_of_an_absent_store_says_so(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["secrets", "list", "--path", str(path)]) == 0

    assert capsys.readouterr().out.strip() == f"no credentials in {path}"


def test_delete_removes_the_entry(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, f"{KEY}\n{SECRET}\n")
    _run(["secrets", "set", "COINDCX", "--path", str(path)])

    assert _run(["secrets", "delete", "coindcx", "--path", str(path)]) == 0

    assert capsys.readouterr().out.splitlines()[-1] == f"deleted COINDCX/default from {path}"
    assert SecretStore(path).list() == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 2 lines .* got 0"),
        (f"{KEY}\n", "expected 2 lines .* got 1"),
        (f"{KEY}\n   \n", r"line 2 \(API secret\) is empty"),
        (f"\n{SECRET}\n", r"line 1 \(API key\) is empty"),
    ],
)
def test_set_with_bad_stdin_names_the_line(
    path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    _stdin(monkeypatch, text)

    with pytest.raises(ValueError, match=message):
        _run(["secrets", "set", "BINANCE", "--path", str(path)])
    assert not path.exists()


def test_there_is_no_way_to_pass_a_secret_on_the_command_line(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in ("--secret", "--api-secret", "--api-key", "--key"):
        with pytest.raises(SystemExit):
            _run(["secrets", "set", "BINANCE", flag, "x", "--path", str(path)])
    capsys.readouterr()


def test_unknown_venue_is_an_error(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, f"{KEY}\n{SECRET}\n")

    with pytest.raises(UnknownVenueError, match="KRAKEN"):
        _run(["secrets", "set", "KRAKEN", "--path", str(path)])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_set_on_a_terminal_uses_hidden_prompts(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str] = []
    answers = {"API key: ": f"{KEY} ", "API secret: ": SECRET}

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return answers[prompt]

    monkeypatch.setattr("sys.stdin", _Terminal(""))
    monkeypatch.setattr("getpass.getpass", fake_getpass)

    _run(["secrets", "set", "BINANCE", "--path", str(path)])

    assert asked == ["API key: ", "API secret: "]
    assert SecretStore(path).get("BINANCE").api_key == KEY
    assert KEY not in capsys.readouterr().out


def test_passphrase_prompt_without_a_terminal_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from qk.secrets import MasterKeyUnavailableError
    from qk.secrets.cli import tty_prompt

    def no_tty(*_: object) -> int:
        raise OSError(6, "No such device or address")

    monkeypatch.setattr(os, "open", no_tty)

    with pytest.raises(MasterKeyUnavailableError, match="no terminal"):
        tty_prompt("secrets store passphrase: ")
