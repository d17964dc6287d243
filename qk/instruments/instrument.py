"""One instrument: the Python form of an Instrument record, with validation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from qk.instruments.errors import InstrumentDefinitionError
from qk.schemas import fixed
from qk.schemas.enums import AssetClass, InstrumentKind, OptionType, Venue
from qk.schemas.records import dtype_of, new_records

__all__ = ["INSTRUMENT_DTYPE", "Instrument", "instruments_from_array", "instruments_to_array"]

INSTRUMENT_DTYPE = dtype_of("Instrument")
"""numpy dtype of the Instrument record."""

_MAX_ID = 2**32 - 1
_DECIMAL_FIELDS = (
    "tick_size",
    "lot_size",
    "min_quantity",
    "max_quantity",
    "min_notional",
    "multiplier",
    "strike",
)
_TEXT_LIMITS = {
    name: INSTRUMENT_DTYPE[name].itemsize
    for name in ("symbol", "underlying", "currency", "base_currency")
}


@dataclass(frozen=True, kw_only=True)
class Instrument:
    """An instrument of the instrument master.

    Decimal fields hold exact values (``tick_size=Decimal("0.05")``); they are stored in the
    record as fixed point at the precision their field names (see ``docs/schemas.md``).

    Attributes:
        instrument_id: Dense 1-based id (0 means "no instrument" in records).
        venue: Where it trades.
        symbol: Venue symbol (Kite tradingsymbol, Binance symbol), ASCII, at most 32 bytes.
        asset_class: Asset class.
        kind: Contract form (spot, future, option, perpetual).
        tick_size: Minimum price increment.
        lot_size: Quantity step; order quantities are multiples of it.
        price_precision: Decimals of prices (at least those of ``tick_size``).
        size_precision: Decimals of quantities (at least those of ``lot_size``).
        currency: Quote / settlement currency, e.g. ``INR``, ``USDT``.
        min_quantity: Minimum order quantity (0 = one lot).
        max_quantity: Maximum order quantity (0 = no limit).
        min_notional: Minimum order value in ``currency`` (0 = none).
        multiplier: Contract multiplier.
        expiry: Expiry, ns since epoch UTC (0 = none); required for futures and options.
        strike: Option strike (0 if not an option).
        option_type: Call/put; NONE if not an option.
        underlying: Underlying symbol (derivatives).
        base_currency: Base asset of a crypto pair.
        venue_token: Venue's numeric id (Kite instrument_token), 0 if none.
    """

    instrument_id: int
    venue: Venue
    symbol: str
    asset_class: AssetClass
    kind: InstrumentKind
    tick_size: Decimal
    lot_size: Decimal
    price_precision: int
    size_precision: int
    currency: str
    min_quantity: Decimal = Decimal(0)
    max_quantity: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    multiplier: Decimal = Decimal(1)
    expiry: int = 0
    strike: Decimal = Decimal(0)
    option_type: OptionType = OptionType.NONE
    underlying: str = ""
    base_currency: str = ""
    venue_token: int = 0

    def __post_init__(self) -> None:
        what = f"instrument {self.instrument_id} ({self.symbol!r})"
        for name in _DECIMAL_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, Decimal):
                try:
                    value = Decimal(repr(value) if isinstance(value, float) else str(value))
                except ArithmeticError:
                    raise InstrumentDefinitionError(
                        f"{what}: {name} {value!r} is not a decimal number"
                    ) from None
                object.__setattr__(self, name, value)
            if not value.is_finite():
                raise InstrumentDefinitionError(f"{what}: {name} {value!r} is not finite")
        try:
            for name, enum in (
                ("venue", Venue),
                ("asset_class", AssetClass),
                ("kind", InstrumentKind),
                ("option_type", OptionType),
            ):
                object.__setattr__(self, name, enum(getattr(self, name)))
        except ValueError as exc:
            raise InstrumentDefinitionError(f"{what}: {exc}") from None
        if not 1 <= self.instrument_id <= _MAX_ID:
            raise InstrumentDefinitionError(f"{what}: instrument_id must be in 1..{_MAX_ID}")
        if not 0 <= self.venue_token < 2**64:
            raise InstrumentDefinitionError(f"{what}: venue_token must fit in u64")
        for name, limit in _TEXT_LIMITS.items():
            text = getattr(self, name)
            if not text.isascii() or len(text) > limit or "\0" in text:
                raise InstrumentDefinitionError(
                    f"{what}: {name} {text!r} must be ASCII without NUL, at most {limit} bytes"
                )
        if not self.symbol:
            raise InstrumentDefinitionError(f"{what}: symbol is empty")
        if not self.currency:
            raise InstrumentDefinitionError(f"{what}: currency is empty")
        for name in ("price_precision", "size_precision"):
            try:
                fixed.check_precision(getattr(self, name))
            except fixed.FixedPointError as exc:
                raise InstrumentDefinitionError(f"{what}: {name}: {exc}") from None
        for name in ("tick_size", "lot_size", "multiplier"):
            if getattr(self, name) <= 0:
                raise InstrumentDefinitionError(f"{what}: {name} must be > 0")
        for name in ("min_quantity", "max_quantity", "min_notional", "strike"):
            if getattr(self, name) < 0:
                raise InstrumentDefinitionError(f"{what}: {name} must be >= 0")
        self._check_kind(what)
        self._raw_values()  # every decimal must fit its fixed-point field exactly

    def _check_kind(self, what: str) -> None:
        if self.kind is InstrumentKind.OPTION:
            if self.option_type is OptionType.NONE:
                raise InstrumentDefinitionError(f"{what}: an option needs option_type CALL or PUT")
            if self.strike <= 0:
                raise InstrumentDefinitionError(f"{what}: an option needs a strike > 0")
        elif self.option_type is not OptionType.NONE or self.strike != 0:
            raise InstrumentDefinitionError(
                f"{what}: option_type and strike are only for options (kind is {self.kind.name})"
            )
        if self.kind in (InstrumentKind.OPTION, InstrumentKind.FUTURE) and self.expiry <= 0:
            raise InstrumentDefinitionError(f"{what}: a {self.kind.name.lower()} needs an expiry")
        if self.kind in (InstrumentKind.SPOT, InstrumentKind.PERPETUAL) and self.expiry != 0:
            raise InstrumentDefinitionError(f"{what}: a {self.kind.name.lower()} has no expiry")

    def _raw_values(self) -> dict[str, int]:
        scales = {
            "tick_size": self.price_precision,
            "strike": self.price_precision,
            "lot_size": self.size_precision,
            "min_quantity": self.size_precision,
            "max_quantity": self.size_precision,
            "min_notional": fixed.MONEY_PRECISION,
            "multiplier": fixed.MULTIPLIER_PRECISION,
        }
        raw: dict[str, int] = {}
        for name, precision in scales.items():
            try:
                raw[name] = fixed.to_raw(getattr(self, name), precision)
            except fixed.FixedPointError as exc:
                raise InstrumentDefinitionError(
                    f"instrument {self.instrument_id} ({self.symbol!r}): {name}: {exc}"
                ) from None
        return raw

    @property
    def key(self) -> tuple[Venue, str]:
        """The (venue, symbol) pair, unique in a master."""
        return (self.venue, self.symbol)

    @property
    def name(self) -> str:
        """Readable id, ``SYMBOL.VENUE`` (``INFY.NSE``)."""
        return f"{self.symbol}.{self.venue.name}"

    def price_to_raw(self, price: int | str | Decimal | float) -> int:
        """Convert a price to this instrument's fixed point (exact, see ``fixed.to_raw``)."""
        return fixed.to_raw(price, self.price_precision)

    def quantity_to_raw(self, quantity: int | str | Decimal | float) -> int:
        """Convert a quantity to this instrument's fixed point (exact, see ``fixed.to_raw``)."""
        return fixed.to_raw(quantity, self.size_precision)

    def write_record(self, row: np.void) -> None:
        """Fill one Instrument record (a row of an ``INSTRUMENT_DTYPE`` array) from this object."""
        for name, value in self._raw_values().items():
            row[name] = value
        row["instrument_id"] = self.instrument_id
        row["venue"] = int(self.venue)
        row["asset_class"] = int(self.asset_class)
        row["kind"] = int(self.kind)
        row["option_type"] = int(self.option_type)
        row["price_precision"] = self.price_precision
        row["size_precision"] = self.size_precision
        row["venue_token"] = self.venue_token
        row["expiry"] = self.expiry
        for name in _TEXT_LIMITS:
            row[name] = getattr(self, name).encode("ascii")

    @classmethod
    def from_record(cls, row: np.void) -> Instrument:
        """Build an Instrument from one Instrument record.

        Raises:
            InstrumentDefinitionError: The record holds invalid values.
        """
        price_p, size_p = int(row["price_precision"]), int(row["size_precision"])

        def dec(name: str, precision: int) -> Decimal:
            return fixed.from_raw(int(row[name]), precision)

        def text(name: str) -> str:
            return bytes(row[name]).decode("ascii")

        return cls(
            instrument_id=int(row["instrument_id"]),
            venue=Venue(int(row["venue"])),
            symbol=text("symbol"),
            asset_class=AssetClass(int(row["asset_class"])),
            kind=InstrumentKind(int(row["kind"])),
            tick_size=dec("tick_size", price_p),
            lot_size=dec("lot_size", size_p),
            price_precision=price_p,
            size_precision=size_p,
            currency=text("currency"),
            min_quantity=dec("min_quantity", size_p),
            max_quantity=dec("max_quantity", size_p),
            min_notional=dec("min_notional", fixed.MONEY_PRECISION),
            multiplier=dec("multiplier", fixed.MULTIPLIER_PRECISION),
            expiry=int(row["expiry"]),
            strike=dec("strike", price_p),
            option_type=OptionType(int(row["option_type"])),
            underlying=text("underlying"),
            base_currency=text("base_currency"),
            venue_token=int(row["venue_token"]),
        )


