"""Binance market-data messages → canonical records and book inputs, with orjson.

Wire formats (``../shared/VENUES.md`` §3.7, §4 and the fixtures under ``tests/fixtures/binance``):

* ``<s>@trade``: ``{"e":"trade","E","s","t","p","q","T","m",...}``
* ``<s>@aggTrade``: ``{"e":"aggTrade","E","s","a","p","q","f","l","T","m",...}``
* ``<s>@depth``: ``{"e":"depthUpdate","E","s","U","u","b":[[p,q]],"a":[[p,q]]}``; USD-M futures add
  ``"T"`` (transaction time) and ``"pu"`` (the previous event's ``u``).
* REST ``/api/v3/depth`` and ``/fapi/v1/depth``: ``{"lastUpdateId","bids","asks"}`` (futures add
  ``E`` and ``T``).
* Combined streams wrap any of these as ``{"stream":"<name>","data":{...}}``.

Prices and quantities are decimal strings, parsed exactly into the instrument's fixed point
(never through a float). A trade's ``ts_event`` is its trade time ``T`` (ms → ns); ``m=true``
(the buyer is the maker) means the seller was the aggressor. A message that is not what these
formats say raises a subclass of :class:`BinanceMessageError` naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import orjson

from qk.books._book import decode_trades, parse_decimal, parse_level_pairs
from qk.books.updates import BookSnapshot, DepthDiff
from qk.instruments import Instrument
from qk.schemas.enums import Venue
from qk.schemas.fixed import FixedPointError
from qk.schemas.records import new_records

__all__ = [
    "BinanceMessageError",
    "FieldTypeError",
    "MalformedMessageError",
    "MissingFieldError",
    "SymbolInfo",
    "SymbolTable",
    "UnknownEventError",
    "UnknownSymbolError",
    "parse_depth_snapshot",
    "parse_depth_update",
    "parse_trade",
    "parse_trades",
]

_MS_TO_NS = 1_000_000
_MAX_MS = (2**63 - 1) // _MS_TO_NS
_U64_MAX = 2**64 - 1
_I64_MAX = 2**63 - 1

Message = bytes | bytearray | memoryview | str | Mapping[str, Any]


class BinanceMessageError(ValueError):
    """A Binance message is not what the venue's documented format says."""


class MalformedMessageError(BinanceMessageError):
    """Not JSON, or not a JSON object."""


class MissingFieldError(BinanceMessageError):
    """A required field is absent."""


class FieldTypeError(BinanceMessageError):
    """A field has the wrong JSON type or an invalid value."""


class UnknownSymbolError(BinanceMessageError, LookupError):
    """The message's symbol is not in the symbol table."""


class UnknownEventError(BinanceMessageError):
    """The event type ``e`` is not one this parser handles."""


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """What parsing needs to know about a Binance symbol.

    Attributes:
        instrument_id: Instrument master id.
        price_precision: Decimals of prices.
        size_precision: Decimals of quantities.
    """

    instrument_id: int
    price_precision: int
    size_precision: int


class SymbolTable:
    """Binance symbols (``BTCUSDT``, as the ``s`` field spells them) → instrument details.

    Args:
        symbols: Symbol → details.
    """

    def __init__(self, symbols: Mapping[str, SymbolInfo]) -> None:
        self._info = dict(symbols)
        # The compiled decoder reads plain tuples.
        self._tuples = {
            symbol: (info.instrument_id, info.price_precision, info.size_precision)
            for symbol, info in self._info.items()
        }

    @classmethod
    def from_instruments(cls, instruments: Iterable[Instrument], venue: Venue) -> SymbolTable:
        """The instruments of one venue (spot and USD-M futures share symbol names, so a table
        is per venue).

        Raises:
            ValueError: Two instruments of the venue have the same symbol.
        """
        table: dict[str, SymbolInfo] = {}
        for instrument in instruments:
            if instrument.venue is not venue:
                continue
            if instrument.symbol in table:
                raise ValueError(f"symbol {instrument.symbol!r} appears twice for {venue.name}")
            table[instrument.symbol] = SymbolInfo(
                instrument.instrument_id, instrument.price_precision, instrument.size_precision
            )
        return cls(table)

    def __getitem__(self, symbol: str) -> SymbolInfo:
        try:
            return self._info[symbol]
        except KeyError:
            raise UnknownSymbolError(f"unknown symbol {symbol!r}") from None

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._info

    def __len__(self) -> int:
        return len(self._info)

    @property
    def decoder_table(self) -> dict[str, tuple[int, int, int]]:
        """Symbol → ``(instrument_id, price_precision, size_precision)`` for the compiled decoder."""
        return self._tuples


