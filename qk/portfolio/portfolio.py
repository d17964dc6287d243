"""The portfolio: positions per strategy and instrument, cash per strategy and currency, equity,
exposure, peak equity, drawdown and daily PnL, and their PositionUpdate / PortfolioSnapshot
records.

Cash convention (margin style, the same for every instrument): cash moves by deposits,
realised PnL and fees; buying does not spend the notional. So ``equity = cash + unrealised PnL``
(the PortfolioSnapshot definition). For a spot holding this gives the same equity as a
cash ledger that pays the notional (``cash - cost + quantity x mark`` = ``cash + unrealised``);
the notional shows up as exposure instead. Funding, interest and margin are not modelled yet
(``margin_used`` is 0 in records).

Levels: every strategy (id >= 1) has its own ledger per currency; strategy 0 is the account,
whose figures are the sums over all strategies plus its own deposits. Peak equity and the
day's starting equity move with deposits and withdrawals, so adding capital is never counted
as performance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Protocol

import numpy as np

from qk.instruments import Instrument, UnknownInstrumentError
from qk.portfolio.errors import CurrencyMismatchError, InvalidFillError
from qk.portfolio.fill import Fill
from qk.portfolio.money import EXACT, MONEY_QUANTUM, ROUNDING, money_to_raw, scaled
from qk.portfolio.position import Position, PositionChange
from qk.schemas import fixed
from qk.schemas.enums import Side

__all__ = [
    "ACCOUNT",
    "AccountState",
    "InstrumentSource",
    "Portfolio",
    "PositionChanged",
    "drawdown_fraction",
]

ACCOUNT = 0
"""Strategy id of the account level (records use 0 for "none / account level")."""

_U32_MAX = 2**32 - 1


class InstrumentSource(Protocol):
    """Where the portfolio looks instruments up (an :class:`~qk.instruments.InstrumentMaster`)."""

    def get(self, instrument_id: int) -> Instrument:
        """Return the instrument; raise UnknownInstrumentError if there is none."""
        ...


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """A fill changed a position (the event :meth:`Portfolio.apply_fill` returns).

    Attributes:
        strategy_id: Owner.
        instrument_id: Instrument.
        change: OPENED, INCREASED, REDUCED, CLOSED or FLIPPED.
        quantity: Signed open quantity after the fill (raw).
        closed_quantity: Quantity the fill closed (raw, unsigned).
        realized_pnl: Realised PnL of this fill (exact).
        fee: Fee of this fill (exact).
        client_order_id: Order of the fill.
        ts_event: Venue time of the fill.
    """

    strategy_id: int
    instrument_id: int
    change: PositionChange
    quantity: int
    closed_quantity: int
    realized_pnl: Decimal
    fee: Decimal
    client_order_id: int
    ts_event: int


@dataclass(frozen=True, slots=True)
class AccountState:
    """Totals of one strategy (or the account) in one currency at one instant; exact.

    Attributes:
        strategy_id: Strategy, or 0 for the account.
        currency: Currency of every amount.
        cash: Deposits + realised PnL - fees.
        realized_pnl: Realised PnL.
        unrealized_pnl: Unrealised PnL at the marks.
        fees: Fees paid.
        equity: cash + unrealised PnL.
        peak_equity: Highest equity seen (moved by deposits and withdrawals).
        drawdown: peak_equity - equity (>= 0).
        drawdown_fraction: drawdown / peak_equity, rounded half even to 8 decimals; 0 when the
            peak is not positive.
        day_pnl: equity - equity at the last session start (moved by deposits).
        gross_exposure: Sum of |mark x quantity x multiplier|.
        net_exposure: Sum of signed mark x quantity x multiplier.
        leverage: gross_exposure / equity rounded half even to 8 decimals; None when equity
            is not positive.
        position_count: Open (non-flat) positions.
    """

    strategy_id: int
    currency: str
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    equity: Decimal
    peak_equity: Decimal
    drawdown: Decimal
    drawdown_fraction: Decimal
    day_pnl: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    leverage: Decimal | None
    position_count: int


@dataclass(slots=True)
class _Ledger:
    """Cash and equity marks of one strategy (or the account's own deposits) in one currency."""

    cash: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)
    day_start_equity: Decimal = Decimal(0)
    positions: list[Position] = field(default_factory=list)


