"""Binance market streams: stream names, the combined-stream wrapper, and the messages
:mod:`qk.venues.binance.parse` does not cover (bookTicker → QuoteEvent, depthUpdate → DepthEvent).

Wire formats (``../shared/VENUES.md`` §3.7 and §4, fixtures under ``tests/fixtures/binance``):

* stream names are ``<symbol lowercase>@<kind>``: ``btcusdt@trade``, ``btcusdt@aggTrade``,
  ``btcusdt@bookTicker``, ``btcusdt@depth``, ``btcusdt@depth@100ms``;
* a combined stream wraps every event as ``{"stream":"<name>","data":{...}}``;
* spot ``bookTicker`` is ``{u,s,b,B,a,A}`` with no ``e``/``E``; USD-M futures add ``e``, ``E``
  and ``T`` (transaction time).

A QuoteEvent's ``ts_event`` is ``T`` when the message has it, else ``E``, else the caller's
estimate of venue time (the local receive time moved by the measured server offset,
:mod:`qk.venues.binance.clock`), because spot bookTicker carries no time at all.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from qk.books._book import parse_decimal
from qk.books.records import diff_depth_records
from qk.books.updates import DepthDiff
from qk.schemas.fixed import FixedPointError
from qk.schemas.records import new_records
from qk.venues.binance.parse import (
    FieldTypeError,
    MalformedMessageError,
    Message,
    MissingFieldError,
    SymbolTable,
    UnknownSymbolError,
    parse_depth_update,
)

__all__ = [
    "StreamKind",
    "StreamNameError",
    "StreamRef",
    "parse_book_ticker",
    "parse_depth_records",
    "split_stream_name",
    "stream_name",
    "unwrap_combined",
    "write_book_ticker",
]

_MS_TO_NS = 1_000_000
_MAX_MS = (2**63 - 1) // _MS_TO_NS
_U64_MAX = 2**64 - 1


class StreamNameError(ValueError):
    """A stream name is not ``<symbol>@<kind>`` with a kind this feed handles."""


class StreamKind(enum.Enum):
    """The market streams the feed and the mock speak; the value is the name's suffix."""

    TRADE = "trade"
    AGG_TRADE = "aggTrade"
    BOOK_TICKER = "bookTicker"
    DEPTH = "depth"
    """Diff depth, pushed every 1000 ms."""
    DEPTH_100MS = "depth@100ms"
    """Diff depth, pushed every 100 ms."""

    @property
    def is_trade(self) -> bool:
        """True for trade and aggTrade."""
        return self is StreamKind.TRADE or self is StreamKind.AGG_TRADE

    @property
    def is_depth(self) -> bool:
        """True for both diff-depth speeds."""
        return self is StreamKind.DEPTH or self is StreamKind.DEPTH_100MS


_KINDS = {kind.value: kind for kind in StreamKind}


@dataclass(frozen=True, slots=True)
class StreamRef:
    """A parsed stream name.

    Attributes:
        symbol: The venue symbol in upper case, as the ``s`` field spells it (``BTCUSDT``).
        kind: Which stream.
    """

    symbol: str
    kind: StreamKind

    @property
    def name(self) -> str:
        """The stream name as the venue spells it (``btcusdt@depth@100ms``)."""
        return stream_name(self.symbol, self.kind)


def stream_name(symbol: str, kind: StreamKind) -> str:
    """``<symbol lowercase>@<kind>``: stream names always use the lowercase symbol."""
    return f"{symbol.lower()}@{kind.value}"


def split_stream_name(name: str) -> StreamRef:
    """Parse ``btcusdt@trade`` into its symbol (upper case) and kind.

    Raises:
        StreamNameError: No ``@``, an empty or non-lowercase symbol, or an unknown kind.
    """
    symbol, sep, suffix = name.partition("@")
    if not sep or not symbol:
        raise StreamNameError(f"stream name {name!r} is not '<symbol>@<kind>'")
    if symbol != symbol.lower() or not symbol.isalnum():
        raise StreamNameError(f"stream name {name!r}: the symbol must be lowercase alphanumeric")
    kind = _KINDS.get(suffix)
    if kind is None:
        known = ", ".join(sorted(_KINDS))
        raise StreamNameError(
            f"stream name {name!r}: unknown stream kind {suffix!r}; known: {known}"
        )
    return StreamRef(symbol.upper(), kind)


def unwrap_combined(value: Any, where: str = "message") -> tuple[str | None, Mapping[str, Any]]:
    """Split a decoded message into ``(stream name or None, payload)``.

    Raises:
        MalformedMessageError: Not an object, or a wrapper whose ``stream``/``data`` have the
            wrong types.
    """
    if not isinstance(value, Mapping):
        raise MalformedMessageError(f"{where}: expected a JSON object, got {type(value).__name__}")
    if "stream" in value and "data" in value:
        stream = value["stream"]
        data = value["data"]
        if not isinstance(stream, str):
            raise MalformedMessageError(f"{where}: combined-stream 'stream' is not a string")
        if not isinstance(data, Mapping):
            raise MalformedMessageError(
                f"{where}: combined-stream 'data' is {type(data).__name__}, not an object"
            )
        return stream, data
    return None, value