def instruments_to_array(instruments: Iterable[Instrument]) -> npt.NDArray[np.void]:
    """Pack instruments into an Instrument record array indexed by ``instrument_id - 1``.

    Args:
        instruments: Instruments with ids exactly 1..N (any order), unique (venue, symbol).

    Returns:
        Array of N records, row ``i`` holding id ``i + 1``.

    Raises:
        InstrumentDefinitionError: Ids not dense 1..N, or a duplicate id or (venue, symbol).
    """
    ordered = sorted(instruments, key=lambda i: i.instrument_id)
    keys: dict[tuple[Venue, str], int] = {}
    for expected, instrument in enumerate(ordered, start=1):
        if instrument.instrument_id != expected:
            if instrument.instrument_id < expected:
                problem = f"id {instrument.instrument_id} is used twice"
            else:
                problem = f"id {expected} is missing"
            raise InstrumentDefinitionError(
                f"instrument ids must be dense 1..{len(ordered)}: {problem} "
                f"(at {instrument.name}, id {instrument.instrument_id})"
            )
        if instrument.key in keys:
            raise InstrumentDefinitionError(
                f"{instrument.name} is defined twice (ids {keys[instrument.key]} and "
                f"{instrument.instrument_id})"
            )
        keys[instrument.key] = instrument.instrument_id
    array = new_records("Instrument", len(ordered))
    for row, instrument in zip(array, ordered, strict=True):
        instrument.write_record(row)
    return array


def instruments_from_array(array: npt.NDArray[np.void]) -> list[Instrument]:
    """Unpack an Instrument record array into Instrument objects."""
    return [Instrument.from_record(row) for row in array]
