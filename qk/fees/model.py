"""Fee models: what one fill costs, component by component, in exact decimal arithmetic.

A :class:`FeeModel` is a named, ordered list of :class:`FeeComponentSpec` loaded from a data file
(``qk/fees/data/*.toml``, see :mod:`qk.fees.schedule`). Pricing a fill:

1. ``turnover = price * quantity * multiplier`` (exact, in the instrument's currency).
2. Each component, in file order, is one of:

   * a rate on turnover (``rate``, or ``maker_rate``/``taker_rate`` by the fill's liquidity),
     optionally capped per order (``per_order_cap``: Zerodha's "₹20 or 0.03%, whichever is
     lower" is a cap on the whole order, so a partial fill is charged
     ``min(cap, r * order turnover so far) - min(cap, r * order turnover before it)``);
   * a flat amount per order (``flat_per_order``), charged on the order's first fill;
   * a rate on the sum of earlier components of this fill (``base``: GST).

   A component whose ``sides`` exclude the fill's side is 0 (stamp duty on a sell).
3. Each amount is rounded to the component's ``round_to`` quantum if it has one (e.g. ``"1"``
   for a tax rounded to the rupee), then to :data:`qk.schemas.fixed.MONEY_PRECISION` decimals.
   Both roundings are ROUND_HALF_UP (commercial rounding, what Indian contract notes use). That
   is the only rounding anywhere in a fee computation; everything before it is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, localcontext

import numpy as np

from qk.fees.components import FeeComponentKind
from qk.fees.errors import FeeInputError
from qk.instruments import Instrument
from qk.schemas import fixed
from qk.schemas.enums import InstrumentKind, LiquiditySide, Product, Side, Venue

__all__ = [
    "FeeAmount",
    "FeeBreakdown",
    "FeeComponentSpec",
    "FeeInput",
    "FeeModel",
]

MONEY_QUANTUM = Decimal(1).scaleb(-fixed.MONEY_PRECISION)
"""One unit of the last money decimal (``1E-8``)."""

# Products and sums of finite decimals are exact given enough digits; Inexact is trapped so a
# computation that would round raises instead of drifting silently.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])
# The deliberate roundings (component quantum, MONEY_PRECISION) run in this context instead.
_ROUNDING = Context(prec=60, traps=[InvalidOperation])


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeInput:
    """One fill to be priced.

    Attributes:
        instrument: The instrument filled (venue, kind, currency, precisions, multiplier).
        side: BUY or SELL.
        price: Fill price, raw at ``instrument.price_precision``; > 0.
        quantity: Fill quantity, raw at ``instrument.size_precision``; > 0.
        liquidity: MAKER or TAKER; NONE is priced as TAKER (the venue did not say, so assume
            the dearer rate).
        product: Indian broker product (DELIVERY, INTRADAY, CARRY); NONE on crypto venues.
        order_filled_notional: Turnover of the same order's earlier fills (money raw at
            MONEY_PRECISION), for per-order caps and flat per-order charges; 0 for a first fill.
    """

    instrument: Instrument
    side: Side
    price: int
    quantity: int
    liquidity: LiquiditySide = LiquiditySide.TAKER
    product: Product = Product.NONE
    order_filled_notional: int = 0

    def turnover(self) -> Decimal:
        """Exact ``price * quantity * multiplier`` in the instrument's currency."""
        with localcontext(_EXACT):
            return (
                fixed.from_raw(self.price, self.instrument.price_precision)
                * fixed.from_raw(self.quantity, self.instrument.size_precision)
                * self.instrument.multiplier
            )