# -- trades ---------------------------------------------------------------------------------------


def parse_trades(
    messages: Sequence[bytes | str],
    symbols: SymbolTable,
    ts_recv: int | npt.ArrayLike,
    *,
    source: int = 0,
) -> npt.NDArray[np.void]:
    """Decode ``trade`` / ``aggTrade`` stream messages into one TradeEvent record array.

    Args:
        messages: Raw JSON messages, raw or combined-stream wrapped; ``trade`` and ``aggTrade``
            may be mixed.
        symbols: The venue's symbol table.
        ts_recv: Local receive time in ns: one value for all, or one per message.
        source: Producing component id for the headers.

    Returns:
        One record per message, in order: ``ts_event`` = ``T`` in ns, ``venue_trade_id`` = ``t``
        (trade) or ``a`` (aggTrade), ``aggressor`` SELLER when ``m`` is true else BUYER.

    Raises:
        BinanceMessageError: A message is malformed; the subclass and the message say which
            message (its index) and which field.
    """
    batch = messages if isinstance(messages, list) else list(messages)
    recv = np.ascontiguousarray(np.broadcast_to(np.asarray(ts_recv, dtype=np.int64), (len(batch),)))
    out = new_records("TradeEvent", len(batch), source=source)
    decoded = decode_trades(batch, orjson.loads, symbols.decoder_table, recv, out)
    if decoded != len(batch):
        _explain_trade(batch[decoded], symbols, decoded)
    return out


def parse_trade(
    message: bytes | str, symbols: SymbolTable, ts_recv: int, *, source: int = 0
) -> npt.NDArray[np.void]:
    """Decode one trade or aggTrade message into a one-record TradeEvent array.

    Raises:
        BinanceMessageError: See :func:`parse_trades`.
    """
    return parse_trades([message], symbols, ts_recv, source=source)


def _explain_trade(message: bytes | str, symbols: SymbolTable, index: int) -> NoReturn:
    """Raise the specific error for a message the compiled decoder refused."""
    where = f"trade message #{index}"
    data = _unwrap(_load(message, where), where)
    event = _require(data, "e", str, where)
    if event == "trade":
        _require_id(data, "t", where)
    elif event == "aggTrade":
        for key in ("a", "f", "l"):
            _require_id(data, key, where)
    else:
        raise UnknownEventError(f"{where}: event type {event!r} is neither 'trade' nor 'aggTrade'")
    symbol = _require(data, "s", str, where)
    if symbol not in symbols:
        raise UnknownSymbolError(f"{where}: unknown symbol {symbol!r}")
    info = symbols[symbol]
    price = _decimal(data, "p", info.price_precision, where)
    quantity = _decimal(data, "q", info.size_precision, where)
    if price <= 0 or quantity <= 0:
        raise FieldTypeError(f"{where}: price {data['p']!r} and quantity {data['q']!r} must be > 0")
    trade_time = _require(data, "T", int, where)
    if not 0 <= trade_time <= _MAX_MS:
        raise FieldTypeError(f"{where}: trade time T={trade_time} is not a valid ms timestamp")
    _require(data, "m", bool, where)
    raise BinanceMessageError(f"{where}: could not be decoded: {message!r}")


# -- depth ----------------------------------------------------------------------------------------


