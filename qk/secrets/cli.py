"""``qk secrets``: store, list and delete venue API credentials.

    qk secrets set VENUE [--label L] [--master-key auto|keyring|passphrase] [--path FILE]
    qk secrets list [--path FILE] [--json]
    qk secrets delete VENUE [--label L] [--path FILE]

``set`` reads the API key and secret from hidden prompts on a terminal, or as two lines on
standard input otherwise (``printf '%s\\n%s\\n' "$KEY" "$SECRET" | qk secrets set BINANCE``).
There is no flag that takes a key or a secret: a command line ends up in shell history and in
``ps``. Nothing here prints a secret.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from qk.secrets.credentials import DEFAULT_LABEL, parse_venue
from qk.secrets.errors import MasterKeyUnavailableError
from qk.secrets.fileformat import format_time
from qk.secrets.store import SecretInfo, SecretStore

__all__ = ["read_credentials", "register", "tty_prompt"]


def tty_prompt(text: str) -> str:
    """Ask on the controlling terminal without echo (``getpass``).

    Raises:
        MasterKeyUnavailableError: the process has no terminal, so nobody can answer.
    """
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        raise MasterKeyUnavailableError(
            "no terminal to ask for the passphrase on; set QK_SECRETS_PASSPHRASE or run on a "
            "terminal"
        ) from None
    return getpass.getpass(text)


def read_credentials() -> tuple[str, str]:
    """The API key and secret: hidden prompts on a terminal, else the first two stdin lines.

    Surrounding whitespace is dropped (a pasted key often brings a newline or a space).

    Raises:
        ValueError: fewer than two lines, or an empty key or secret; the message says which.
    """
    if sys.stdin.isatty():
        values = [getpass.getpass("API key: "), getpass.getpass("API secret: ")]
        where = "prompt"
    else:
        values = [sys.stdin.readline() for _ in range(2)]
        where = "stdin"
        if values[1] == "":
            got = 1 if values[0] else 0
            raise ValueError(f"stdin: expected 2 lines (API key, then API secret), got {got}")
    names = ("API key", "API secret")
    cleaned = [value.strip() for value in values]
    for index, (name, value) in enumerate(zip(names, cleaned, strict=True), start=1):
        if not value:
            place = f"line {index}" if where == "stdin" else "the prompt"
            raise ValueError(f"{where}: {place} ({name}) is empty")
    return cleaned[0], cleaned[1]


def _cmd_set(args: argparse.Namespace) -> int:
    store = SecretStore(args.path, prompt=tty_prompt, master_key=args.master_key)
    api_key, api_secret = read_credentials()
    info = store.set(args.venue, api_key, api_secret, label=args.label)
    master = store.master_key_info()
    source = master.source if master is not None else "?"
    verb = "rotated" if info.rotated != info.created else "stored"
    print(
        f"{verb} {info.venue.name}/{info.label}: key {info.fingerprint}, master key "
        f"{info.key_id} ({source}), store {store.path}"
    )
    return 0


def _row(info: SecretInfo) -> dict[str, str]:
    return {
        "venue": info.venue.name,
        "label": info.label,
        "created": format_time(info.created),
        "rotated": format_time(info.rotated),
        "fingerprint": info.fingerprint,
        "key_id": info.key_id,
    }


def _cmd_list(args: argparse.Namespace) -> int:
    store = SecretStore(args.path)
    rows = [_row(info) for info in store.list()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no credentials in {store.path}")
        return 0
    header = ("venue", "label", "created", "rotated", "fingerprint", "master key")
    table = [header] + [tuple(row.values()) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    store = SecretStore(args.path)
    venue = parse_venue(args.venue)
    store.delete(venue, args.label)
    print(f"deleted {venue.name}/{args.label} from {store.path}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``secrets set|list|delete`` to the ``qk`` subcommands."""
    secrets = sub.add_parser("secrets", help="venue API keys, encrypted at rest")
    actions = secrets.add_subparsers(dest="secrets_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--path",
            default=None,
            help="store file (default $QK_SECRETS_PATH or ~/.config/quantkubera/secrets.json)",
        )

    set_ = actions.add_parser(
        "set",
        help="store or rotate a venue's API key and secret (read from a prompt or stdin)",
        description="Reads the API key and secret from hidden prompts, or as two lines on "
        "stdin when stdin is not a terminal. They are never taken from the command line.",
    )
    set_.add_argument("venue", help="venue name, e.g. BINANCE or BINANCE_USDM")
    set_.add_argument("--label", default=DEFAULT_LABEL, help="account label (default: default)")
    set_.add_argument(
        "--master-key",
        choices=("auto", "keyring", "passphrase"),
        default="auto",
        help="for a new store: the OS keyring, a scrypt passphrase, or auto (keyring when usable)",
    )
    common(set_)
    set_.set_defaults(func=_cmd_set)

    list_ = actions.add_parser(
        "list", help="venues, labels, dates and key fingerprints; no secrets"
    )
    list_.add_argument("--json", action="store_true", help="print JSON")
    common(list_)
    list_.set_defaults(func=_cmd_list)

    delete = actions.add_parser("delete", help="remove a venue's credentials")
    delete.add_argument("venue", help="venue name")
    delete.add_argument("--label", default=DEFAULT_LABEL, help="account label (default: default)")
    common(delete)
    delete.set_defaults(func=_cmd_delete)
