"""Symbol rules from exchangeInfo and the filter checks the mock enforces on new orders.

Spot filters (binance-spot-api-docs filters.md): PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE,
MIN_NOTIONAL (legacy, ``minNotional`` + ``applyToMarket``), NOTIONAL (``minNotional``/``maxNotional``
+ ``applyMinToMarket``/``applyMaxToMarket``), MAX_NUM_ORDERS. A failure is -1013 "Filter failure: X".
USD-M futures use the same PRICE_FILTER/LOT_SIZE/MARKET_LOT_SIZE keys but MIN_NOTIONAL carries
``notional`` (VENUES.md §4) and failures have their own codes (-4013/-4014/-4003/-4004/-4005/-4023/-4164).
Any bound given as 0 disables that check, as filters.md says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from qk.venues.binance.mock import errors

Market = Literal["spot", "futures"]
ZERO = Decimal(0)


def parse_decimal(value: str, name: str) -> Decimal:
    """Parse a request parameter as a finite decimal; -1130 naming ``name`` otherwise."""
    try:
        out = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise errors.invalid_parameter(name) from exc
    if not out.is_finite():
        raise errors.invalid_parameter(name)
    return out


def decimals_of(value: Decimal) -> int:
    """Number of decimals ``value`` is written with (trailing zeros ignored)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _is_multiple(value: Decimal, base: Decimal, step: Decimal) -> bool:
    return step == ZERO or (value - base) % step == ZERO