@dataclass(frozen=True, slots=True)
class FeeAmount:
    """One component of a fee breakdown.

    Attributes:
        kind: Component kind.
        label: Venue's name for it (``STT``, ``CTT``, ``maker/taker fee``).
        amount: Money raw at MONEY_PRECISION, in the breakdown's currency.
    """

    kind: FeeComponentKind
    label: str
    amount: int

    @property
    def value(self) -> Decimal:
        """``amount`` as an exact Decimal."""
        return fixed.from_raw(self.amount, fixed.MONEY_PRECISION)


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    """What one fill cost, component by component.

    Attributes:
        model: Name of the fee model that priced it.
        currency: Currency of every amount (the instrument's currency).
        components: One entry per component of the model, in the model's order (zero entries
            included, so every breakdown of a model has the same shape).
        total: Sum of the components, money raw at MONEY_PRECISION.
    """

    model: str
    currency: str
    components: tuple[FeeAmount, ...]
    total: int

    @property
    def total_value(self) -> Decimal:
        """``total`` as an exact Decimal."""
        return fixed.from_raw(self.total, fixed.MONEY_PRECISION)

    def amount(self, kind: FeeComponentKind) -> int:
        """Sum of the components of one kind (money raw); 0 if the model has none."""
        return sum(c.amount for c in self.components if c.kind is kind)

    def value(self, kind: FeeComponentKind) -> Decimal:
        """Sum of the components of one kind as an exact Decimal."""
        return fixed.from_raw(self.amount(kind), fixed.MONEY_PRECISION)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeComponentSpec:
    """One line of a fee schedule, with where its number comes from.

    Exactly one of ``rate``, ``maker_rate``+``taker_rate`` and ``flat_per_order`` is set
    (checked by the loader). ``base`` is only used with ``rate``.

    Attributes:
        kind: Component kind.
        label: The venue's name for it.
        sides: Sides it is charged on.
        rate: Fraction of turnover (``0.0003`` = 0.03%), or of the ``base`` sum.
        maker_rate: Fraction of turnover for MAKER fills.
        taker_rate: Fraction of turnover for TAKER (and unknown) fills.
        flat_per_order: Money charged once per order, on its first fill.
        per_order_cap: Most this component may total over one order.
        base: Components whose amounts (of this fill) the rate applies to, instead of turnover.
        round_to: Quantum the amount is rounded to (half up) before MONEY_PRECISION, if any.
        source: Where the number comes from (URL, fixture path).
        as_of: Date the number was read from its source.
        verified: True when checked against real venue data (a fixture), False for a published
            rate not yet checked against a real contract note.
        note: Free text: caveats, history.
    """

    kind: FeeComponentKind
    label: str
    sides: frozenset[Side]
    source: str
    as_of: date
    rate: Decimal | None = None
    maker_rate: Decimal | None = None
    taker_rate: Decimal | None = None
    flat_per_order: Decimal | None = None
    per_order_cap: Decimal | None = None
    base: tuple[FeeComponentKind, ...] = ()
    round_to: Decimal | None = None
    verified: bool = False
    note: str = ""

    def _rate_for(self, liquidity: LiquiditySide) -> Decimal:
        if self.rate is not None:
            return self.rate
        if liquidity is LiquiditySide.MAKER:
            assert self.maker_rate is not None  # the loader guarantees the pair
            return self.maker_rate
        assert self.taker_rate is not None
        return self.taker_rate

    def compute(
        self,
        fill: FeeInput,
        turnover: Decimal,
        prior_turnover: Decimal,
        earlier: Mapping[FeeComponentKind, Decimal],
    ) -> Decimal:
        """Exact amount of this component for one fill, before rounding.

        Args:
            fill: The fill.
            turnover: Its turnover.
            prior_turnover: Turnover of the same order before this fill.
            earlier: Amounts (rounded) of the components before this one, by kind.

        Returns:
            The amount, >= 0.
        """
        if fill.side not in self.sides:
            return Decimal(0)
        if self.flat_per_order is not None:
            return self.flat_per_order if prior_turnover == 0 else Decimal(0)
        rate = self._rate_for(fill.liquidity)
        if self.base:
            return rate * sum((earlier.get(kind, Decimal(0)) for kind in self.base), Decimal(0))
        if self.per_order_cap is None:
            return rate * turnover
        cap = self.per_order_cap
        return min(cap, rate * (prior_turnover + turnover)) - min(cap, rate * prior_turnover)

    def round(self, amount: Decimal) -> Decimal:
        """Apply this component's rounding, then MONEY_PRECISION (both half up)."""
        if self.round_to is not None:
            amount = amount.quantize(self.round_to, rounding=ROUND_HALF_UP, context=_ROUNDING)
        return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP, context=_ROUNDING)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeModel:
    """A named fee schedule for one venue segment and product.

    Attributes:
        name: Selection key, e.g. ``zerodha.equity.intraday``, ``binance.spot``.
        description: One line for humans.
        venues: Venues whose instruments it prices.
        kinds: Instrument kinds it prices.
        products: Products it prices (``{Product.NONE}`` for crypto venues).
        currencies: Settlement currencies it prices; empty means any (a crypto venue's fee is
            a fraction of turnover in whatever currency the pair is quoted in).
        components: The components, in computation order.
        origin: The data file it was loaded from.
    """

    name: str
    description: str
    venues: frozenset[Venue]
    kinds: frozenset[InstrumentKind]
    products: frozenset[Product]
    currencies: frozenset[str]
    components: tuple[FeeComponentSpec, ...]
    origin: str = ""

    def check(self, fill: FeeInput) -> None:
        """Check that this model can price the fill.

        Raises:
            FeeInputError: Non-positive price or quantity, negative prior turnover, or a venue,
                instrument kind, product or currency this model does not cover.
        """
        instrument = fill.instrument
        what = f"fee model {self.name!r}: fill of {instrument.name}"
        for name in ("price", "quantity", "order_filled_notional"):
            value = getattr(fill, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise FeeInputError(f"{what}: {name} must be a raw int, got {value!r}")
        if fill.quantity <= 0:
            raise FeeInputError(f"{what}: quantity must be > 0, got raw {fill.quantity}")
        if fill.price <= 0:
            raise FeeInputError(f"{what}: price must be > 0, got raw {fill.price}")
        if fill.order_filled_notional < 0:
            raise FeeInputError(
                f"{what}: order_filled_notional must be >= 0, got {fill.order_filled_notional}"
            )
        if not isinstance(fill.side, Side):
            raise FeeInputError(f"{what}: side must be a Side, got {fill.side!r}")
        if instrument.venue not in self.venues:
            raise FeeInputError(
                f"{what}: venue {instrument.venue.name} is not one of "
                f"{sorted(v.name for v in self.venues)}"
            )
        if instrument.kind not in self.kinds:
            raise FeeInputError(
                f"{what}: instrument kind {instrument.kind.name} is not one of "
                f"{sorted(k.name for k in self.kinds)}"
            )
        if fill.product not in self.products:
            raise FeeInputError(
                f"{what}: product {fill.product.name} is not one of "
                f"{sorted(p.name for p in self.products)}"
            )
        if self.currencies and instrument.currency not in self.currencies:
            raise FeeInputError(
                f"{what}: currency {instrument.currency} is not one of {sorted(self.currencies)}"
            )

    def fee(self, fill: FeeInput) -> FeeBreakdown:
        """Price one fill.

        Args:
            fill: The fill.

        Returns:
            The breakdown, in the instrument's currency.

        Raises:
            FeeInputError: The model cannot price this fill (see :meth:`check`).
        """
        self.check(fill)
        turnover = fill.turnover()
        prior = fixed.from_raw(fill.order_filled_notional, fixed.MONEY_PRECISION)
        earlier: dict[FeeComponentKind, Decimal] = {}
        amounts: list[FeeAmount] = []
        total = 0
        with localcontext(_EXACT):
            for spec in self.components:
                value = spec.round(spec.compute(fill, turnover, prior, earlier))
                earlier[spec.kind] = earlier.get(spec.kind, Decimal(0)) + value
                raw = fixed.to_raw(value, fixed.MONEY_PRECISION)
                amounts.append(FeeAmount(spec.kind, spec.label, raw))
                total += raw
        if not fixed.INT64_MIN <= total <= fixed.INT64_MAX:
            raise FeeInputError(f"fee model {self.name!r}: total fee {total} overflows int64")
        return FeeBreakdown(self.name, fill.instrument.currency, tuple(amounts), total)
