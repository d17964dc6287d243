"""Instrument files: load and save instrument lists as TOML or CSV.

TOML (``configs/instruments.toml``) is an array of tables, one per instrument::

    [[instrument]]
    id = 1
    venue = "BINANCE"
    symbol = "BTCUSDT"
    asset_class = "CRYPTO"
    kind = "SPOT"
    tick_size = "0.01"        # decimals as strings: exact
    lot_size = "0.00001"
    currency = "USDT"

CSV has one row per instrument with the same column names. Enum fields take member names
(``NSE``, ``OPTION``, ``CALL``); ``expiry`` takes an ISO 8601 date-time with a UTC offset (or a
TOML offset date-time, or integer nanoseconds); ``price_precision``/``size_precision`` default to
the decimals of ``tick_size``/``lot_size``. Ids are explicit so they stay stable when the file is
edited: recorded data refers to instruments by id.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from pathlib import Path
from typing import Any

from qk.instruments.errors import InstrumentDefinitionError, InstrumentFileError
from qk.instruments.instrument import Instrument, instruments_to_array
from qk.schemas import fixed
from qk.schemas.enums import AssetClass, InstrumentKind, OptionType, Venue

__all__ = ["COLUMNS", "dump_toml", "load_instruments", "parse_instruments", "save_instruments"]

COLUMNS = (
    "id",
    "venue",
    "symbol",
    "asset_class",
    "kind",
    "tick_size",
    "lot_size",
    "price_precision",
    "size_precision",
    "currency",
    "min_quantity",
    "max_quantity",
    "min_notional",
    "multiplier",
    "expiry",
    "strike",
    "option_type",
    "underlying",
    "base_currency",
    "venue_token",
)
"""Keys of an instrument entry, in file order."""

_REQUIRED = ("id", "venue", "symbol", "asset_class", "kind", "tick_size", "lot_size", "currency")
_ENUMS: dict[str, type[IntEnum]] = {
    "venue": Venue,
    "asset_class": AssetClass,
    "kind": InstrumentKind,
    "option_type": OptionType,
}
_DECIMALS = (
    "tick_size",
    "lot_size",
    "min_quantity",
    "max_quantity",
    "min_notional",
    "multiplier",
    "strike",
)
_INTS = ("id", "price_precision", "size_precision", "venue_token")
_TEXTS = ("symbol", "currency", "underlying", "base_currency")
_NS_PER_SECOND = 1_000_000_000


def load_instruments(path: str | Path) -> list[Instrument]:
    """Load instruments from a ``.toml`` or ``.csv`` file.

    Raises:
        InstrumentFileError: Unreadable or malformed file, with the file, the entry and the
            field at fault in the message.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstrumentFileError(f"{path}: cannot read instrument file: {exc}") from None
    return parse_instruments(text, path.suffix.lower().lstrip("."), source=str(path))


def parse_instruments(text: str, file_format: str, *, source: str = "<string>") -> list[Instrument]:
    """Parse instruments from TOML or CSV text.

    Args:
        text: File contents.
        file_format: ``"toml"`` or ``"csv"``.
        source: Name for error messages.

    Raises:
        InstrumentFileError: Malformed text or an invalid instrument.
    """
    if file_format == "toml":
        entries = _toml_entries(text, source)
    elif file_format == "csv":
        entries = _csv_entries(text, source)
    else:
        raise InstrumentFileError(
            f"{source}: unknown instrument file format {file_format!r} (use .toml or .csv)"
        )
    instruments = [_instrument(entry, index, source) for index, entry in enumerate(entries, 1)]
    try:
        instruments_to_array(instruments)  # dense ids, unique (venue, symbol)
    except InstrumentDefinitionError as exc:
        raise InstrumentFileError(f"{source}: {exc}") from None
    return instruments


