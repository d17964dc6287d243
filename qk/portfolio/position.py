"""One position (strategy x instrument) with FIFO lots, exact to the last digit.

Accounting rule: **FIFO**. A fill that reduces a position closes the oldest open lots first;
realised PnL is ``(exit price - lot price) x closed quantity x multiplier`` per lot (sign flipped
for shorts). FIFO was chosen over average cost because it never divides: every realised and
unrealised amount is a sum of products of fixed-point integers, so it is exact, and it is the
lot order Indian tax rules use for equity. The average entry price is reported too, as the exact
ratio ``cost of the open lots / open quantity``; only the record field rounds it.

Scales: with ``p`` = price_precision, ``s`` = size_precision and ``m`` = MULTIPLIER_PRECISION,
``quantity`` is at ``s``, ``cost`` (sum of lot price x signed lot quantity) at ``p + s``, and PnL
at ``p + s + m`` (:attr:`Position.pnl_scale`). Python ints do not overflow, so nothing here
rounds or wraps; conversion to Decimal (:meth:`Position.realized_pnl`) is exact too.

How a fill changes the position is one table, :data:`TRANSITIONS`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction

from qk.instruments import Instrument
from qk.portfolio.errors import PositionStateError
from qk.portfolio.money import scaled
from qk.schemas import fixed
from qk.schemas.enums import Side

__all__ = [
    "TRANSITIONS",
    "FillResult",
    "FillSize",
    "Position",
    "PositionChange",
    "PositionSide",
]


class PositionSide(IntEnum):
    """Direction of a position. Stable codes."""

    FLAT = 0
    """No open quantity."""
    LONG = 1
    """Positive quantity."""
    SHORT = 2
    """Negative quantity."""


class FillSize(IntEnum):
    """How a fill's quantity compares with the open quantity it trades against."""

    NOT_OPPOSITE = 0
    """The position is flat or the fill is on the position's side: nothing is closed."""
    SMALLER = 1
    """Opposite side, smaller than the open quantity."""
    EQUAL = 2
    """Opposite side, exactly the open quantity."""
    LARGER = 3
    """Opposite side, larger than the open quantity."""


class PositionChange(IntEnum):
    """What a fill did to a position (past tense: it happened). Stable codes."""

    OPENED = 1
    """Flat to long or short."""
    INCREASED = 2
    """Added on the position's side."""
    REDUCED = 3
    """Closed part of it; same side remains."""
    CLOSED = 4
    """Closed exactly; now flat."""
    FLIPPED = 5
    """Closed all of it and opened the rest on the other side."""


_FLAT, _LONG, _SHORT = PositionSide.FLAT, PositionSide.LONG, PositionSide.SHORT
_BUY, _SELL = Side.BUY, Side.SELL
_SAME, _SMALLER, _EQUAL, _LARGER = (
    FillSize.NOT_OPPOSITE,
    FillSize.SMALLER,
    FillSize.EQUAL,
    FillSize.LARGER,
)
_C = PositionChange

# fmt: off
TRANSITIONS: dict[tuple[PositionSide, Side, FillSize], tuple[PositionChange, PositionSide]] = {
    # position  fill   fill size     change         new position
    (_FLAT,     _BUY,  _SAME):      (_C.OPENED,     _LONG),
    (_FLAT,     _SELL, _SAME):      (_C.OPENED,     _SHORT),
    (_LONG,     _BUY,  _SAME):      (_C.INCREASED,  _LONG),
    (_LONG,     _SELL, _SMALLER):   (_C.REDUCED,    _LONG),
    (_LONG,     _SELL, _EQUAL):     (_C.CLOSED,     _FLAT),
    # Through zero: the fill closes every long lot and opens one short lot with the rest.
    (_LONG,     _SELL, _LARGER):    (_C.FLIPPED,    _SHORT),
    (_SHORT,    _SELL, _SAME):      (_C.INCREASED,  _SHORT),
    (_SHORT,    _BUY,  _SMALLER):   (_C.REDUCED,    _SHORT),
    (_SHORT,    _BUY,  _EQUAL):     (_C.CLOSED,     _FLAT),
    (_SHORT,    _BUY,  _LARGER):    (_C.FLIPPED,    _LONG),
}
# fmt: on
"""``(side of the position, side of the fill, size of the fill) -> (change, new side)``. The only
place a position's direction changes; any other combination is a :class:`PositionStateError`."""


@dataclass(slots=True)
class _Lot:
    price: int
    quantity: int  # signed: > 0 long lot, < 0 short lot


@dataclass(frozen=True, slots=True)
class FillResult:
    """What applying one fill did (internal to the portfolio)."""

    change: PositionChange
    realized: int  # at pnl_scale
    closed_quantity: int  # unsigned, raw


