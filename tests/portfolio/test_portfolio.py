"""Portfolio: cash, equity, exposure, drawdown, daily PnL, records, and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qk.instruments import UnknownInstrumentError
from qk.portfolio import CurrencyMismatchError, Fill, InvalidFillError, Portfolio
from qk.portfolio.money import money_to_raw
from qk.schemas import dtype_of, new_records
from qk.schemas.enums import Side
from qk.schemas.fixed import FixedPointOverflowError

from .conftest import BTC, INFY, NIFTY_FUT, PEPE, fill


def test_account_when_fill_with_fee_then_cash_pays_fee_and_equity_marks_position(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("USDT", "10000", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "60000", "0.1", fee="6"))
    portfolio.mark(BTC, 6_100_000)
    state = portfolio.account("USDT", 1)
    assert state.cash == Decimal("9994")
    assert state.fees == Decimal(6)
    assert state.unrealized_pnl == Decimal(100)
    assert state.equity == Decimal("10094")
    assert state.gross_exposure == state.net_exposure == Decimal(6100)
    assert state.leverage == Decimal("0.60431940")  # 6100 / 10094, half even to 8 decimals
    assert state.position_count == 1


def test_account_when_long_and_short_positions_then_gross_and_net_exposure_differ(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("INR", "1000000", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "1500", "10", instrument_id=INFY))
    portfolio.apply_fill(fill(Side.SELL, "24000", "1", instrument_id=NIFTY_FUT))
    state = portfolio.account("INR", 1)
    assert state.gross_exposure == Decimal(15000 + 24000 * 75)
    assert state.net_exposure == Decimal(15000 - 24000 * 75)


def test_account_when_equity_falls_from_peak_then_drawdown_is_peak_minus_equity(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("INR", "10000", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "100", "10", instrument_id=INFY))
    portfolio.mark(INFY, 12_000)  # +200 -> peak 10200
    portfolio.mark(INFY, 9_000)  # -100 -> equity 9900
    state = portfolio.account("INR", 1)
    assert state.peak_equity == Decimal(10200)
    assert state.equity == Decimal(9900)
    assert state.drawdown == Decimal(300)
    assert state.drawdown_fraction == Decimal("0.02941176")  # 300 / 10200


def test_deposit_when_in_drawdown_then_peak_moves_with_it_and_drawdown_is_unchanged(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("INR", "10000", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "100", "10", instrument_id=INFY))
    portfolio.mark(INFY, 9_000)
    before = portfolio.account("INR", 1).drawdown
    portfolio.deposit("INR", "5000", strategy_id=1)
    after = portfolio.account("INR", 1)
    assert after.drawdown == before == Decimal(100)
    assert after.day_pnl == Decimal(-100)


def test_start_session_when_called_then_day_pnl_counts_from_that_equity(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("INR", "10000", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "100", "10", instrument_id=INFY, fee="1"))
    portfolio.mark(INFY, 11_000)
    assert portfolio.account("INR", 1).day_pnl == Decimal(99)
    portfolio.start_session(1_000)
    assert portfolio.session_start == 1_000
    assert portfolio.account("INR", 1).day_pnl == 0
    assert portfolio.account("INR").day_pnl == 0
    portfolio.mark(INFY, 10_500)
    assert portfolio.account("INR", 1).day_pnl == Decimal(-50)
    assert portfolio.account("INR").day_pnl == Decimal(-50)


def test_account_when_two_strategies_trade_then_account_level_is_their_sum(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("INR", "1000", strategy_id=0)
    portfolio.deposit("INR", "5000", strategy_id=1)
    portfolio.deposit("INR", "5000", strategy_id=2)
    portfolio.apply_fill(fill(Side.BUY, "100", "10", instrument_id=INFY, strategy_id=1, fee="2"))
    portfolio.apply_fill(fill(Side.SELL, "100", "4", instrument_id=INFY, strategy_id=2, fee="1"))
    portfolio.mark(INFY, 10_200)
    one, two, account = (portfolio.account("INR", s) for s in (1, 2, 0))
    assert one.unrealized_pnl == Decimal(20)
    assert two.unrealized_pnl == Decimal(-8)
    assert account.equity == Decimal(1000) + one.equity + two.equity
    assert account.fees == Decimal(3)
    assert account.position_count == 2
    assert account.net_exposure == Decimal(6 * 102)


def test_write_position_update_when_position_exists_then_record_holds_its_fields(
    portfolio: Portfolio,
) -> None:
    portfolio.apply_fill(fill(Side.BUY, "100", "3", instrument_id=INFY, fee="0.5"))
    portfolio.apply_fill(fill(Side.BUY, "101", "3", instrument_id=INFY))
    portfolio.apply_fill(fill(Side.SELL, "102", "4", instrument_id=INFY))
    portfolio.mark(INFY, 10_300)
    records = new_records("PositionUpdate")
    portfolio.write_position_update(
        records[0], 1, INFY, ts_event=7, ts_recv=8, seq=9, client_order_id=42
    )
    row = records[0]
    assert records.dtype == dtype_of("PositionUpdate")
    assert (int(row["ts_event"]), int(row["ts_recv"]), int(row["seq"])) == (7, 8, 9)
    assert int(row["quantity"]) == 2
    assert int(row["avg_price"]) == 101_000_000  # 101.000000
    assert int(row["realized_pnl"]) == (3 * 2 + 1 * 1) * 10**8
    assert int(row["unrealized_pnl"]) == 2 * 2 * 10**8
    assert int(row["fees"]) == 50_000_000
    assert int(row["mark_price"]) == 10_300
    assert bytes(row["currency"]).rstrip(b"\0") == b"INR"
    assert int(row["client_order_id"]) == 42


def test_write_snapshot_when_called_then_record_matches_account_state(
    portfolio: Portfolio,
) -> None:
    portfolio.deposit("USDT", "1000.5", strategy_id=1)
    portfolio.apply_fill(fill(Side.BUY, "50000.01", "0.00003", fee="0.00000001"))
    records = new_records("PortfolioSnapshot")
    state = portfolio.write_snapshot(records[0], "USDT", 1, ts_event=5, open_order_count=3)
    row = records[0]
    assert int(row["strategy_id"]) == 1
    assert int(row["venue"]) == 0
    # 0.00003 x 50000.01 = 1.5000003 exactly; money keeps 8 decimals.
    assert int(row["gross_exposure"]) == 150_000_030
    assert int(row["cash"]) == 100_049_999_999
    assert int(row["equity"]) == int(state.equity.scaleb(8))
    assert int(row["peak_equity"]) == 100_050_000_000  # the fee took equity below the deposit
    assert int(row["position_count"]) == 1
    assert int(row["open_order_count"]) == 3


def test_money_to_raw_when_more_than_eight_decimals_then_rounds_half_even() -> None:
    # The one rounding point of the portfolio: exact amounts becoming record fields.
    assert money_to_raw(Decimal("0.000000005")) == 0
    assert money_to_raw(Decimal("0.000000015")) == 2
    assert money_to_raw(Decimal("-0.000000025")) == -2


def test_money_to_raw_when_outside_int64_then_overflow_error() -> None:
    with pytest.raises(FixedPointOverflowError, match="does not fit int64"):
        money_to_raw(Decimal(10**11))


def test_apply_fill_when_instrument_unknown_then_unknown_instrument_error(
    portfolio: Portfolio,
) -> None:
    bad = Fill(strategy_id=1, instrument_id=99, side=Side.BUY, price=1, quantity=1)
    with pytest.raises(
        UnknownInstrumentError, match="fill of strategy 1: no instrument with id 99"
    ):
        portfolio.apply_fill(bad)


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [
        (100, 0, "quantity must be > 0"),
        (100, -5, "quantity must be > 0"),
        (0, 1, "price must be > 0"),
        (-1, 1, "price must be > 0"),
    ],
)
def test_apply_fill_when_quantity_or_price_not_positive_then_invalid_fill_error(
    portfolio: Portfolio, price: int, quantity: int, message: str
) -> None:
    bad = Fill(strategy_id=1, instrument_id=INFY, side=Side.BUY, price=price, quantity=quantity)
    with pytest.raises(InvalidFillError, match=message):
        portfolio.apply_fill(bad)
    assert portfolio.position(1, INFY) is None


def test_apply_fill_when_strategy_is_account_level_then_invalid_fill_error(
    portfolio: Portfolio,
) -> None:
    with pytest.raises(InvalidFillError, match="0 is the account level"):
        portfolio.apply_fill(fill(Side.BUY, "1", "1", instrument_id=INFY, strategy_id=0))


def test_apply_fill_when_fee_in_other_currency_then_currency_mismatch_error(
    portfolio: Portfolio,
) -> None:
    with pytest.raises(
        CurrencyMismatchError, match="fee is in BNB, the instrument settles in USDT"
    ):
        portfolio.apply_fill(fill(Side.BUY, "60000", "0.1", fee="0.001", fee_currency="BNB"))
    assert portfolio.position(1, BTC) is None


def test_apply_fill_when_zero_fee_without_currency_then_accepted(portfolio: Portfolio) -> None:
    portfolio.apply_fill(fill(Side.BUY, "60000", "0.1", fee="0", fee_currency=""))
    assert portfolio.account("USDT", 1).fees == 0


def test_mark_when_price_not_positive_or_instrument_unknown_then_error(
    portfolio: Portfolio,
) -> None:
    with pytest.raises(InvalidFillError, match="price must be a raw int > 0"):
        portfolio.mark(INFY, 0)
    with pytest.raises(UnknownInstrumentError, match="mark: no instrument with id 42"):
        portfolio.mark(42, 100)


def test_account_when_currency_unknown_then_currency_mismatch_error(portfolio: Portfolio) -> None:
    portfolio.deposit("INR", "1")
    with pytest.raises(CurrencyMismatchError, match="no cash or positions in 'EUR'"):
        portfolio.account("EUR")


@pytest.mark.parametrize("amount", [1.5, "abc", "NaN"])
def test_deposit_when_amount_not_exact_decimal_then_invalid_fill_error(
    portfolio: Portfolio, amount: object
) -> None:
    with pytest.raises(InvalidFillError, match="deposit"):
        portfolio.deposit("INR", amount)  # type: ignore[arg-type]


def test_fill_from_record_when_fill_event_then_fields_round_trip() -> None:
    records = new_records("FillEvent")
    row = records[0]
    row["strategy_id"], row["instrument_id"], row["side"] = 3, INFY, int(Side.SELL)
    row["price"], row["quantity"], row["fee"] = 10_050, 7, 123
    row["fee_currency"], row["ts_event"], row["client_order_id"] = b"INR", 11, 12
    assert Fill.from_record(row) == Fill(
        strategy_id=3,
        instrument_id=INFY,
        side=Side.SELL,
        price=10_050,
        quantity=7,
        fee=123,
        fee_currency="INR",
        ts_event=11,
        client_order_id=12,
    )


def test_apply_fill_when_fee_priced_by_fee_model_then_portfolio_books_it(
    portfolio: Portfolio,
) -> None:
    from qk.fees import FeeInput, default_fee_models
    from qk.schemas.enums import Product

    from .conftest import MASTER

    infy = MASTER.get(INFY)
    model = default_fee_models()["zerodha.equity.intraday"]
    portfolio.deposit("INR", "100000", strategy_id=1)
    total_fees = 0
    for side, price in ((Side.BUY, 150_000), (Side.SELL, 151_000)):
        breakdown = model.fee(
            FeeInput(instrument=infy, side=side, price=price, quantity=10, product=Product.INTRADAY)
        )
        total_fees += breakdown.total
        portfolio.apply_fill(
            Fill(
                strategy_id=1,
                instrument_id=INFY,
                side=side,
                price=price,
                quantity=10,
                fee=breakdown.total,
                fee_currency=breakdown.currency,
            )
        )
    state = portfolio.account("INR", 1)
    assert state.realized_pnl == Decimal(100)
    assert state.fees == Decimal(total_fees).scaleb(-8)
    assert state.equity == Decimal(100000) + Decimal(100) - state.fees


def test_write_position_update_when_pnl_has_more_than_eight_decimals_then_exact_inside_and_half_even_in_record(
    portfolio: Portfolio,
) -> None:
    portfolio.apply_fill(fill(Side.BUY, "0.00000100", "2.5", instrument_id=PEPE))
    portfolio.mark(PEPE, 101)  # +0.00000001 x 2.5 = 0.000000025
    position = portfolio.position(1, PEPE)
    assert position is not None
    assert position.unrealized_pnl() == Decimal("0.000000025")
    records = new_records("PositionUpdate")
    portfolio.write_position_update(records[0], 1, PEPE, ts_event=1)
    assert int(records[0]["unrealized_pnl"]) == 2  # half even: 2.5E-8 -> 2E-8
