"""Backtest metrics: fills with their slippage, round-trip trades, the trade distribution,
monthly returns, exposure and turnover, slippage by instrument and the summary numbers.

Every formula is written down in ``docs/reports.md``. Amounts are exact Decimals (sums and
products run in :data:`qk.portfolio.money.EXACT`, which raises rather than rounds); ratios are
floats written with :data:`DIGITS` significant digits so their text is the same on every run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, Inexact, localcontext
from typing import Any, Final

import numpy as np

from qk.backtest.engine import BacktestResult
from qk.instruments import Instrument
from qk.orders import Order
from qk.portfolio.money import EXACT, MONEY_QUANTUM, ROUNDING
from qk.schemas.enums import Side
from qk.schemas.fixed import MONEY_PRECISION, from_raw

__all__ = [
    "DIGITS",
    "ORDER_COLUMNS",
    "FillRow",
    "MonthlyReturn",
    "OpenTrade",
    "RoundTrip",
    "TurnoverBuckets",
    "fill_rows",
    "monthly_returns",
    "monthly_turnover",
    "number",
    "order_row",
    "plain",
    "pnl_histogram",
    "round_trips",
    "slippage_by_instrument",
    "summarize",
    "trade_statistics",
    "turnover_buckets",
    "yearly_returns",
]

YEAR_NS: Final = 365 * 86_400 * 1_000_000_000
"""Annualisation: calendar year (crypto trades 24/7), ns."""
_BPS: Final = Decimal(10_000)
DIGITS: Final = 12
"""Significant digits of the float metrics in summary.json (stable text across runs)."""
HISTOGRAM_BINS: Final = 20
"""Target number of bins of the trade PnL histogram (one more when zero must be an edge)."""
TURNOVER_BUCKETS_NS: Final = (
    60, 300, 900, 3_600, 4 * 3_600, 86_400, 7 * 86_400, 30 * 86_400, 365 * 86_400,
)  # fmt: skip
"""Candidate widths of the turnover-over-time buckets, seconds; the smallest that gives at most
``max_buckets`` buckets over the run is used."""


@dataclass(frozen=True, slots=True)
class FillRow:
    """One execution, with what it cost against the decision price.

    Attributes:
        ts_ns: Fill time.
        client_order_id: Order it filled.
        trade_id: Simulated venue trade id.
        side: Buy or sell.
        price: Fill price.
        quantity: Fill quantity.
        fee: Fee, money (negative: rebate).
        fee_currency: Fee currency, empty when no fee model.
        liquidity: MAKER / TAKER.
        decision_price: Last trade price when the order was created; 0 when no trade of the
            instrument had been seen yet (then the fill has no slippage attribution).
        slippage: (price - decision) x quantity x multiplier, signed so that a cost is positive;
            0 without a decision price.
        slippage_bps: The same per unit, in basis points of the decision price.
        instrument: Instrument name (``SYMBOL.VENUE``).
        notional: price x quantity x multiplier, in the instrument's currency.
    """

    ts_ns: int
    client_order_id: int
    trade_id: int
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str
    decision_price: Decimal
    slippage: Decimal
    slippage_bps: Decimal
    instrument: str
    notional: Decimal

    @property
    def attributed(self) -> bool:
        """Whether the fill has a decision price to measure slippage against."""
        return self.decision_price != 0


def fill_rows(result: BacktestResult) -> list[FillRow]:
    """Every fill of the run, in (time, trade id) order."""
    by_id = {i.instrument_id: i for i in result.deployment.instruments}
    rows: list[FillRow] = []
    for order in result.orders:
        instrument = by_id[order.instrument_id]
        decision = from_raw(result.decision_prices[order.client_order_id.value],
                            instrument.price_precision)  # fmt: skip
        sign = 1 if order.side == Side.BUY else -1
        for fill in order.fills:
            price = from_raw(fill.price, instrument.price_precision)
            quantity = from_raw(fill.quantity, instrument.size_precision)
            with localcontext(EXACT):
                # An order made before the first trade of its instrument has no decision
                # price; charging it price - 0 would swamp every real slippage figure.
                per_unit = (price - decision) * sign if decision else Decimal(0)
                slippage = per_unit * quantity * instrument.multiplier
                notional = price * quantity * instrument.multiplier
            bps = (
                (per_unit / decision * _BPS).quantize(Decimal("0.01"), context=ROUNDING)
                if decision
                else Decimal(0)
            )
            rows.append(
                FillRow(
                    ts_ns=fill.ts_event,
                    client_order_id=order.client_order_id.value,
                    trade_id=fill.trade_id,
                    side=order.side,
                    price=price,
                    quantity=quantity,
                    fee=from_raw(fill.fee, MONEY_PRECISION),
                    fee_currency=fill.fee_currency,
                    liquidity=fill.liquidity.name,
                    decision_price=decision,
                    slippage=slippage,
                    slippage_bps=bps,
                    instrument=instrument.name,
                    notional=notional,
                )
            )
    rows.sort(key=lambda r: (r.ts_ns, r.trade_id))
    return rows


def plain(value: Decimal) -> str:
    """A Decimal as plain digits (no exponent, ``-0`` as ``0``), for stable CSV and JSON text."""
    text = format(value, "f")
    return "0" if text.lstrip("-").strip("0.") == "" else text


def number(value: float | Decimal | None) -> float | None:
    """A float metric for JSON: :data:`DIGITS` significant digits, None when not finite."""
    if value is None:
        return None
    as_float = float(value)
    if not math.isfinite(as_float):
        return None
    return float(f"{as_float:.{DIGITS}g}") + 0.0  # + 0.0 turns -0.0 into 0.0


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return ROUNDING.divide(numerator, denominator)


# -- round trips ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A closed trade: the FIFO-matched entry and exit of one entry order's quantity.

    Attributes:
        instrument: Instrument name.
        direction: ``LONG`` (entered with a buy) or ``SHORT``.
        entry_order_id: Client order id of the entry.
        exit_order_id: Client order id of the last exit fill matched.
        entry_ts_ns: First entry fill time.
        exit_ts_ns: Last exit fill time.
        quantity: Quantity closed.
        entry_price: Volume-weighted entry price of the closed quantity.
        exit_price: Volume-weighted exit price.
        gross_pnl: Sum over matched pieces of (exit - entry) x quantity x multiplier, sign
            flipped for shorts (exact; equals the portfolio's FIFO realised PnL).
        fees: Entry and exit fees apportioned to the closed quantity.
        pnl: gross_pnl - fees.
        entry_notional: Entry price x quantity x multiplier.
        slippage: Entry and exit slippage apportioned to the closed quantity.
    """

    instrument: str
    direction: str
    entry_order_id: int
    exit_order_id: int
    entry_ts_ns: int
    exit_ts_ns: int
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    pnl: Decimal
    entry_notional: Decimal
    slippage: Decimal

    @property
    def holding_ns(self) -> int:
        """Exit time - entry time, ns."""
        return self.exit_ts_ns - self.entry_ts_ns

    @property
    def return_fraction(self) -> float:
        """pnl / entry notional (0 when the notional is 0)."""
        return float(_ratio(self.pnl, self.entry_notional)) if self.entry_notional else 0.0