def _load(message: Message, where: str) -> Mapping[str, Any]:
    if isinstance(message, Mapping):
        return unwrap_combined(message, where)[1]
    try:
        value = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessageError(f"{where}: not valid JSON ({exc})") from None
    except TypeError:
        raise MalformedMessageError(
            f"{where}: expected bytes or str, got {type(message).__name__}"
        ) from None
    return unwrap_combined(value, where)[1]


def _field(data: Mapping[str, Any], key: str, where: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise MissingFieldError(f"{where}: missing field {key!r}") from None


def _int_field(data: Mapping[str, Any], key: str, where: str, maximum: int) -> int:
    value = _field(data, key, where)
    # bool is an int in Python but not in JSON.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise FieldTypeError(
            f"{where}: field {key!r} must be an integer in [0, {maximum}], got {value!r}"
        )
    return value


def _decimal_field(data: Mapping[str, Any], key: str, precision: int, where: str) -> int:
    text = _field(data, key, where)
    if not isinstance(text, str):
        raise FieldTypeError(f"{where}: field {key!r} must be a decimal string, got {text!r}")
    try:
        value = int(parse_decimal(text, precision))
    except FixedPointError as exc:
        raise FieldTypeError(f"{where}: field {key!r}: {exc}") from None
    if value < 0:
        raise FieldTypeError(f"{where}: field {key!r} = {text!r} is negative")
    return value


def write_book_ticker(
    data: Mapping[str, Any],
    symbols: SymbolTable,
    out: npt.NDArray[np.void],
    index: int,
    *,
    ts_recv: int,
    ts_fallback: int,
) -> None:
    """Fill QuoteEvent ``out[index]`` from a decoded (unwrapped) bookTicker payload.

    Args:
        data: The payload (``{u,s,b,B,a,A}``, futures also ``e,E,T``).
        symbols: The venue's symbol table.
        out: A QuoteEvent record array.
        index: The record to fill.
        ts_recv: Local receive time, ns.
        ts_fallback: Venue time to use when the message carries none (spot), ns.

    Raises:
        BinanceMessageError: A missing or mistyped field, or an unknown symbol.
    """
    where = "bookTicker"
    if "e" in data and data["e"] != "bookTicker":
        raise FieldTypeError(f"{where}: event type {data['e']!r} is not 'bookTicker'")
    symbol = _field(data, "s", where)
    if not isinstance(symbol, str):
        raise FieldTypeError(f"{where}: field 's' must be a string, got {symbol!r}")
    if symbol not in symbols:
        raise UnknownSymbolError(f"{where}: unknown symbol {symbol!r}")
    info = symbols[symbol]
    update_id = _int_field(data, "u", where, _U64_MAX)
    ts_event = ts_fallback
    for key in ("T", "E"):
        if key in data:
            ts_event = _int_field(data, key, where, _MAX_MS) * _MS_TO_NS
            break
    row = out[index : index + 1]
    row["ts_event"] = ts_event
    row["ts_recv"] = ts_recv
    row["instrument_id"] = info.instrument_id
    row["bid_price"] = _decimal_field(data, "b", info.price_precision, where)
    row["bid_size"] = _decimal_field(data, "B", info.size_precision, where)
    row["ask_price"] = _decimal_field(data, "a", info.price_precision, where)
    row["ask_size"] = _decimal_field(data, "A", info.size_precision, where)
    row["venue_update_id"] = update_id


def parse_book_ticker(
    message: Message,
    symbols: SymbolTable,
    ts_recv: int,
    *,
    ts_fallback: int = 0,
    source: int = 0,
) -> npt.NDArray[np.void]:
    """Decode one bookTicker message (raw or combined-stream wrapped) into a QuoteEvent.

    Args:
        message: Raw JSON or an already decoded object.
        symbols: The venue's symbol table.
        ts_recv: Local receive time, ns.
        ts_fallback: Venue time for a message without ``T``/``E`` (spot), ns.
        source: Producing component id for the header.

    Returns:
        A one-record QuoteEvent array.

    Raises:
        BinanceMessageError: The message is malformed; the subclass and text say which field.
    """
    data = _load(message, "bookTicker")
    out = new_records("QuoteEvent", 1, source=source)
    write_book_ticker(data, symbols, out, 0, ts_recv=ts_recv, ts_fallback=ts_fallback)
    return out


def parse_depth_records(
    message: Message, symbols: SymbolTable, ts_recv: int, *, source: int = 0
) -> tuple[int, DepthDiff, npt.NDArray[np.void]]:
    """Decode a depthUpdate event into the book's input and its DIFF DepthEvent records.

    Returns:
        ``(instrument_id, diff, records)``: the diff for :class:`qk.books.OrderBook` and the
        venue diff as DepthEvent records (10 levels per record, the last flagged LAST).

    Raises:
        BinanceMessageError: See :func:`qk.venues.binance.parse.parse_depth_update`.
    """
    instrument_id, diff = parse_depth_update(message, symbols)
    return (
        instrument_id,
        diff,
        diff_depth_records(diff, instrument_id, ts_recv=ts_recv, source=source),
    )