class Portfolio:
    """Positions, cash and risk figures of every strategy, exact.

    ::

        portfolio = Portfolio(master)
        portfolio.deposit("USDT", "10000", strategy_id=1)
        portfolio.apply_fill(Fill(strategy_id=1, instrument_id=7, side=Side.BUY, price=...,
                                  quantity=..., fee=..., fee_currency="USDT"))
        portfolio.mark(7, last_price_raw)
        portfolio.account("USDT", strategy_id=1).drawdown
    """

    def __init__(self, instruments: InstrumentSource) -> None:
        """Create an empty portfolio.

        Args:
            instruments: Instrument lookup (the instrument master).
        """
        self._instruments = instruments
        self._positions: dict[tuple[int, int], Position] = {}
        self._by_instrument: dict[int, list[Position]] = {}
        self._ledgers: dict[tuple[int, str], _Ledger] = {}
        # The account level's peak and day start, per currency (its cash is in its own ledger).
        self._account_peak: dict[str, Decimal] = {}
        self._account_day_start: dict[str, Decimal] = {}
        self.session_start: int = 0
        """ts_event of the last :meth:`start_session` (0 before any)."""

    # -- commands -----------------------------------------------------------------------------

    def deposit(
        self, currency: str, amount: Decimal | str | int, strategy_id: int = ACCOUNT
    ) -> None:
        """Add (or, if negative, withdraw) cash. Not performance: peak equity and the day's
        starting equity move by the same amount.

        Args:
            currency: Currency code, e.g. ``USDT``, ``INR``.
            amount: Exact amount (a Decimal, a decimal string or an int; floats are refused).
            strategy_id: Strategy whose ledger it goes to; 0 = the account.

        Raises:
            InvalidFillError: Bad currency, amount or strategy id.
        """
        if not isinstance(currency, str) or not currency or not currency.isascii():
            raise InvalidFillError(f"deposit: currency must be an ASCII code, got {currency!r}")
        if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
            raise InvalidFillError(
                f"deposit: amount must be a Decimal, decimal string or int, got {amount!r}"
            )
        try:
            value = Decimal(amount)
        except ArithmeticError:
            raise InvalidFillError(f"deposit: {amount!r} is not a decimal number") from None
        if not value.is_finite():
            raise InvalidFillError(f"deposit: {amount!r} is not finite")
        self._check_strategy(strategy_id, allow_account=True, what="deposit")
        with localcontext(EXACT):
            ledger = self._ledger(strategy_id, currency)
            ledger.cash += value
            ledger.peak_equity += value
            ledger.day_start_equity += value
            self._account_peak[currency] = self._account_peak.get(currency, Decimal(0)) + value
            self._account_day_start[currency] = (
                self._account_day_start.get(currency, Decimal(0)) + value
            )
            self._refresh_peaks(currency, (strategy_id,))

    def apply_fill(self, fill: Fill) -> PositionChanged:
        """Apply one fill to its strategy's position, cash and fees.

        Args:
            fill: The fill.

        Returns:
            What it changed.

        Raises:
            UnknownInstrumentError: The instrument id is not in the instrument master.
            InvalidFillError: Non-positive quantity or price, bad side or strategy id.
            CurrencyMismatchError: The fee is not in the instrument's currency.
        """
        self._check_strategy(fill.strategy_id, allow_account=False, what="fill")
        instrument = self._instrument(fill.instrument_id, fill.strategy_id)
        side = self._check_fill(fill, instrument)
        key = (fill.strategy_id, fill.instrument_id)
        position = self._positions.get(key)
        with localcontext(EXACT):
            if position is None:
                position = Position(fill.strategy_id, instrument)
                self._positions[key] = position
                self._by_instrument.setdefault(fill.instrument_id, []).append(position)
                self._ledger(fill.strategy_id, instrument.currency).positions.append(position)
            result = position.apply(side, fill.price, fill.quantity, fill.fee)
            realized = scaled(result.realized, position.pnl_scale)
            fee = fixed.from_raw(fill.fee, fixed.MONEY_PRECISION)
            self._ledger(fill.strategy_id, instrument.currency).cash += realized - fee
            # The fill moved this instrument's mark for every strategy holding it.
            for other in self._by_instrument[fill.instrument_id]:
                other.mark(fill.price)
            self._refresh_peaks(instrument.currency, self._holders(fill.instrument_id))
        return PositionChanged(
            strategy_id=fill.strategy_id,
            instrument_id=fill.instrument_id,
            change=result.change,
            quantity=position.quantity,
            closed_quantity=result.closed_quantity,
            realized_pnl=realized,
            fee=fee,
            client_order_id=fill.client_order_id,
            ts_event=fill.ts_event,
        )

    def mark(self, instrument_id: int, price: int) -> None:
        """Mark every position in an instrument to a last price.

        Args:
            instrument_id: Instrument.
            price: Price raw at the instrument's price_precision; > 0.

        Raises:
            UnknownInstrumentError: Unknown instrument id.
            InvalidFillError: Non-positive price.
        """
        instrument = self._instrument(instrument_id, None)
        if isinstance(price, bool) or not isinstance(price, int | np.integer) or price <= 0:
            raise InvalidFillError(
                f"mark of {instrument.name}: price must be a raw int > 0, got {price!r}"
            )
        positions = self._by_instrument.get(instrument_id, [])
        for position in positions:
            position.mark(int(price))
        if positions:
            with localcontext(EXACT):
                self._refresh_peaks(instrument.currency, self._holders(instrument_id))

    def start_session(self, ts_event: int) -> None:
        """Start a trading day: daily PnL counts from the equity of now.

        The caller decides where sessions start (the exchange calendar: 09:15 IST for NSE,
        00:00 UTC for crypto); the portfolio does not read a clock.

        Args:
            ts_event: Session start, ns since epoch UTC.
        """
        with localcontext(EXACT):
            for (strategy_id, currency), ledger in self._ledgers.items():
                if strategy_id != ACCOUNT:
                    ledger.day_start_equity = self._equity(strategy_id, currency)
            for currency in self.currencies():
                self._account_day_start[currency] = self._equity(ACCOUNT, currency)
        self.session_start = ts_event

    # -- queries ------------------------------------------------------------------------------

    def position(self, strategy_id: int, instrument_id: int) -> Position | None:
        """The position of a strategy in an instrument, None if it never traded it."""
        return self._positions.get((strategy_id, instrument_id))

    def positions(self, strategy_id: int | None = None) -> Iterator[Position]:
        """Every position (flat ones included), optionally of one strategy."""
        for (owner, _), position in self._positions.items():
            if strategy_id is None or owner == strategy_id:
                yield position

    def holds(self, instrument_id: int) -> bool:
        """True when some strategy has a non-flat position in the instrument (its marks then
        move equity)."""
        return any(p.quantity != 0 for p in self._by_instrument.get(instrument_id, ()))

    def equity_at(self, currency: str, strategy_id: int, instrument_id: int, price: int) -> Decimal:
        """Equity of a strategy (or the account, 0) if ``instrument_id`` were marked at ``price``
        (raw) and every other position stayed at its mark. Changes nothing: the backtest asks it
        to bound what a run of marks could do to the post-trade limits before it skips them."""
        with localcontext(EXACT):
            equity = self._cash(strategy_id, currency)
            for p in self._positions_of(strategy_id, currency):
                raw = (
                    p.unrealized_raw_at(price)
                    if p.instrument.instrument_id == instrument_id
                    else p.unrealized_raw()
                )
                equity += scaled(raw, p.pnl_scale)
            return equity

    def equity(self, currency: str, strategy_id: int = ACCOUNT) -> Decimal:
        """Cash plus unrealised PnL of a strategy (0: the account) in one currency, exact."""
        with localcontext(EXACT):
            return self._equity(strategy_id, currency)

    def peak_and_day_start(
        self, currency: str, strategy_id: int = ACCOUNT
    ) -> tuple[Decimal, Decimal]:
        """Peak equity and the equity at the last session start of a strategy (0: the account)."""
        return self._marks(strategy_id, currency)

    def currencies(self) -> list[str]:
        """Every currency with a ledger, sorted."""
        return sorted({currency for _, currency in self._ledgers})

    def account(self, currency: str, strategy_id: int = ACCOUNT) -> AccountState:
        """Totals of a strategy (or of the account, strategy 0) in one currency.

        Raises:
            CurrencyMismatchError: No ledger in that currency.
        """
        if currency not in self.currencies():
            raise CurrencyMismatchError(
                f"no cash or positions in {currency!r}; currencies: {self.currencies()}"
            )
        with localcontext(EXACT):
            positions = self._positions_of(strategy_id, currency)
            realized = sum((p.realized_pnl() for p in positions), Decimal(0))
            unrealized = sum((p.unrealized_pnl() for p in positions), Decimal(0))
            fees = sum((p.fees_value() for p in positions), Decimal(0))
            notionals = [p.notional() for p in positions]
            gross = sum((abs(n) for n in notionals), Decimal(0))
            net = sum(notionals, Decimal(0))
            cash = self._cash(strategy_id, currency)
            equity = cash + unrealized
            peak, day_start = self._marks(strategy_id, currency)
            drawdown = max(peak - equity, Decimal(0))
        return AccountState(
            strategy_id=strategy_id,
            currency=currency,
            cash=cash,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            fees=fees,
            equity=equity,
            peak_equity=peak,
            drawdown=drawdown,
            drawdown_fraction=drawdown_fraction(peak, equity),
            day_pnl=equity - day_start,
            gross_exposure=gross,
            net_exposure=net,
            leverage=_ratio(gross, equity) if equity > 0 else None,
            position_count=sum(1 for p in positions if p.quantity != 0),
        )

    # -- records ------------------------------------------------------------------------------

    def write_position_update(
        self,
        row: np.void,
        strategy_id: int,
        instrument_id: int,
        *,
        ts_event: int,
        ts_recv: int = 0,
        seq: int = 0,
        client_order_id: int = 0,
    ) -> None:
        """Fill a PositionUpdate record (a row of ``new_records("PositionUpdate")``).

        Money fields are rounded half even to MONEY_PRECISION; ``avg_price`` half even to the
        average-price precision; ``margin_used`` is 0 (margin is not modelled yet).

        Raises:
            InvalidFillError: The strategy never traded the instrument.
            FixedPointOverflowError: An amount does not fit int64.
        """
        position = self._positions.get((strategy_id, instrument_id))
        if position is None:
            raise InvalidFillError(
                f"strategy {strategy_id} has no position in instrument {instrument_id}"
            )
        with localcontext(EXACT):
            row["seq"] = seq
            row["ts_event"] = ts_event
            row["ts_recv"] = ts_recv
            row["strategy_id"] = strategy_id
            row["instrument_id"] = instrument_id
            row["quantity"] = position.quantity
            row["avg_price"] = position.average_price_raw()
            row["realized_pnl"] = money_to_raw(position.realized_pnl(), "realized_pnl")
            row["unrealized_pnl"] = money_to_raw(position.unrealized_pnl(), "unrealized_pnl")
            row["fees"] = position.fees
            row["mark_price"] = position.mark_price
            row["margin_used"] = 0
            row["currency"] = position.instrument.currency.encode("ascii")
            row["client_order_id"] = client_order_id

    def write_snapshot(
        self,
        row: np.void,
        currency: str,
        strategy_id: int = ACCOUNT,
        *,
        ts_event: int,
        ts_recv: int = 0,
        seq: int = 0,
        open_order_count: int = 0,
    ) -> AccountState:
        """Fill a PortfolioSnapshot record (all venues: ``venue`` 0) and return the state.

        Money fields are rounded half even to MONEY_PRECISION; ``margin_used`` is 0 and
        ``margin_available`` is the equity (margin is not modelled yet).

        Raises:
            CurrencyMismatchError: No ledger in that currency.
            FixedPointOverflowError: An amount does not fit int64.
        """
        state = self.account(currency, strategy_id)
        row["seq"] = seq
        row["ts_event"] = ts_event
        row["ts_recv"] = ts_recv
        row["strategy_id"] = strategy_id
        row["venue"] = 0
        row["currency"] = currency.encode("ascii")
        for name in (
            "equity",
            "cash",
            "realized_pnl",
            "unrealized_pnl",
            "fees",
            "gross_exposure",
            "net_exposure",
            "day_pnl",
            "peak_equity",
        ):
            row[name] = money_to_raw(getattr(state, name), name)
        row["margin_used"] = 0
        row["margin_available"] = money_to_raw(state.equity, "margin_available")
        row["position_count"] = state.position_count
        row["open_order_count"] = open_order_count
        return state

    # -- internals ----------------------------------------------------------------------------

    def _instrument(self, instrument_id: int, strategy_id: int | None) -> Instrument:
        try:
            return self._instruments.get(instrument_id)
        except UnknownInstrumentError as exc:
            who = "mark" if strategy_id is None else f"fill of strategy {strategy_id}"
            raise UnknownInstrumentError(f"{who}: {exc}") from None

    @staticmethod
    def _check_strategy(strategy_id: int, *, allow_account: bool, what: str) -> None:
        low = 0 if allow_account else 1
        if (
            isinstance(strategy_id, bool)
            or not isinstance(strategy_id, int)
            or not (low <= strategy_id <= _U32_MAX)
        ):
            raise InvalidFillError(
                f"{what}: strategy_id must be an int in {low}..{_U32_MAX}, got {strategy_id!r}"
                + ("" if allow_account else " (0 is the account level, which does not trade)")
            )

    @staticmethod
    def _check_fill(fill: Fill, instrument: Instrument) -> Side:
        what = f"fill of strategy {fill.strategy_id} in {instrument.name}"
        try:
            side = Side(fill.side)
        except ValueError:
            raise InvalidFillError(f"{what}: side {fill.side!r} is not BUY or SELL") from None
        for name in ("price", "quantity", "fee"):
            value = getattr(fill, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidFillError(f"{what}: {name} must be a raw int, got {value!r}")
            if not fixed.INT64_MIN <= value <= fixed.INT64_MAX:
                raise InvalidFillError(f"{what}: {name} {value} is outside int64")
        if fill.quantity <= 0:
            raise InvalidFillError(f"{what}: quantity must be > 0, got raw {fill.quantity}")
        if fill.price <= 0:
            raise InvalidFillError(f"{what}: price must be > 0, got raw {fill.price}")
        if fill.fee_currency != instrument.currency and (fill.fee != 0 or fill.fee_currency):
            raise CurrencyMismatchError(
                f"{what}: fee is in {fill.fee_currency or '(no currency)'!s}, the instrument "
                f"settles in {instrument.currency}; convert the fee before applying the fill"
            )
        return side

    def _ledger(self, strategy_id: int, currency: str) -> _Ledger:
        key = (strategy_id, currency)
        ledger = self._ledgers.get(key)
        if ledger is None:
            ledger = self._ledgers[key] = _Ledger()
            self._account_peak.setdefault(currency, Decimal(0))
            self._account_day_start.setdefault(currency, Decimal(0))
        return ledger

    def _holders(self, instrument_id: int) -> list[int]:
        return [p.strategy_id for p in self._by_instrument.get(instrument_id, [])]

    def _positions_of(self, strategy_id: int, currency: str) -> list[Position]:
        if strategy_id != ACCOUNT:
            ledger = self._ledgers.get((strategy_id, currency))
            return ledger.positions if ledger is not None else []
        return [
            position
            for (_, ledger_currency), ledger in self._ledgers.items()
            if ledger_currency == currency
            for position in ledger.positions
        ]

    def _cash(self, strategy_id: int, currency: str) -> Decimal:
        if strategy_id != ACCOUNT:
            ledger = self._ledgers.get((strategy_id, currency))
            return ledger.cash if ledger is not None else Decimal(0)
        return sum(
            (ledger.cash for (_, c), ledger in self._ledgers.items() if c == currency), Decimal(0)
        )

    def _equity(self, strategy_id: int, currency: str) -> Decimal:
        unrealized = sum(
            (p.unrealized_pnl() for p in self._positions_of(strategy_id, currency)), Decimal(0)
        )
        return self._cash(strategy_id, currency) + unrealized

    def _marks(self, strategy_id: int, currency: str) -> tuple[Decimal, Decimal]:
        if strategy_id == ACCOUNT:
            return self._account_peak[currency], self._account_day_start[currency]
        ledger = self._ledgers[(strategy_id, currency)]
        return ledger.peak_equity, ledger.day_start_equity

    def _refresh_peaks(self, currency: str, strategy_ids: list[int] | tuple[int, ...]) -> None:
        for strategy_id in set(strategy_ids):
            if strategy_id == ACCOUNT:
                continue
            ledger = self._ledgers[(strategy_id, currency)]
            ledger.peak_equity = max(ledger.peak_equity, self._equity(strategy_id, currency))
        self._account_peak[currency] = max(
            self._account_peak[currency], self._equity(ACCOUNT, currency)
        )


def drawdown_fraction(peak: Decimal, equity: Decimal) -> Decimal:
    """``(peak - equity) / peak`` as :class:`AccountState` reports it (0 at or above the peak,
    or when the peak is not positive)."""
    if peak <= 0:
        return Decimal(0)
    with localcontext(EXACT):
        return _ratio(max(peak - equity, Decimal(0)), peak)


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """``numerator / denominator`` rounded half even to 8 decimals (a reported ratio, not money)."""
    quotient = ROUNDING.divide(numerator, denominator)
    return quotient.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=ROUNDING)