@dataclass(frozen=True, slots=True)
class OpenTrade:
    """Quantity of one entry order still open at the end of the run.

    Attributes:
        instrument: Instrument name.
        direction: ``LONG`` or ``SHORT``.
        entry_order_id: Client order id of the entry.
        entry_ts_ns: First entry fill time.
        quantity: Open quantity.
        entry_price: Volume-weighted entry price of the open quantity.
        fees: Entry fees apportioned to the open quantity.
        slippage: Entry slippage apportioned to the open quantity.
    """

    instrument: str
    direction: str
    entry_order_id: int
    entry_ts_ns: int
    quantity: Decimal
    entry_price: Decimal
    fees: Decimal
    slippage: Decimal


@dataclass(slots=True)
class _Lot:
    """An open piece of a position: what is left of one opening fill."""

    order_id: int
    sign: int
    price: Decimal
    quantity: Decimal
    fee: Decimal
    slippage: Decimal


@dataclass(slots=True)
class _Trade:
    """What one entry order's lots have closed so far."""

    order_id: int
    sign: int
    entry_ts_ns: int
    open_lots: int = 0
    quantity: Decimal = Decimal(0)
    entry_value: Decimal = Decimal(0)
    exit_value: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)
    exit_order_id: int = 0
    exit_ts_ns: int = 0
    price_places: int = 0


