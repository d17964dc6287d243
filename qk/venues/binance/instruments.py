"""Binance exchangeInfo → symbol filters and qk Instruments, and the filter check before sending.

Spot and USD-M write their rules differently (VENUES.md §3.6, §4): spot has ``MIN_NOTIONAL``
(legacy, ``minNotional`` + ``applyToMarket``) and/or ``NOTIONAL`` (``minNotional``/``maxNotional``
+ ``applyMinToMarket``/``applyMaxToMarket``); USD-M has ``MIN_NOTIONAL`` with the key
``notional``, and ``pricePrecision``/``quantityPrecision`` that are not tick or step sizes. Any
bound given as 0 is disabled (filters.md).

:func:`check_order` refuses, before an order leaves, what the venue would refuse with a filter or
precision error, in the venue's own order of checks, and names the filter, the field and the code
Binance would have answered (-1013 "Filter failure: X" and -1111 on spot; -4003/-4004/-4005/-4013/
-4014/-4016/-4023/-4164 and -1111 on USD-M). MARKET orders are checked against the last trade
price, stop-market orders against their stop price, as Binance's reference price rules do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from qk.instruments import Instrument
from qk.schemas.enums import AssetClass, InstrumentKind, Venue
from qk.schemas.fixed import decimals_of

__all__ = [
    "FilterViolation",
    "InstrumentInfoError",
    "Market",
    "SymbolFilters",
    "SymbolRegistry",
    "check_order",
    "filters_from_exchange_info",
    "to_instrument",
]

Market = Literal["spot", "futures"]
ZERO: Final = Decimal(0)
_NS_PER_MS: Final = 1_000_000
_DAY_NS: Final = 86_400 * 1_000_000_000

SPOT_PRICED: Final = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"})
SPOT_STOPS: Final = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
SPOT_MARKET_LIKE: Final = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})
FUTURES_ALGO: Final = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"})


class InstrumentInfoError(ValueError):
    """An exchangeInfo document that cannot be read (the message names symbol and key)."""


class FilterViolation(ValueError):
    """An order the venue would refuse for a filter or precision rule; it was not sent.

    Attributes:
        symbol: The symbol.
        filter: ``PRICE_FILTER``, ``LOT_SIZE``, ``MARKET_LOT_SIZE``, ``MIN_NOTIONAL``,
            ``NOTIONAL``, ``MAX_NUM_ORDERS`` or ``PRECISION``.
        field: The order field at fault (``price``, ``stopPrice``, ``triggerPrice``,
            ``quantity``, ``notional``).
        value: The offending value.
        venue_code: The code Binance answers for it.
    """

    def __init__(
        self,
        symbol: str,
        filter_name: str,
        field_name: str,
        value: Decimal | int,
        code: int,
        why: str,
    ) -> None:
        shown = _s(value) if isinstance(value, Decimal) else str(value)
        super().__init__(
            f"{symbol}: {field_name} {shown} fails {filter_name} ({why}); "
            f"Binance would answer {code}"
        )
        self.symbol = symbol
        self.filter = filter_name
        self.field = field_name
        self.value = value
        self.venue_code = code


def _dec(value: Any, where: str) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InstrumentInfoError(f"{where}: {value!r} is not a decimal") from None
    if not out.is_finite():
        raise InstrumentInfoError(f"{where}: {value!r} is not finite")
    return out


@dataclass(frozen=True)
class Bounds:
    """A min/max/step triple (0 disables a bound)."""

    minimum: Decimal = ZERO
    maximum: Decimal = ZERO
    step: Decimal = ZERO


@dataclass(frozen=True)
class SymbolFilters:
    """One symbol's trading rules.

    Attributes:
        market: ``spot`` or ``futures``.
        symbol: Venue symbol.
        status: ``TRADING``, ``HALT``, ``BREAK``, ``CANCEL_ONLY``...
        base_asset: Base asset.
        quote_asset: Quote asset.
        order_types: Order types the symbol accepts.
        time_in_force: Times in force it accepts.
        base_precision: Quantity decimals allowed (spot ``baseAssetPrecision``, USD-M
            ``quantityPrecision``).
        quote_precision: Price decimals allowed (spot ``quoteAssetPrecision``, USD-M
            ``pricePrecision``).
        price: PRICE_FILTER, or None.
        lot: LOT_SIZE, or None.
        market_lot: MARKET_LOT_SIZE, or None.
        min_notional: Spot legacy MIN_NOTIONAL ``minNotional`` or USD-M ``notional``.
        min_notional_to_market: Spot MIN_NOTIONAL ``applyToMarket``.
        has_min_notional: Whether a MIN_NOTIONAL filter exists.
        notional: Spot NOTIONAL bounds (``minNotional``, ``maxNotional``), or None.
        notional_min_to_market: NOTIONAL ``applyMinToMarket``.
        notional_max_to_market: NOTIONAL ``applyMaxToMarket``.
        max_num_orders: MAX_NUM_ORDERS, or None.
        contract_type: USD-M ``contractType`` (``PERPETUAL``, ``CURRENT_QUARTER``...), else "".
        delivery_ms: USD-M ``deliveryDate``, else 0.
    """

    market: Market
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]
    base_precision: int
    quote_precision: int
    price: Bounds | None = None
    lot: Bounds | None = None
    market_lot: Bounds | None = None
    min_notional: Decimal = ZERO
    min_notional_to_market: bool = True
    has_min_notional: bool = False
    notional: Bounds | None = None
    notional_min_to_market: bool = True
    notional_max_to_market: bool = False
    max_num_orders: int | None = None
    contract_type: str = ""
    delivery_ms: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def tick_size(self) -> Decimal:
        """PRICE_FILTER tickSize (0 without one)."""
        return self.price.step if self.price is not None else ZERO

    @property
    def step_size(self) -> Decimal:
        """LOT_SIZE stepSize (0 without one)."""
        return self.lot.step if self.lot is not None else ZERO

    @classmethod
    def from_entry(cls, market: Market, entry: Mapping[str, Any]) -> SymbolFilters:
        """Read one ``symbols[]`` element of exchangeInfo.

        Raises:
            InstrumentInfoError: A missing key or a value that is not a number.
        """
        symbol = str(entry.get("symbol", "?"))
        where = f"exchangeInfo ({market}) symbol {symbol!r}"
        try:
            filters = {str(f["filterType"]): f for f in entry.get("filters", [])}
            if market == "spot":
                base_precision = int(entry["baseAssetPrecision"])
                quote_precision = int(entry["quoteAssetPrecision"])
                tifs: tuple[str, ...] = ("GTC", "IOC", "FOK")
            else:
                base_precision = int(entry["quantityPrecision"])
                quote_precision = int(entry["pricePrecision"])
                tifs = tuple(entry.get("timeInForce", ("GTC", "IOC", "FOK", "GTX")))
            base = dict(
                market=market,
                symbol=str(entry["symbol"]),
                status=str(entry["status"]),
                base_asset=str(entry["baseAsset"]),
                quote_asset=str(entry["quoteAsset"]),
                order_types=tuple(str(t) for t in entry["orderTypes"]),
                time_in_force=tifs,
                base_precision=base_precision,
                quote_precision=quote_precision,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InstrumentInfoError(f"{where}: missing or bad key {exc}") from None

        def bounds(name: str, lo: str, hi: str, step: str) -> Bounds | None:
            f = filters.get(name)
            if f is None:
                return None
            return Bounds(
                _dec(f.get(lo, "0"), f"{where} {name}.{lo}"),
                _dec(f.get(hi, "0"), f"{where} {name}.{hi}"),
                _dec(f.get(step, "0"), f"{where} {name}.{step}"),
            )

        legacy = filters.get("MIN_NOTIONAL")
        current = filters.get("NOTIONAL")
        max_orders = filters.get("MAX_NUM_ORDERS")
        max_orders_value = None
        if max_orders is not None:
            value = max_orders.get("maxNumOrders", max_orders.get("limit"))
            max_orders_value = int(value) if value is not None else None
        key = "minNotional" if market == "spot" else "notional"
        return cls(
            **base,  # type: ignore[arg-type]
            price=bounds("PRICE_FILTER", "minPrice", "maxPrice", "tickSize"),
            lot=bounds("LOT_SIZE", "minQty", "maxQty", "stepSize"),
            market_lot=bounds("MARKET_LOT_SIZE", "minQty", "maxQty", "stepSize"),
            min_notional=(
                _dec(legacy.get(key, "0"), f"{where} MIN_NOTIONAL.{key}") if legacy else ZERO
            ),
            min_notional_to_market=bool(legacy.get("applyToMarket", True)) if legacy else True,
            has_min_notional=legacy is not None,
            notional=(
                Bounds(
                    _dec(current.get("minNotional", "0"), f"{where} NOTIONAL.minNotional"),
                    _dec(current.get("maxNotional", "0"), f"{where} NOTIONAL.maxNotional"),
                )
                if current is not None
                else None
            ),
            notional_min_to_market=bool(current.get("applyMinToMarket", True)) if current else True,
            notional_max_to_market=bool(current.get("applyMaxToMarket", False))
            if current
            else False,
            max_num_orders=max_orders_value,
            contract_type=str(entry.get("contractType", "")) if market == "futures" else "",
            delivery_ms=int(entry.get("deliveryDate", 0)) if market == "futures" else 0,
            raw=entry,
        )


def filters_from_exchange_info(market: Market, info: Mapping[str, Any]) -> dict[str, SymbolFilters]:
    """Every symbol of an exchangeInfo answer, by symbol.

    Raises:
        InstrumentInfoError: No ``symbols`` list, or a symbol that cannot be read.
    """
    symbols = info.get("symbols")
    if not isinstance(symbols, list):
        raise InstrumentInfoError(f"exchangeInfo ({market}) has no 'symbols' list")
    return {f.symbol: f for f in (SymbolFilters.from_entry(market, s) for s in symbols)}


# ------------------------------------------------------------------------------ the check
def _s(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _multiple(value: Decimal, base: Decimal, step: Decimal) -> bool:
    return step == ZERO or (value - base) % step == ZERO


def _check_price(f: SymbolFilters, price: Decimal, name: str) -> None:
    if decimals_of(price) > f.quote_precision:
        raise FilterViolation(
            f.symbol, "PRECISION", name, price, -1111, f"more than {f.quote_precision} decimals"
        )
    b = f.price
    if b is None:
        return
    if f.market == "spot":
        if (b.minimum and price < b.minimum) or (b.maximum and price > b.maximum):
            raise FilterViolation(
                f.symbol,
                "PRICE_FILTER",
                name,
                price,
                -1013,
                f"outside {_s(b.minimum)}..{_s(b.maximum)}",
            )
        if not _multiple(price, b.minimum, b.step):
            raise FilterViolation(
                f.symbol, "PRICE_FILTER", name, price, -1013, f"not on the {_s(b.step)} tick"
            )
        return
    if b.minimum and price < b.minimum:
        raise FilterViolation(
            f.symbol, "PRICE_FILTER", name, price, -4013, f"below {_s(b.minimum)}"
        )
    if b.maximum and price > b.maximum:
        raise FilterViolation(
            f.symbol, "PRICE_FILTER", name, price, -4016, f"above {_s(b.maximum)}"
        )
    if not _multiple(price, b.minimum, b.step):
        raise FilterViolation(
            f.symbol, "PRICE_FILTER", name, price, -4014, f"not on the {_s(b.step)} tick"
        )


def _check_quantity(f: SymbolFilters, qty: Decimal, is_market: bool) -> None:
    if f.market == "futures" and qty <= ZERO:
        raise FilterViolation(f.symbol, "LOT_SIZE", "quantity", qty, -4003, "not positive")
    if decimals_of(qty) > f.base_precision:
        raise FilterViolation(
            f.symbol, "PRECISION", "quantity", qty, -1111, f"more than {f.base_precision} decimals"
        )
    checks: list[tuple[str, Bounds | None]] = [("LOT_SIZE", f.lot)]
    if is_market and f.market_lot is not None:
        checks.append(("MARKET_LOT_SIZE", f.market_lot))
    for name, b in checks:
        if b is None:
            continue
        if f.market == "spot":
            if qty <= ZERO or (b.minimum and qty < b.minimum) or (b.maximum and qty > b.maximum):
                raise FilterViolation(
                    f.symbol,
                    name,
                    "quantity",
                    qty,
                    -1013,
                    f"outside {_s(b.minimum)}..{_s(b.maximum)}",
                )
            if not _multiple(qty, b.minimum, b.step):
                raise FilterViolation(
                    f.symbol, name, "quantity", qty, -1013, f"not a multiple of {_s(b.step)}"
                )
            continue
        if b.minimum and qty < b.minimum:
            raise FilterViolation(f.symbol, name, "quantity", qty, -4004, f"below {_s(b.minimum)}")
        if b.maximum and qty > b.maximum:
            raise FilterViolation(f.symbol, name, "quantity", qty, -4005, f"above {_s(b.maximum)}")
        if not _multiple(qty, b.minimum, b.step):
            raise FilterViolation(
                f.symbol, name, "quantity", qty, -4023, f"not a multiple of {_s(b.step)}"
            )


def _check_notional(
    f: SymbolFilters, notional: Decimal, is_market: bool, reduce_only: bool
) -> None:
    if f.market == "futures":
        if f.has_min_notional and not reduce_only and f.min_notional and notional < f.min_notional:
            raise FilterViolation(
                f.symbol, "MIN_NOTIONAL", "notional", notional, -4164, f"below {_s(f.min_notional)}"
            )
        return
    if f.has_min_notional:
        applies = not is_market or f.min_notional_to_market
        if applies and f.min_notional and notional < f.min_notional:
            raise FilterViolation(
                f.symbol, "MIN_NOTIONAL", "notional", notional, -1013, f"below {_s(f.min_notional)}"
            )
    b = f.notional
    if b is not None:
        apply_min = not is_market or f.notional_min_to_market
        apply_max = not is_market or f.notional_max_to_market
        if (apply_min and b.minimum and notional < b.minimum) or (
            apply_max and b.maximum and notional > b.maximum
        ):
            raise FilterViolation(
                f.symbol,
                "NOTIONAL",
                "notional",
                notional,
                -1013,
                f"outside {_s(b.minimum)}..{_s(b.maximum)}",
            )


def check_order(
    f: SymbolFilters,
    order_type: str,
    quantity: Decimal,
    *,
    price: Decimal | None = None,
    stop_price: Decimal | None = None,
    last_price: Decimal | None = None,
    reduce_only: bool = False,
    open_orders: int | None = None,
) -> None:
    """Refuse locally what Binance would refuse for a filter or precision rule.

    Args:
        f: The symbol's filters.
        order_type: Binance's type (spot ``LIMIT``, ``LIMIT_MAKER``, ``STOP_LOSS_LIMIT``...;
            USD-M ``LIMIT``, ``MARKET`` or an algo type ``STOP``, ``STOP_MARKET``...).
        quantity: Order quantity.
        price: Limit price, for priced types.
        stop_price: Stop (spot ``stopPrice``) or trigger (USD-M ``triggerPrice``) price.
        last_price: Last trade price, the reference of market orders (None: no notional check
            for them, as the venue does before the first trade).
        reduce_only: USD-M reduce-only (exempt from MIN_NOTIONAL).
        open_orders: Open orders on the symbol now, for MAX_NUM_ORDERS (None: not checked).

    Raises:
        FilterViolation: The first rule the order breaks, in the venue's order of checks.
    """
    if f.market == "spot":
        priced = order_type in SPOT_PRICED
        if priced:
            assert price is not None, "priced spot order without a price"
            _check_price(f, price, "price")
        if stop_price:
            _check_price(f, stop_price, "stopPrice")
        _check_quantity(f, quantity, order_type in SPOT_MARKET_LIKE)
        reference = price if priced else (stop_price or last_price)
        if reference is not None:
            _check_notional(f, reference * quantity, order_type in SPOT_MARKET_LIKE, False)
        limit = f.max_num_orders
        if limit is not None and open_orders is not None and open_orders >= limit:
            raise FilterViolation(
                f.symbol,
                "MAX_NUM_ORDERS",
                "open orders",
                open_orders,
                -1013,
                f"{limit} already open",
            )
        return
    if order_type in FUTURES_ALGO:
        assert stop_price is not None, "conditional futures order without a trigger price"
        _check_price(f, stop_price, "triggerPrice")
        _check_quantity(f, quantity, order_type.endswith("_MARKET"))
        if price is not None:  # STOP / TAKE_PROFIT: checked even at 0, as the venue does
            _check_price(f, price, "price")
        _check_notional(f, (price or stop_price) * quantity, not price, reduce_only)
        return
    _check_quantity(f, quantity, order_type == "MARKET")
    if order_type == "LIMIT":
        assert price is not None, "futures LIMIT order without a price"
        _check_price(f, price, "price")
    reference = price if order_type == "LIMIT" else last_price
    if reference is not None:
        _check_notional(f, reference * quantity, order_type == "MARKET", reduce_only)


# ------------------------------------------------------------------------------ instruments
def to_instrument(f: SymbolFilters, instrument_id: int) -> Instrument:
    """The qk Instrument of a symbol (tick, step, quantity bounds, min notional).

    Raises:
        InstrumentInfoError: The symbol lacks PRICE_FILTER or LOT_SIZE, or its values do not
            make a valid instrument.
    """
    if f.price is None or f.lot is None or not f.tick_size or not f.step_size:
        raise InstrumentInfoError(
            f"exchangeInfo ({f.market}) symbol {f.symbol!r}: needs PRICE_FILTER tickSize and "
            "LOT_SIZE stepSize to make an instrument"
        )
    tick, step = f.tick_size.normalize(), f.step_size.normalize()
    if f.market == "spot":
        venue, kind, expiry = Venue.BINANCE, InstrumentKind.SPOT, 0
        min_notional = f.min_notional if f.has_min_notional else ZERO
        if f.notional is not None:
            min_notional = max(min_notional, f.notional.minimum)
    else:
        venue = Venue.BINANCE_USDM
        perpetual = f.contract_type in ("", "PERPETUAL")
        kind = InstrumentKind.PERPETUAL if perpetual else InstrumentKind.FUTURE
        expiry = 0 if perpetual else f.delivery_ms * _NS_PER_MS
        min_notional = f.min_notional
    try:
        return Instrument(
            instrument_id=instrument_id,
            venue=venue,
            symbol=f.symbol,
            asset_class=AssetClass.CRYPTO,
            kind=kind,
            tick_size=tick,
            lot_size=step,
            # USD-M pricePrecision may exceed the tick's decimals (fills and averages use it).
            price_precision=max(
                decimals_of(tick), f.quote_precision if f.market == "futures" else 0
            ),
            size_precision=decimals_of(step),
            currency=f.quote_asset,
            min_quantity=f.lot.minimum.normalize(),
            max_quantity=f.lot.maximum.normalize(),
            min_notional=min_notional.normalize(),
            expiry=expiry,
            base_currency=f.base_asset,
        )
    except ValueError as exc:
        raise InstrumentInfoError(f"exchangeInfo ({f.market}) symbol {f.symbol!r}: {exc}") from None


class SymbolRegistry:
    """One market's symbol filters and the qk instruments they belong to, refreshed on demand.

    Args:
        market: ``spot`` or ``futures``.
        instruments: The instrument master's instruments of this market's venue; orders name
            instruments by id and the registry finds their symbol.
        now_ns: Wall clock, for the age of the rules.
    """

    def __init__(
        self,
        market: Market,
        instruments: Iterable[Instrument] = (),
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.market = market
        self._venue = Venue.BINANCE if market == "spot" else Venue.BINANCE_USDM
        self._by_id: dict[int, Instrument] = {}
        for instrument in instruments:
            self.add_instrument(instrument)
        self._filters: dict[str, SymbolFilters] = {}
        self._now_ns = now_ns
        self.fetched_at_ns = 0
        self.info: Mapping[str, Any] = {}

    def add_instrument(self, instrument: Instrument) -> None:
        """Register an instrument of this market's venue.

        Raises:
            ValueError: It belongs to another venue.
        """
        if instrument.venue is not self._venue:
            raise ValueError(
                f"instrument {instrument.instrument_id} ({instrument.symbol}) is on "
                f"{instrument.venue.name}, not {self._venue.name}"
            )
        self._by_id[instrument.instrument_id] = instrument

    def load(self, info: Mapping[str, Any]) -> None:
        """Take the rules of an exchangeInfo answer."""
        self._filters = filters_from_exchange_info(self.market, info)
        self.info = info
        self.fetched_at_ns = self._now_ns()

    def is_stale(self, max_age_s: float = _DAY_NS / 1e9) -> bool:
        """Whether the rules are older than ``max_age_s`` (a day by default) or never loaded."""
        return not self._filters or self._now_ns() - self.fetched_at_ns > max_age_s * 1e9

    def instrument(self, instrument_id: int) -> Instrument:
        """The instrument with that id.

        Raises:
            KeyError: Not registered.
        """
        try:
            return self._by_id[instrument_id]
        except KeyError:
            raise KeyError(
                f"instrument {instrument_id} is not a {self.market} Binance instrument here"
            ) from None

    def by_symbol(self, symbol: str) -> Instrument:
        """The registered instrument of a venue symbol.

        Raises:
            KeyError: None registered.
        """
        for instrument in self._by_id.values():
            if instrument.symbol == symbol:
                return instrument
        raise KeyError(f"no {self.market} Binance instrument {symbol!r} is registered here")

    def filters(self, symbol: str) -> SymbolFilters:
        """The rules of a symbol.

        Raises:
            KeyError: exchangeInfo does not list it (or was never loaded).
        """
        try:
            return self._filters[symbol]
        except KeyError:
            raise KeyError(f"{symbol!r} is not in the {self.market} exchangeInfo") from None

    def symbols(self) -> Sequence[str]:
        """Symbols in the loaded exchangeInfo."""
        return list(self._filters)

    def instruments(self, first_id: int = 1) -> list[Instrument]:
        """Instruments for every symbol that has the rules to make one, with ids from
        ``first_id`` in exchangeInfo order (for building a master from the venue)."""
        out: list[Instrument] = []
        for f in self._filters.values():
            try:
                out.append(to_instrument(f, first_id + len(out)))
            except InstrumentInfoError:
                continue
        return out