@dataclass(frozen=True)
class SymbolRules:
    """One symbol's trading rules, read from its exchangeInfo entry."""

    market: Market
    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    order_types: tuple[str, ...]
    time_in_force: tuple[str, ...]
    base_precision: int
    quote_precision: int
    filters: Mapping[str, Mapping[str, Any]]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_exchange_info(cls, market: Market, entry: Mapping[str, Any]) -> SymbolRules:
        """Build from one ``symbols[]`` element; a missing key is named in the ValueError."""
        try:
            symbol = str(entry["symbol"])
            filters = {str(f["filterType"]): f for f in entry.get("filters", [])}
            if market == "spot":
                base_precision = int(entry["baseAssetPrecision"])
                quote_precision = int(entry["quoteAssetPrecision"])
                tifs: tuple[str, ...] = ("GTC", "IOC", "FOK")
            else:
                base_precision = int(entry["quantityPrecision"])
                quote_precision = int(entry["pricePrecision"])
                tifs = tuple(entry.get("timeInForce", ("GTC", "IOC", "FOK", "GTX")))
            return cls(
                market=market,
                symbol=symbol,
                status=str(entry["status"]),
                base_asset=str(entry["baseAsset"]),
                quote_asset=str(entry["quoteAsset"]),
                order_types=tuple(entry["orderTypes"]),
                time_in_force=tifs,
                base_precision=base_precision,
                quote_precision=quote_precision,
                filters=filters,
                raw=entry,
            )
        except KeyError as exc:
            raise ValueError(
                f"exchangeInfo entry {entry.get('symbol', '?')!r} ({market}) lacks key {exc.args[0]!r}"
            ) from exc

    def _filter_dec(self, name: str, key: str) -> Decimal:
        return Decimal(str(self.filters[name].get(key, "0")))

    @property
    def tick_size(self) -> Decimal:
        """PRICE_FILTER tickSize (0 when the symbol has no PRICE_FILTER)."""
        return (
            self._filter_dec("PRICE_FILTER", "tickSize") if "PRICE_FILTER" in self.filters else ZERO
        )

    @property
    def max_num_orders(self) -> int | None:
        """MAX_NUM_ORDERS limit, if the symbol sets one."""
        f = self.filters.get("MAX_NUM_ORDERS")
        if f is None:
            return None
        value = f.get("maxNumOrders", f.get("limit"))
        return int(value) if value is not None else None

    def check_price(self, price: Decimal, name: str = "price") -> None:
        """PRICE_FILTER and precision checks for a price or stop price."""
        if decimals_of(price) > self.quote_precision:
            raise errors.bad_precision(name)
        f = self.filters.get("PRICE_FILTER")
        if f is None:
            return
        min_price = self._filter_dec("PRICE_FILTER", "minPrice")
        max_price = self._filter_dec("PRICE_FILTER", "maxPrice")
        tick = self._filter_dec("PRICE_FILTER", "tickSize")
        if self.market == "spot":
            if (min_price and price < min_price) or (max_price and price > max_price):
                raise errors.filter_failure("PRICE_FILTER")
            if not _is_multiple(price, min_price, tick):
                raise errors.filter_failure("PRICE_FILTER")
            return
        if min_price and price < min_price:
            raise errors.futures_price_below_min()
        if max_price and price > max_price:
            raise errors.futures_price_above_max(str(f.get("maxPrice")))
        if not _is_multiple(price, min_price, tick):
            raise errors.futures_price_tick()

    def check_quantity(self, quantity: Decimal, is_market: bool) -> None:
        """LOT_SIZE (or MARKET_LOT_SIZE for market orders) and precision checks."""
        if self.market == "futures" and quantity <= ZERO:
            raise errors.futures_qty_not_positive()
        if decimals_of(quantity) > self.base_precision:
            raise errors.bad_precision("quantity")
        names = ["LOT_SIZE"]
        if is_market and "MARKET_LOT_SIZE" in self.filters:
            names.append("MARKET_LOT_SIZE")
        for name in names:
            if name not in self.filters:
                continue
            min_qty = self._filter_dec(name, "minQty")
            max_qty = self._filter_dec(name, "maxQty")
            step = self._filter_dec(name, "stepSize")
            if self.market == "spot":
                if (
                    quantity <= ZERO
                    or (min_qty and quantity < min_qty)
                    or (max_qty and quantity > max_qty)
                ):
                    raise errors.filter_failure(name)
                if not _is_multiple(quantity, min_qty, step):
                    raise errors.filter_failure(name)
                continue
            if min_qty and quantity < min_qty:
                raise errors.futures_qty_below_min()
            if max_qty and quantity > max_qty:
                raise errors.futures_qty_above_max()
            if not _is_multiple(quantity, min_qty, step):
                raise errors.futures_qty_step()

    def check_notional(self, notional: Decimal, is_market: bool, reduce_only: bool = False) -> None:
        """Spot MIN_NOTIONAL / NOTIONAL (``minNotional``), futures MIN_NOTIONAL (``notional``)."""
        if self.market == "futures":
            f = self.filters.get("MIN_NOTIONAL")
            if f is None or reduce_only:
                return
            minimum = Decimal(str(f.get("notional", "0")))
            if minimum and notional < minimum:
                raise errors.futures_min_notional(str(f.get("notional")))
            return
        legacy = self.filters.get("MIN_NOTIONAL")
        if legacy is not None:
            minimum = Decimal(str(legacy.get("minNotional", "0")))
            applies = not is_market or bool(legacy.get("applyToMarket", True))
            if applies and minimum and notional < minimum:
                raise errors.filter_failure("MIN_NOTIONAL")
        current = self.filters.get("NOTIONAL")
        if current is not None:
            minimum = Decimal(str(current.get("minNotional", "0")))
            maximum = Decimal(str(current.get("maxNotional", "0")))
            apply_min = not is_market or bool(current.get("applyMinToMarket", True))
            apply_max = not is_market or bool(current.get("applyMaxToMarket", False))
            if (apply_min and minimum and notional < minimum) or (
                apply_max and maximum and notional > maximum
            ):
                raise errors.filter_failure("NOTIONAL")

    def format_price(self, value: Decimal) -> str:
        """A price as Binance writes it for this market (fixed decimals)."""
        return f"{value:.{self.quote_precision}f}"

    def format_qty(self, value: Decimal) -> str:
        """A quantity as Binance writes it for this market (fixed decimals)."""
        return f"{value:.{self.base_precision}f}"


def rules_from_exchange_info(market: Market, info: Mapping[str, Any]) -> dict[str, SymbolRules]:
    """Every symbol of an exchangeInfo document, by symbol name."""
    symbols: Sequence[Mapping[str, Any]] = info.get("symbols", [])
    return {str(s["symbol"]): SymbolRules.from_exchange_info(market, s) for s in symbols}