@dataclass(slots=True)
class _Remaining:
    """The part of a fill not yet assigned to a lot or a match, with its unassigned costs."""

    quantity: Decimal
    fee: Decimal
    slippage: Decimal

    def take(self, quantity: Decimal) -> tuple[Decimal, Decimal]:
        """Fee and slippage shares of ``quantity``; the last share takes what is left, so the
        shares of a fill add up to its fee and slippage exactly."""
        if quantity == self.quantity:
            fee, slippage = self.fee, self.slippage
        else:
            fee = _share(self.fee, quantity, self.quantity)
            slippage = _share(self.slippage, quantity, self.quantity)
        with localcontext(EXACT):
            self.quantity -= quantity
            self.fee -= fee
            self.slippage -= slippage
        return fee, slippage


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """amount x part / whole: exact when it terminates, else rounded half even to 1e-8."""
    product = EXACT.multiply(amount, part)
    try:
        return EXACT.divide(product, whole)
    except Inexact:
        value = ROUNDING.divide(product, whole)
        return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=ROUNDING)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _average(value: Decimal, quantity: Decimal, places: int) -> Decimal:
    """value / quantity with 4 more decimals than the prices (as orders.csv's avg_price)."""
    quantum = Decimal(1).scaleb(-(places + 4))
    return _ratio(value, quantity).quantize(quantum, rounding=ROUND_HALF_EVEN, context=ROUNDING)