class Position:
    """A position of one strategy in one instrument (and so one venue).

    Attributes:
        strategy_id: Owner.
        instrument: The instrument.
        quantity: Signed open quantity, raw at size_precision.
        cost: Sum over open lots of price x signed quantity (raw at price_p + size_p).
        realized: Realised PnL, raw at :attr:`pnl_scale`.
        fees: Fees charged on this position's fills, money raw at MONEY_PRECISION.
        pnl_scale: Decimals of ``realized``, :meth:`unrealized_raw` and :meth:`notional_raw`.
        mark_price: Last price used for unrealised PnL (raw at price_precision); a fill sets it
            to the fill price until a newer market price arrives.
        fill_count: Fills applied.
    """

    __slots__ = (
        "_lots",
        "_multiplier",
        "cost",
        "fees",
        "fill_count",
        "instrument",
        "mark_price",
        "pnl_scale",
        "quantity",
        "realized",
        "strategy_id",
    )

    def __init__(self, strategy_id: int, instrument: Instrument) -> None:
        """Open a flat position."""
        self.strategy_id = strategy_id
        self.instrument = instrument
        self.quantity = 0
        self.cost = 0
        self.realized = 0
        self.fees = 0
        self.mark_price = 0
        self.fill_count = 0
        self._lots: deque[_Lot] = deque()
        self._multiplier = fixed.to_raw(instrument.multiplier, fixed.MULTIPLIER_PRECISION)
        self.pnl_scale = (
            instrument.price_precision + instrument.size_precision + fixed.MULTIPLIER_PRECISION
        )

    # -- state --------------------------------------------------------------------------------

    @property
    def side(self) -> PositionSide:
        """FLAT, LONG or SHORT."""
        if self.quantity > 0:
            return PositionSide.LONG
        if self.quantity < 0:
            return PositionSide.SHORT
        return PositionSide.FLAT

    @property
    def lots(self) -> tuple[tuple[int, int], ...]:
        """Open lots, oldest first, as ``(price raw, signed quantity raw)``."""
        return tuple((lot.price, lot.quantity) for lot in self._lots)

    def average_price(self) -> Fraction | None:
        """Exact average entry price of the open lots (price units), None when flat."""
        if self.quantity == 0:
            return None
        return Fraction(self.cost, self.quantity * 10**self.instrument.price_precision)

    def average_price_raw(self) -> int:
        """Average entry price for the record field: raw at price_precision +
        AVERAGE_PRICE_EXTRA_PRECISION, rounded half even; 0 when flat."""
        if self.quantity == 0:
            return 0
        numerator = self.cost * 10**fixed.AVERAGE_PRICE_EXTRA_PRECISION
        return round(Fraction(numerator, self.quantity))

    def unrealized_raw(self) -> int:
        """Unrealised PnL at :attr:`mark_price`, raw at :attr:`pnl_scale`."""
        return (self.mark_price * self.quantity - self.cost) * self._multiplier

    def unrealized_raw_at(self, price: int) -> int:
        """Unrealised PnL if marked at ``price`` (raw), raw at :attr:`pnl_scale`; no change."""
        return (price * self.quantity - self.cost) * self._multiplier

    def notional_raw(self) -> int:
        """Signed ``mark x quantity x multiplier``, raw at :attr:`pnl_scale`."""
        return self.mark_price * self.quantity * self._multiplier

    def realized_pnl(self) -> Decimal:
        """Realised PnL (exact)."""
        return scaled(self.realized, self.pnl_scale)

    def unrealized_pnl(self) -> Decimal:
        """Unrealised PnL at the mark (exact)."""
        return scaled(self.unrealized_raw(), self.pnl_scale)

    def notional(self) -> Decimal:
        """Signed market value at the mark (exact): > 0 long, < 0 short."""
        return scaled(self.notional_raw(), self.pnl_scale)

    def fees_value(self) -> Decimal:
        """Fees (exact)."""
        return fixed.from_raw(self.fees, fixed.MONEY_PRECISION)

    # -- changes ------------------------------------------------------------------------------

    def apply(self, side: Side, price: int, quantity: int, fee: int) -> FillResult:
        """Apply one validated fill (quantity > 0, price > 0) through :data:`TRANSITIONS`.

        Returns:
            The change, the realised PnL it produced (raw at pnl_scale) and the quantity it
            closed.

        Raises:
            PositionStateError: The table has no entry for the state (a bug).
        """
        open_size = abs(self.quantity)
        opposite = (side is Side.BUY and self.quantity < 0) or (
            side is Side.SELL and self.quantity > 0
        )
        if not opposite:
            size = FillSize.NOT_OPPOSITE
        elif quantity < open_size:
            size = FillSize.SMALLER
        elif quantity == open_size:
            size = FillSize.EQUAL
        else:
            size = FillSize.LARGER
        key = (self.side, side, size)
        try:
            change, next_side = TRANSITIONS[key]
        except KeyError:
            raise PositionStateError(
                f"no position transition for {key[0].name} + {side.name} fill "
                f"({size.name}) on {self.instrument.name}"
            ) from None
        closing = min(quantity, open_size) if opposite else 0
        realized = self._close(price, closing) if closing else 0
        opening = quantity - closing
        if opening:
            signed = opening if side is Side.BUY else -opening
            self._lots.append(_Lot(price, signed))
            self.quantity += signed
            self.cost += price * signed
        if self.side is not next_side:
            raise PositionStateError(
                f"{change.name} on {self.instrument.name} left the position {self.side.name}, "
                f"the table says {next_side.name}"
            )
        self.realized += realized
        self.fees += fee
        self.mark_price = price
        self.fill_count += 1
        return FillResult(change, realized, closing)

    def _close(self, price: int, quantity: int) -> int:
        """Close ``quantity`` (unsigned) FIFO at ``price``; returns realised PnL at pnl_scale."""
        realized = 0
        remaining = quantity
        while remaining:
            lot = self._lots[0]
            take = min(remaining, abs(lot.quantity))
            signed = take if lot.quantity > 0 else -take
            realized += (price - lot.price) * signed
            self.cost -= lot.price * signed
            self.quantity -= signed
            remaining -= take
            if take == abs(lot.quantity):
                self._lots.popleft()
            else:
                lot.quantity -= signed
        return realized * self._multiplier

    def mark(self, price: int) -> None:
        """Set the mark price (raw at price_precision) used for unrealised PnL."""
        self.mark_price = price