def parse_depth_update(message: Message, symbols: SymbolTable) -> tuple[int, DepthDiff]:
    """Decode a ``depthUpdate`` event (spot or USD-M futures).

    Args:
        message: Raw JSON (or an already decoded object), raw or combined-stream wrapped.
        symbols: The venue's symbol table.

    Returns:
        ``(instrument_id, diff)``. ``prev_update_id`` is ``pu`` (futures) or 0 (spot);
        ``ts_event`` is ``T`` when present (futures transaction time), else ``E``.

    Raises:
        BinanceMessageError: A missing or mistyped field, an unknown symbol, a bad level.
    """
    where = "depthUpdate"
    data = _unwrap(_load(message, where), where)
    event = _require(data, "e", str, where)
    if event != "depthUpdate":
        raise UnknownEventError(f"{where}: event type {event!r} is not 'depthUpdate'")
    symbol = _require(data, "s", str, where)
    info = symbols[symbol] if symbol in symbols else _unknown_symbol(symbol, where)
    first = _require_id(data, "U", where)
    last = _require_id(data, "u", where)
    prev = _require_id(data, "pu", where) if "pu" in data else 0
    if first > last:
        raise FieldTypeError(f"{where}: U={first} is after u={last}")
    time_key = "T" if "T" in data else "E"
    ts_ms = _require(data, time_key, int, where)
    if not 0 <= ts_ms <= _MAX_MS:
        raise FieldTypeError(f"{where}: {time_key}={ts_ms} is not a valid ms timestamp")
    bid_prices, bid_sizes = _levels(data, "b", info, where)
    ask_prices, ask_sizes = _levels(data, "a", info, where)
    diff = DepthDiff(
        first_update_id=first,
        last_update_id=last,
        prev_update_id=prev,
        bid_prices=bid_prices,
        bid_sizes=bid_sizes,
        ask_prices=ask_prices,
        ask_sizes=ask_sizes,
        ts_event=ts_ms * _MS_TO_NS,
    )
    return info.instrument_id, diff


def parse_depth_snapshot(
    message: Message, price_precision: int, size_precision: int
) -> BookSnapshot:
    """Decode a REST depth snapshot (``/api/v3/depth``, ``/fapi/v1/depth``).

    The snapshot names no symbol, so the caller passes the precisions of the instrument it
    asked for.

    Returns:
        The snapshot; ``ts_event`` is futures ``T`` (or ``E``) in ns, 0 for spot (none given).

    Raises:
        BinanceMessageError: A missing or mistyped field, or a bad level.
    """
    where = "depth snapshot"
    data = _unwrap(_load(message, where), where)
    last = _require_id(data, "lastUpdateId", where)
    ts_ms = 0
    for key in ("T", "E"):
        if key in data:
            ts_ms = _require(data, key, int, where)
            break
    info = SymbolInfo(0, price_precision, size_precision)
    bid_prices, bid_sizes = _levels(data, "bids", info, where)
    ask_prices, ask_sizes = _levels(data, "asks", info, where)
    return BookSnapshot(
        last_update_id=last,
        bid_prices=bid_prices,
        bid_sizes=bid_sizes,
        ask_prices=ask_prices,
        ask_sizes=ask_sizes,
        ts_event=ts_ms * _MS_TO_NS,
    )


# -- helpers --------------------------------------------------------------------------------------


def _load(message: Message, where: str) -> Any:
    if isinstance(message, Mapping):
        return message
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        raise MalformedMessageError(f"{where}: not valid JSON ({exc})") from None
    except TypeError:
        raise MalformedMessageError(
            f"{where}: expected bytes or str, got {type(message).__name__}"
        ) from None


def _unwrap(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedMessageError(f"{where}: expected a JSON object, got {type(value).__name__}")
    if "stream" in value and "data" in value:
        value = value["data"]
        if not isinstance(value, Mapping):
            raise MalformedMessageError(
                f"{where}: combined-stream 'data' is {type(value).__name__}, not an object"
            )
    return value


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "a boolean", list: "an array"}


def _require(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in data:
        raise MissingFieldError(f"{where}: missing field {key!r}")
    value = data[key]
    # bool is an int in Python but not in JSON: keep true/false out of integer fields.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FieldTypeError(
            f"{where}: field {key!r} must be {_TYPE_NAMES.get(kind, kind.__name__)}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def _require_id(data: Mapping[str, Any], key: str, where: str) -> int:
    value: int = _require(data, key, int, where)
    if not 0 <= value <= _I64_MAX:
        raise FieldTypeError(f"{where}: field {key!r} = {value} is not a valid id")
    return value


def _decimal(data: Mapping[str, Any], key: str, precision: int, where: str) -> int:
    text = _require(data, key, str, where)
    try:
        return int(parse_decimal(text, precision))
    except FixedPointError as exc:
        raise FieldTypeError(f"{where}: field {key!r}: {exc}") from None


def _levels(
    data: Mapping[str, Any], key: str, info: SymbolInfo, where: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    pairs = _require(data, key, list, where)
    try:
        return parse_level_pairs(pairs, info.price_precision, info.size_precision)
    except (ValueError, TypeError) as exc:
        raise FieldTypeError(f"{where}: field {key!r}: {exc}") from None


def _unknown_symbol(symbol: str, where: str) -> NoReturn:
    raise UnknownSymbolError(f"{where}: unknown symbol {symbol!r}")