def round_trips(
    fills: Iterable[FillRow], multipliers: Mapping[str, Decimal]
) -> tuple[list[RoundTrip], list[OpenTrade]]:
    """Pair fills into round-trip trades, FIFO per instrument.

    A fill that adds to a position (or the part of a fill that reverses it) opens a lot; a fill
    against the position closes the oldest lots first, as the portfolio does. A round trip is
    what one entry order's lots closed: it ends when the last of them closes, so partial fills
    of one order make one trade. Fees and slippage are split by quantity, the last share
    taking the remainder so totals are kept exactly.

    Args:
        fills: Fills in time order (as :func:`fill_rows` returns them).
        multipliers: Contract multiplier by instrument name.

    Returns:
        Closed trades ordered by (exit time, entry time, entry order id), and what is still open
        at the end ordered by (instrument, entry time, entry order id). An entry order with both
        closed and open quantity at the end appears in both.

    Raises:
        KeyError: A fill of an instrument missing from ``multipliers``.
    """
    lots: dict[str, deque[_Lot]] = {}
    open_trades: dict[tuple[str, int], _Trade] = {}
    closed: list[RoundTrip] = []
    for fill in fills:
        multiplier = multipliers[fill.instrument]
        book = lots.setdefault(fill.instrument, deque())
        sign = 1 if fill.side == Side.BUY else -1
        rest = _Remaining(fill.quantity, fill.fee, fill.slippage)
        while rest.quantity and book and book[0].sign != sign:
            lot = book[0]
            take = min(rest.quantity, lot.quantity)
            exit_fee, exit_slippage = rest.take(take)
            lot_rest = _Remaining(lot.quantity, lot.fee, lot.slippage)
            entry_fee, entry_slippage = lot_rest.take(take)
            lot.quantity, lot.fee, lot.slippage = lot_rest.quantity, lot_rest.fee, lot_rest.slippage
            trade = open_trades[(fill.instrument, lot.order_id)]
            with localcontext(EXACT):
                trade.quantity += take
                trade.entry_value += lot.price * take
                trade.exit_value += fill.price * take
                trade.fees += entry_fee + exit_fee
                trade.slippage += entry_slippage + exit_slippage
            trade.exit_order_id = fill.client_order_id
            trade.exit_ts_ns = fill.ts_ns
            trade.price_places = max(trade.price_places, _places(fill.price))
            if not lot.quantity:
                book.popleft()
                trade.open_lots -= 1
                if not trade.open_lots:
                    del open_trades[(fill.instrument, lot.order_id)]
                    closed.append(_closed(fill.instrument, trade, multiplier))
        if rest.quantity:
            key = (fill.instrument, fill.client_order_id)
            trade = open_trades.get(key) or _Trade(fill.client_order_id, sign, fill.ts_ns)
            open_trades[key] = trade
            trade.open_lots += 1
            trade.price_places = max(trade.price_places, _places(fill.price))
            book.append(
                _Lot(fill.client_order_id, sign, fill.price, rest.quantity, rest.fee, rest.slippage)
            )
    still_open: list[OpenTrade] = []
    for (instrument, order_id), trade in open_trades.items():
        if trade.quantity:
            # Part of the order closed and part did not: the closed part is a trade of its own.
            closed.append(_closed(instrument, trade, multipliers[instrument]))
        mine = [lot for lot in lots[instrument] if lot.order_id == order_id]
        with localcontext(EXACT):
            quantity = sum((lot.quantity for lot in mine), Decimal(0))
            value = sum((lot.price * lot.quantity for lot in mine), Decimal(0))
            fees = sum((lot.fee for lot in mine), Decimal(0))
            slippage = sum((lot.slippage for lot in mine), Decimal(0))
        still_open.append(
            OpenTrade(
                instrument=instrument,
                direction="LONG" if trade.sign > 0 else "SHORT",
                entry_order_id=order_id,
                entry_ts_ns=trade.entry_ts_ns,
                quantity=quantity,
                entry_price=_average(value, quantity, trade.price_places),
                fees=fees,
                slippage=slippage,
            )
        )
    closed.sort(key=lambda t: (t.exit_ts_ns, t.entry_ts_ns, t.entry_order_id, t.instrument))
    still_open.sort(key=lambda t: (t.instrument, t.entry_ts_ns, t.entry_order_id))
    return closed, still_open


def _closed(instrument: str, trade: _Trade, multiplier: Decimal) -> RoundTrip:
    with localcontext(EXACT):
        gross = (trade.exit_value - trade.entry_value) * trade.sign * multiplier
        entry_notional = trade.entry_value * multiplier
        pnl = gross - trade.fees
    return RoundTrip(
        instrument=instrument,
        direction="LONG" if trade.sign > 0 else "SHORT",
        entry_order_id=trade.order_id,
        exit_order_id=trade.exit_order_id,
        entry_ts_ns=trade.entry_ts_ns,
        exit_ts_ns=trade.exit_ts_ns,
        quantity=trade.quantity,
        entry_price=_average(trade.entry_value, trade.quantity, trade.price_places),
        exit_price=_average(trade.exit_value, trade.quantity, trade.price_places),
        gross_pnl=gross,
        fees=trade.fees,
        pnl=pnl,
        entry_notional=entry_notional,
        slippage=trade.slippage,
    )


