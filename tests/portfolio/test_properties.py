"""Property tests: for any sequence of fills and marks, the books balance exactly."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from qk.portfolio import Fill, Portfolio
from qk.schemas.enums import Side

from .conftest import INFY, MASTER, NIFTY_FUT

_fills = st.tuples(
    st.just("fill"),
    st.integers(min_value=1, max_value=2),  # strategy
    st.sampled_from([INFY, NIFTY_FUT]),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=100_000),  # price raw (0.01 .. 1000.00)
    st.integers(min_value=1, max_value=20),  # quantity raw
    st.integers(min_value=-1_000, max_value=10**9),  # fee raw (a small rebate allowed)
)
_marks = st.tuples(
    st.just("mark"),
    st.just(0),
    st.sampled_from([INFY, NIFTY_FUT]),
    st.just(Side.BUY),
    st.integers(min_value=1, max_value=100_000),
    st.just(0),
    st.just(0),
)
_operations = st.lists(st.one_of(_fills, _marks), min_size=1, max_size=40)

DEPOSIT = Decimal(100_000)


class Reference:
    """An independent FIFO over unit lots, and the cash-flow view of PnL."""

    def __init__(self) -> None:
        self.lots: dict[tuple[int, int], deque[tuple[int, int]]] = {}  # (price, sign) per unit
        self.quantity: dict[tuple[int, int], int] = {}
        self.cash_flow: dict[tuple[int, int], int] = {}  # -sum(signed qty x price), raw
        self.realized: dict[tuple[int, int], int] = {}
        self.fees: dict[int, int] = {}

    def fill(
        self, strategy: int, instrument: int, side: Side, price: int, qty: int, fee: int
    ) -> None:
        key = (strategy, instrument)
        sign = 1 if side is Side.BUY else -1
        lots = self.lots.setdefault(key, deque())
        self.quantity[key] = self.quantity.get(key, 0) + sign * qty
        self.cash_flow[key] = self.cash_flow.get(key, 0) - sign * qty * price
        self.fees[strategy] = self.fees.get(strategy, 0) + fee
        for _ in range(qty):
            if lots and lots[0][1] != sign:
                entry, lot_sign = lots.popleft()
                self.realized[key] = self.realized.get(key, 0) + (price - entry) * lot_sign
            else:
                lots.append((price, sign))


@settings(max_examples=300, deadline=None)
@given(_operations)
def test_books_when_any_fill_sequence_then_pnl_cash_and_positions_balance(
    operations: list[tuple[str, int, int, Side, int, int, int]],
) -> None:
    portfolio = Portfolio(MASTER)
    for strategy in (1, 2):
        portfolio.deposit("INR", DEPOSIT, strategy_id=strategy)
    reference = Reference()
    marks: dict[int, int] = {}
    peaks = {0: 2 * DEPOSIT, 1: DEPOSIT, 2: DEPOSIT}
    for kind, strategy, instrument, side, price, quantity, fee in operations:
        if kind == "fill":
            portfolio.apply_fill(
                Fill(
                    strategy_id=strategy,
                    instrument_id=instrument,
                    side=side,
                    price=price,
                    quantity=quantity,
                    fee=fee,
                    fee_currency="INR",
                )
            )
            reference.fill(strategy, instrument, side, price, quantity, fee)
        else:
            portfolio.mark(instrument, price)
        if kind == "fill" or any(
            p.instrument.instrument_id == instrument for p in portfolio.positions()
        ):
            marks[instrument] = price
        for level in peaks:
            peaks[level] = max(peaks[level], portfolio.account("INR", level).equity)

    for (strategy, instrument), quantity in reference.quantity.items():
        position = portfolio.position(strategy, instrument)
        assert position is not None
        multiplier = MASTER.get(instrument).multiplier
        scale = Decimal("0.01")
        # Position = sum of signed fills.
        assert position.quantity == quantity
        # Realised is the independent unit-lot FIFO.
        assert (
            position.realized_pnl()
            == reference.realized.get((strategy, instrument), 0) * scale * multiplier
        )
        # Realised + unrealised = cash flows + open quantity at the mark.
        trading_pnl = (
            (reference.cash_flow[(strategy, instrument)] + quantity * marks[instrument])
            * scale
            * multiplier
        )
        assert position.realized_pnl() + position.unrealized_pnl() == trading_pnl
        # Average price is exactly the mean of the open unit lots.
        lots = reference.lots[(strategy, instrument)]
        if lots:
            assert position.average_price() == Fraction(sum(p for p, _ in lots), len(lots) * 100)
        else:
            assert position.average_price() is None

    total = {"cash": Decimal(0), "equity": Decimal(0)}
    for strategy in (1, 2):
        state = portfolio.account("INR", strategy)
        fees = Decimal(reference.fees.get(strategy, 0)).scaleb(-8)
        assert state.fees == fees
        # Cash changes only by realised PnL and fees; equity adds the unrealised.
        assert state.cash - DEPOSIT == state.realized_pnl - fees
        assert state.equity - DEPOSIT == state.realized_pnl + state.unrealized_pnl - fees
        assert state.peak_equity == peaks[strategy]
        assert state.drawdown == peaks[strategy] - state.equity >= 0
        assert state.day_pnl == state.equity - DEPOSIT
        total["cash"] += state.cash
        total["equity"] += state.equity
    account = portfolio.account("INR")
    assert account.cash == total["cash"]
    assert account.equity == total["equity"]
    assert account.peak_equity == peaks[0]
    assert account.gross_exposure >= abs(account.net_exposure)