def _toml_entries(text: str, source: str) -> list[Mapping[str, Any]]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstrumentFileError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(document) - {"instrument"}
    if unknown:
        raise InstrumentFileError(
            f"{source}: unknown top-level key(s) {sorted(unknown)}; expected [[instrument]] tables"
        )
    entries = document.get("instrument", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InstrumentFileError(f"{source}: 'instrument' must be an array of tables")
    return entries


def _csv_entries(text: str, source: str) -> list[Mapping[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InstrumentFileError(f"{source}: empty CSV file (no header row)")
    entries: list[Mapping[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise InstrumentFileError(f"{source}: line {line} has more cells than the header")
        entries.append({k: v for k, v in row.items() if v not in ("", None)})
    return entries


def _instrument(entry: Mapping[str, Any], index: int, source: str) -> Instrument:
    label = f"{source}: instrument #{index}"
    if "symbol" in entry:
        label += f" ({entry['symbol']})"
    unknown = set(entry) - set(COLUMNS)
    if unknown:
        raise InstrumentFileError(f"{label}: unknown key(s) {sorted(unknown)}")
    missing = [key for key in _REQUIRED if key not in entry]
    if missing:
        raise InstrumentFileError(f"{label}: missing required key(s) {missing}")
    values: dict[str, Any] = {}
    for key, raw in entry.items():
        try:
            values[key] = _convert(key, raw)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InstrumentFileError(f"{label}: {key}: {exc}") from None
    values["instrument_id"] = values.pop("id")
    values.setdefault("price_precision", fixed.decimals_of(values["tick_size"]))
    values.setdefault("size_precision", fixed.decimals_of(values["lot_size"]))
    try:
        return Instrument(**values)
    except InstrumentDefinitionError as exc:
        raise InstrumentFileError(f"{label}: {exc}") from None


def _convert(key: str, raw: Any) -> Any:
    if key in _ENUMS:
        enum = _ENUMS[key]
        if not isinstance(raw, str) or raw.upper() not in enum.__members__:
            names = ", ".join(enum.__members__)
            raise ValueError(f"{raw!r} is not one of {names}")
        return enum[raw.upper()]
    if key in _DECIMALS:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise TypeError(f"{raw!r} is not a number")
        try:
            value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a decimal number") from None
        if not value.is_finite():
            raise ValueError(f"{raw!r} is not a finite number")
        return value
    if key in _INTS:
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise TypeError(f"{raw!r} is not an integer")
        return int(raw)
    if key == "expiry":
        return _expiry_ns(raw)
    if key in _TEXTS:
        if not isinstance(raw, str):
            raise TypeError(f"{raw!r} is not a string")
        return raw
    raise ValueError(f"unhandled key {key!r}")  # pragma: no cover - COLUMNS covers every key


def _expiry_ns(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError(f"{raw!r} is not a date-time")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        try:
            raw = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    if not isinstance(raw, datetime):
        raise TypeError(f"{raw!r} is not a date-time")
    if raw.tzinfo is None:
        raise ValueError(f"{raw.isoformat()} has no UTC offset; write e.g. +05:30 or Z")
    delta = raw - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros * 1_000


def _expiry_text(expiry_ns: int) -> str | int:
    if expiry_ns % 1_000:
        return expiry_ns
    seconds, nanos = divmod(expiry_ns, _NS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1_000)
    return moment.isoformat().replace("+00:00", "Z")


def _row(instrument: Instrument) -> dict[str, str | int]:
    row: dict[str, str | int] = {
        "id": instrument.instrument_id,
        "venue": instrument.venue.name,
        "symbol": instrument.symbol,
        "asset_class": instrument.asset_class.name,
        "kind": instrument.kind.name,
        "tick_size": str(instrument.tick_size),
        "lot_size": str(instrument.lot_size),
        "price_precision": instrument.price_precision,
        "size_precision": instrument.size_precision,
        "currency": instrument.currency,
    }
    optional: dict[str, str | int] = {
        "min_quantity": str(instrument.min_quantity) if instrument.min_quantity else "",
        "max_quantity": str(instrument.max_quantity) if instrument.max_quantity else "",
        "min_notional": str(instrument.min_notional) if instrument.min_notional else "",
        "multiplier": str(instrument.multiplier) if instrument.multiplier != 1 else "",
        "expiry": _expiry_text(instrument.expiry) if instrument.expiry else "",
        "strike": str(instrument.strike) if instrument.strike else "",
        "option_type": instrument.option_type.name if instrument.option_type else "",
        "underlying": instrument.underlying,
        "base_currency": instrument.base_currency,
        "venue_token": instrument.venue_token or "",
    }
    row.update({key: value for key, value in optional.items() if value != ""})
    return row


def _toml_value(key: str, value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    if key == "expiry":
        return value  # a TOML offset date-time literal, unquoted
    return json.dumps(value)  # a JSON string of ASCII text is a valid TOML basic string


def dump_toml(instruments: Iterable[Instrument]) -> str:
    """Render instruments as the TOML instrument file format."""
    blocks = []
    for instrument in sorted(instruments, key=lambda i: i.instrument_id):
        lines = ["[[instrument]]"]
        lines += [f"{key} = {_toml_value(key, value)}" for key, value in _row(instrument).items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def save_instruments(path: str | Path, instruments: Iterable[Instrument]) -> None:
    """Write instruments to a ``.toml`` or ``.csv`` file (loadable by :func:`load_instruments`).

    Raises:
        InstrumentFileError: The suffix is neither ``.toml`` nor ``.csv``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    items = sorted(instruments, key=lambda i: i.instrument_id)
    if suffix == ".toml":
        path.write_text(dump_toml(items), encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for instrument in items:
                writer.writerow(_row(instrument))
    else:
        raise InstrumentFileError(f"{path}: unknown instrument file format (use .toml or .csv)")