def pnl_histogram(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> dict[str, list[Any]]:
    """Equal-width histogram with 0 on a bin edge when the values straddle it.

    Bins are ``[edge_i, edge_{i+1})``, the last one closed. Equal values give one bin of width 1
    starting at ``floor(value)``.

    Returns:
        ``{"edges": [...], "counts": [...]}`` with ``len(edges) == len(counts) + 1``; both empty
        when there are no values.
    """
    if bins < 1:
        raise ValueError(f"pnl_histogram: bins must be >= 1, got {bins}")
    if not values:
        return {"edges": [], "counts": []}
    low, high = min(values), max(values)
    width = (high - low) / bins
    if width == 0:  # equal values, or a spread too small for a float width
        start, width, count = float(math.floor(low)), 1.0, 1
        if start + width < high:
            width = float(math.ceil(high)) - start
    else:
        # Starting on a multiple of the width puts 0 on an edge: wins and losses never share a
        # bin.
        start = math.floor(low / width) * width
        if start > low:  # low / width rounded up past an integer
            start -= width
        count = max(1, math.ceil((high - start) / width))
        if start + count * width < high:
            count += 1
    edges = [start + i * width for i in range(count + 1)]
    counts = [0] * count
    for value in values:
        index = min(int((value - start) // width), count - 1)
        counts[max(index, 0)] += 1
    return {"edges": [number(e) for e in edges], "counts": counts}


def _streaks(pnls: Sequence[Decimal]) -> tuple[int, int]:
    longest_win = longest_loss = run_win = run_loss = 0
    for pnl in pnls:
        run_win = run_win + 1 if pnl > 0 else 0
        run_loss = run_loss + 1 if pnl < 0 else 0
        longest_win = max(longest_win, run_win)
        longest_loss = max(longest_loss, run_loss)
    return longest_win, longest_loss


def trade_statistics(trips: Sequence[RoundTrip]) -> dict[str, Any]:
    """The trade distribution of closed round trips (definitions in ``docs/reports.md``).

    Args:
        trips: Closed trades in exit order (streaks follow this order).
    """
    pnls = [t.pnl for t in trips]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    with localcontext(EXACT):
        gross_profit = sum(wins, Decimal(0))
        gross_loss = sum(losses, Decimal(0))
        net = sum(pnls, Decimal(0))
    count = len(pnls)
    longest_win, longest_loss = _streaks(pnls)
    holding = [t.holding_ns for t in trips]
    return {
        "count": count,
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": count - len(wins) - len(losses),
        "win_rate": number(len(wins) / count) if count else None,
        "gross_profit": plain(gross_profit),
        "gross_loss": plain(gross_loss),
        "net_pnl": plain(net),
        "profit_factor": number(_ratio(gross_profit, -gross_loss)) if losses else None,
        "average_win": number(_ratio(gross_profit, Decimal(len(wins)))) if wins else None,
        "average_loss": number(_ratio(gross_loss, Decimal(len(losses)))) if losses else None,
        "expectancy": number(_ratio(net, Decimal(count))) if count else None,
        "largest_win": plain(max(wins)) if wins else None,
        "largest_loss": plain(min(losses)) if losses else None,
        "longest_win_streak": longest_win,
        "longest_loss_streak": longest_loss,
        "average_return": number(float(np.mean([t.return_fraction for t in trips])))
        if count
        else None,
        "average_holding_ns": number(float(np.mean(holding))) if count else None,
        "median_holding_ns": number(float(np.median(holding))) if count else None,
        "pnl_histogram": pnl_histogram([float(p) for p in pnls]),
    }


# -- time series: months, exposure, turnover -----------------------------------------------------


def _utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC)


def _month_index(ts_ns: int) -> int:
    when = _utc(ts_ns)
    return when.year * 12 + when.month - 1


@dataclass(frozen=True, slots=True)
class MonthlyReturn:
    """One UTC calendar month of the equity curve.

    Attributes:
        year: Year.
        month: Month, 1-12.
        start_equity: Equity at the end of the previous month (the initial capital first).
        end_equity: Last equity of the month (carried over when the month has no point).
    """

    year: int
    month: int
    start_equity: Decimal
    end_equity: Decimal

    @property
    def label(self) -> str:
        """``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def return_fraction(self) -> Decimal | None:
        """end / start - 1 (rounded to 28 digits); None when the start equity is not positive."""
        if self.start_equity <= 0:
            return None
        return _ratio(self.end_equity, self.start_equity) - 1


def monthly_returns(
    points: Sequence[tuple[int, Decimal]], start_equity: Decimal
) -> list[MonthlyReturn]:
    """Monthly returns of an equity curve, every UTC month from the first point's to the last's.

    Args:
        points: ``(ts_ns, equity)`` in time order.
        start_equity: Equity before the first point (the initial capital).

    Raises:
        ValueError: Points not in time order (the message names the first one out of order).
    """
    for i in range(1, len(points)):
        if points[i][0] < points[i - 1][0]:
            raise ValueError(
                f"monthly_returns: point {i} at {points[i][0]} ns is before point {i - 1} "
                f"({points[i - 1][0]} ns)"
            )
    if not points:
        return []
    last_of_month: dict[int, Decimal] = {}
    for ts, equity in points:
        last_of_month[_month_index(ts)] = equity
    first, last = _month_index(points[0][0]), _month_index(points[-1][0])
    months: list[MonthlyReturn] = []
    previous = start_equity
    for index in range(first, last + 1):
        end = last_of_month.get(index, previous)
        months.append(MonthlyReturn(index // 12, index % 12 + 1, previous, end))
        previous = end
    return months


def yearly_returns(months: Sequence[MonthlyReturn]) -> list[dict[str, Any]]:
    """Each year's return: last month's end equity / first month's start equity - 1."""
    years: dict[int, tuple[Decimal, Decimal]] = {}
    for month in months:
        start = years[month.year][0] if month.year in years else month.start_equity
        years[month.year] = (start, month.end_equity)
    return [
        {
            "year": year,
            "start_equity": plain(start),
            "end_equity": plain(end),
            "return": number(_ratio(end, start) - 1) if start > 0 else None,
        }
        for year, (start, end) in sorted(years.items())
    ]


def monthly_turnover(fills: Iterable[FillRow], capital: Decimal) -> dict[str, Decimal]:
    """Fill notional per UTC month / capital, by ``YYYY-MM`` (months without fills absent)."""
    totals: dict[str, Decimal] = {}
    for fill in fills:
        when = _utc(fill.ts_ns)
        label = f"{when.year:04d}-{when.month:02d}"
        with localcontext(EXACT):
            totals[label] = totals.get(label, Decimal(0)) + fill.notional
    return {label: _ratio(total, capital) for label, total in sorted(totals.items())}


@dataclass(frozen=True, slots=True)
class TurnoverBuckets:
    """Turnover over time in equal buckets aligned to the UTC epoch.

    Attributes:
        width_ns: Bucket width.
        starts_ns: Start of each bucket, from the one holding ``start_ns`` to the one holding
            ``end_ns``.
        turnover: Fill notional in each bucket / capital.
    """

    width_ns: int
    starts_ns: tuple[int, ...]
    turnover: tuple[float, ...]


def turnover_buckets(
    fills: Iterable[FillRow], capital: Decimal, start_ns: int, end_ns: int, max_buckets: int = 120
) -> TurnoverBuckets:
    """Turnover per bucket, with the narrowest width of :data:`TURNOVER_BUCKETS_NS` that keeps
    the run within ``max_buckets`` buckets (the widest one when none does).

    Raises:
        ValueError: ``end_ns < start_ns``, ``max_buckets < 1`` or capital not positive.
    """
    if end_ns < start_ns or max_buckets < 1 or capital <= 0:
        raise ValueError(
            f"turnover_buckets: need start_ns <= end_ns ({start_ns}, {end_ns}), max_buckets >= 1 "
            f"({max_buckets}) and capital > 0 ({capital})"
        )
    width = TURNOVER_BUCKETS_NS[-1] * 1_000_000_000
    for seconds in TURNOVER_BUCKETS_NS:
        candidate = seconds * 1_000_000_000
        if end_ns // candidate - start_ns // candidate + 1 <= max_buckets:
            width = candidate
            break
    first = start_ns // width
    count = end_ns // width - first + 1
    totals = [Decimal(0)] * count
    for fill in fills:
        index = min(max(fill.ts_ns // width - first, 0), count - 1)
        with localcontext(EXACT):
            totals[index] += fill.notional
    return TurnoverBuckets(
        width_ns=width,
        starts_ns=tuple((first + i) * width for i in range(count)),
        turnover=tuple(float(_ratio(t, capital)) for t in totals),
    )


def slippage_by_instrument(fills: Iterable[FillRow]) -> list[dict[str, Any]]:
    """Slippage attribution per instrument, sorted by instrument name.

    Per instrument: fills, fills with a decision price, quantity, notional, fees, slippage total
    and by side (cost positive), and ``slippage_bps`` = slippage / attributed notional x 10 000.
    """
    groups: dict[str, list[FillRow]] = {}
    for fill in fills:
        groups.setdefault(fill.instrument, []).append(fill)
    rows: list[dict[str, Any]] = []
    for name, group in sorted(groups.items()):
        attributed = [f for f in group if f.attributed]
        with localcontext(EXACT):
            notional = sum((f.notional for f in group), Decimal(0))
            measured = sum((f.notional for f in attributed), Decimal(0))
            slippage = sum((f.slippage for f in group), Decimal(0))
            buys = sum((f.slippage for f in group if f.side == Side.BUY), Decimal(0))
            quantity = sum((f.quantity for f in group), Decimal(0))
            fees = sum((f.fee for f in group), Decimal(0))
        rows.append(
            {
                "instrument": name,
                "fills": len(group),
                "attributed_fills": len(attributed),
                "quantity": plain(quantity),
                "notional": plain(notional),
                "fees": plain(fees),
                "slippage": plain(slippage),
                "slippage_buy": plain(buys),
                "slippage_sell": plain(slippage - buys),
                "slippage_bps": number(_ratio(slippage, measured) * _BPS) if measured else None,
            }
        )
    return rows


# -- the summary ---------------------------------------------------------------------------------


def summarize(result: BacktestResult, fills: list[FillRow]) -> dict[str, Any]:
    """The summary.json content (definitions in ``docs/reports.md``)."""
    capital = result.deployment.capital
    final = result.final
    equity = np.array([float(p.account.equity) for p in result.equity], dtype=np.float64)
    previous = np.concatenate(([float(capital)], equity[:-1]))
    returns = equity / previous - 1.0
    times = np.array([p.ts_ns for p in result.equity], dtype=np.int64)
    spacing = np.diff(times)
    spacing = spacing[spacing > 0]
    periods_per_year = YEAR_NS / float(np.median(spacing)) if len(spacing) else 0.0
    sharpe: float | None = None
    sortino: float | None = None
    if len(returns) >= 2 and periods_per_year > 0:
        std = float(np.std(returns, ddof=1))
        mean = float(np.mean(returns))
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        scale = math.sqrt(periods_per_year)
        sharpe = mean / std * scale if std > 0 else None
        sortino = mean / downside * scale if downside > 0 else None
    exposure = [float(p.account.leverage or 0) for p in result.equity]
    with localcontext(EXACT):
        notional = sum((f.notional for f in fills), Decimal(0))
        slippage = sum((f.slippage for f in fills), Decimal(0))
        measured = sum((f.notional for f in fills if f.attributed), Decimal(0))
    span_ns = result.last_ts_ns - result.first_ts_ns
    statuses: dict[str, int] = {}
    for order in result.orders:
        statuses[order.status.name] = statuses.get(order.status.name, 0) + 1
    multipliers = {i.name: i.multiplier for i in result.deployment.instruments}
    closed, still_open = round_trips(fills, multipliers)
    months = monthly_returns([(p.ts_ns, p.account.equity) for p in result.equity], capital)
    turnover_of = monthly_turnover(fills, capital)
    return {
        "strategy": result.deployment.strategy_reference,
        "strategy_id": result.deployment.strategy_id,
        "params": {k: str(v) for k, v in sorted(_params(result).items())},
        "instruments": [i.name for i in result.deployment.instruments],
        "timeframes": [s.label for s in result.deployment.timeframes],
        "currency": result.deployment.currency,
        "fee_model": result.fee_model,
        "first_trade_ns": result.first_ts_ns,
        "last_trade_ns": result.last_ts_ns,
        "trades_processed": result.trades_processed,
        "bars_delivered": result.bars_delivered,
        "initial_capital": plain(capital),
        "final_equity": plain(final.equity),
        "cash": plain(final.cash),
        "realized_pnl": plain(final.realized_pnl),
        "unrealized_pnl": plain(final.unrealized_pnl),
        "fees": plain(final.fees),
        "total_return": number(float(final.equity / capital - 1)),
        "sharpe": number(sharpe),
        "sortino": number(sortino),
        "periods_per_year": number(periods_per_year),
        "max_drawdown": number(
            min((-float(p.account.drawdown_fraction) for p in result.equity), default=0.0)
        ),
        "exposure_time": number(
            sum(1 for p in result.equity if p.account.position_count) / len(result.equity)
        ),
        "average_exposure": number(float(np.mean(exposure))),
        "max_exposure": number(max(exposure)),
        "turnover": number(_ratio(notional, capital)),
        "annual_turnover": number(_ratio(notional, capital) * YEAR_NS / span_ns)
        if span_ns > 0
        else None,
        "orders": len(result.orders),
        "order_statuses": dict(sorted(statuses.items())),
        "fills": len(fills),
        "slippage_total": plain(slippage),
        "slippage_bps_weighted": number(_ratio(slippage, measured) * _BPS) if measured else None,
        "slippage_unattributed_fills": sum(1 for f in fills if not f.attributed),
        "slippage_reference": "last trade price when the order was created",
        "slippage_by_instrument": slippage_by_instrument(fills),
        "round_trips": trade_statistics(closed),
        "open_trades": len(still_open),
        "monthly_returns": [
            {
                "month": m.label,
                "start_equity": plain(m.start_equity),
                "end_equity": plain(m.end_equity),
                "return": number(m.return_fraction),
                "turnover": number(turnover_of.get(m.label, Decimal(0))),
            }
            for m in months
        ],
        "yearly_returns": yearly_returns(months),
    }


def _params(result: BacktestResult) -> dict[str, Any]:
    params = result.params
    return {name: getattr(params, name) for name in params.__dataclass_fields__}


def order_row(order: Order, decision_price: Decimal, instrument: Instrument) -> list[str]:
    """One orders.csv row (columns :data:`ORDER_COLUMNS`)."""
    filled = sum((f.quantity for f in order.fills), 0)
    value = sum((f.price * f.quantity for f in order.fills), 0)
    avg = (
        ""
        if filled == 0
        else str(
            (Decimal(value) / Decimal(filled))
            .scaleb(-instrument.price_precision)
            .quantize(Decimal(1).scaleb(-instrument.price_precision - 4))
        )
    )
    return [
        str(order.ts_init),
        str(order.client_order_id.value),
        order.side.name,
        order.order_type.name,
        str(from_raw(order.quantity, instrument.size_precision)),
        str(from_raw(filled, instrument.size_precision)),
        avg,
        order.status.name,
        plain(decision_price),
    ]


ORDER_COLUMNS: Final = (
    "ts_init_ns", "client_order_id", "side", "type", "quantity", "filled_quantity", "avg_price",
    "status", "decision_price",
)  # fmt: skip
