"""Report metrics on hand-built inputs: round trips, trade statistics, histogram, monthly returns,
turnover buckets, slippage by instrument, chart downsampling."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qk.backtest.metrics import (
    FillRow,
    RoundTrip,
    monthly_returns,
    monthly_turnover,
    pnl_histogram,
    round_trips,
    slippage_by_instrument,
    trade_statistics,
    turnover_buckets,
    yearly_returns,
)
from qk.backtest.report import downsample_min_max
from qk.marketdata.sim import SIM_BTCUSDT
from qk.portfolio.position import Position
from qk.schemas.enums import Side

D = Decimal
X = "X.SIM"
ONE = {X: D(1)}


def _fill(
    ts: int,
    order: int,
    side: Side,
    price: str,
    quantity: str,
    *,
    fee: str = "0",
    decision: str | None = None,
    instrument: str = X,
    multiplier: str = "1",
) -> FillRow:
    p, q = D(price), D(quantity)
    d = D(decision) if decision is not None else D(0)
    sign = 1 if side is Side.BUY else -1
    slippage = (p - d) * sign * q * D(multiplier) if d else D(0)
    return FillRow(
        ts_ns=ts, client_order_id=order, trade_id=ts, side=side, price=p, quantity=q,
        fee=D(fee), fee_currency="USDT", liquidity="TAKER", decision_price=d, slippage=slippage,
        slippage_bps=D(0), instrument=instrument, notional=p * q * D(multiplier),
    )  # fmt: skip


def _ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * 10**9


# -- round trips ---------------------------------------------------------------------------------


def test_round_trips_when_entry_fills_in_parts_then_one_trade_at_the_weighted_prices() -> None:
    fills = [
        _fill(1, 1, Side.BUY, "100", "1", fee="0.10"),
        _fill(2, 1, Side.BUY, "102", "1", fee="0.10"),
        _fill(5, 2, Side.SELL, "110", "2", fee="0.20"),
    ]
    closed, still_open = round_trips(fills, ONE)
    assert still_open == []
    [trip] = closed
    assert (trip.direction, trip.entry_order_id, trip.exit_order_id) == ("LONG", 1, 2)
    assert trip.quantity == 2
    assert trip.entry_price == D("101") and trip.exit_price == D("110")
    assert trip.gross_pnl == D("18")
    assert trip.fees == D("0.40")
    assert trip.pnl == D("17.60")
    assert trip.holding_ns == 4
    assert trip.return_fraction == pytest.approx(17.6 / 202)


def test_round_trips_when_fill_reverses_position_then_long_closes_and_short_opens() -> None:
    fills = [
        _fill(1, 1, Side.BUY, "100", "1"),
        _fill(2, 2, Side.SELL, "90", "3", fee="0.3"),
        _fill(3, 3, Side.BUY, "80", "2"),
    ]
    closed, still_open = round_trips(fills, ONE)
    assert still_open == []
    long, short = closed
    assert (long.direction, long.quantity, long.gross_pnl, long.fees) == (
        "LONG",
        D(1),
        D(-10),
        D("0.1"),
    )
    assert (short.direction, short.entry_order_id, short.exit_order_id) == ("SHORT", 2, 3)
    assert (short.quantity, short.gross_pnl, short.fees) == (D(2), D(20), D("0.2"))


def test_round_trips_when_run_ends_partly_closed_then_fees_split_exactly() -> None:
    fills = [_fill(1, 1, Side.BUY, "10", "3", fee="1"), _fill(2, 2, Side.SELL, "11", "1")]
    closed, still_open = round_trips(fills, ONE)
    [trip] = closed
    [rest] = still_open
    assert (trip.quantity, trip.gross_pnl, trip.fees) == (D(1), D(1), D("0.33333333"))
    assert (rest.quantity, rest.entry_price, rest.fees) == (D(2), D("10.0000"), D("0.66666667"))
    assert trip.fees + rest.fees == 1


def test_round_trips_when_multiplier_and_two_instruments_then_each_paired_alone() -> None:
    fills = [
        _fill(1, 1, Side.SELL, "200", "2", instrument="F.SIM", multiplier="25"),
        _fill(2, 2, Side.BUY, "10", "1"),
        _fill(3, 3, Side.BUY, "190", "2", instrument="F.SIM", multiplier="25"),
        _fill(4, 4, Side.SELL, "12", "1"),
    ]
    closed, _ = round_trips(fills, {X: D(1), "F.SIM": D(25)})
    assert [(t.instrument, t.direction, t.gross_pnl) for t in closed] == [
        ("F.SIM", "SHORT", D(500)),
        (X, "LONG", D(2)),
    ]
    assert closed[0].entry_notional == D(10_000)


def test_round_trips_when_instrument_unknown_then_key_error_names_it() -> None:
    with pytest.raises(KeyError, match=r"Y\.SIM"):
        round_trips([_fill(1, 1, Side.BUY, "1", "1", instrument="Y.SIM")], ONE)


_FILL = st.tuples(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 500),  # lots of 0.00001
    st.integers(4_000_000, 6_000_000),  # cents
    st.integers(0, 300),  # fee, raw 1e-8
    st.booleans(),  # same order as the previous fill (a partial fill)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_FILL, min_size=1, max_size=40))
def test_round_trips_when_any_fills_then_quantity_pnl_fees_conserved_as_the_portfolio(
    raw: list[tuple[Side, int, int, int, bool]],
) -> None:
    position = Position(1, SIM_BTCUSDT)
    fills: list[FillRow] = []
    order = 0
    for i, (side, lots, cents, fee, same) in enumerate(raw):
        if not (same and fills and fills[-1].side is side):
            order += 1
        position.apply(side, cents, lots, fee)
        fills.append(
            _fill(
                i,
                order,
                side,
                str(D(cents).scaleb(-2)),
                str(D(lots).scaleb(-5)),
                fee=str(D(fee).scaleb(-8)),
                decision=str(D(cents + 7).scaleb(-2)),
                instrument=SIM_BTCUSDT.name,
            )
        )
    closed, still_open = round_trips(fills, {SIM_BTCUSDT.name: D(1)})
    total = sum((f.quantity for f in fills), D(0))
    assert (
        2 * sum((t.quantity for t in closed), D(0)) + sum((t.quantity for t in still_open), D(0))
        == total
    )
    assert sum((t.gross_pnl for t in closed), D(0)) == position.realized_pnl()
    net_open = sum((t.quantity if t.direction == "LONG" else -t.quantity for t in still_open), D(0))
    assert net_open == D(position.quantity).scaleb(-5)
    fees = sum((t.fees for t in closed), D(0)) + sum((t.fees for t in still_open), D(0))
    assert fees == sum((f.fee for f in fills), D(0))
    slippage = sum((t.slippage for t in closed), D(0)) + sum((t.slippage for t in still_open), D(0))
    assert slippage == sum((f.slippage for f in fills), D(0))
    assert [t.exit_ts_ns for t in closed] == sorted(t.exit_ts_ns for t in closed)


# -- trade statistics ----------------------------------------------------------------------------


def _trip(ts: int, pnl: str, holding: int = 10) -> RoundTrip:
    return RoundTrip(
        instrument=X, direction="LONG", entry_order_id=ts, exit_order_id=ts + 1,
        entry_ts_ns=ts - holding, exit_ts_ns=ts, quantity=D(1), entry_price=D(100),
        exit_price=D(100) + D(pnl), gross_pnl=D(pnl), fees=D(0), pnl=D(pnl),
        entry_notional=D(100), slippage=D(0),
    )  # fmt: skip


def test_trade_statistics_when_known_pnls_then_exact_rates_and_streaks() -> None:
    pnls = ["10", "20", "-5", "-5", "-5", "0", "15"]
    stats = trade_statistics([_trip(100 * (i + 1), p, holding=i + 1) for i, p in enumerate(pnls)])
    assert (stats["count"], stats["wins"], stats["losses"], stats["breakeven"]) == (7, 3, 3, 1)
    assert stats["win_rate"] == pytest.approx(3 / 7)
    assert stats["profit_factor"] == 3.0
    assert stats["average_win"] == 15.0
    assert stats["average_loss"] == -5.0
    assert stats["expectancy"] == pytest.approx(30 / 7)
    assert (stats["gross_profit"], stats["gross_loss"], stats["net_pnl"]) == ("45", "-15", "30")
    assert (stats["largest_win"], stats["largest_loss"]) == ("20", "-5")
    assert (stats["longest_win_streak"], stats["longest_loss_streak"]) == (2, 3)
    assert stats["average_holding_ns"] == 4.0
    assert stats["average_return"] == pytest.approx(0.3 / 7)
    assert sum(stats["pnl_histogram"]["counts"]) == 7


def test_trade_statistics_when_no_trades_then_counts_zero_and_ratios_null() -> None:
    stats = trade_statistics([])
    assert stats["count"] == 0
    assert stats["win_rate"] is None and stats["profit_factor"] is None
    assert stats["pnl_histogram"] == {"edges": [], "counts": []}


def test_pnl_histogram_when_values_straddle_zero_then_zero_is_an_edge() -> None:
    histogram = pnl_histogram([-3, -1, 0.5, 2], bins=4)
    assert histogram["edges"] == [-3.75, -2.5, -1.25, 0.0, 1.25, 2.5]
    assert histogram["counts"] == [1, 0, 1, 1, 1]


def test_pnl_histogram_when_all_equal_then_one_unit_bin() -> None:
    assert pnl_histogram([2.0, 2.0]) == {"edges": [2.0, 3.0], "counts": [2]}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_pnl_histogram_when_any_values_then_every_value_counted_within_edges(
    values: list[float],
) -> None:
    histogram = pnl_histogram(values)
    assert sum(histogram["counts"]) == len(values)
    assert len(histogram["edges"]) == len(histogram["counts"]) + 1 <= 23
    # Edges are written with 12 significant digits: allow that much rounding.
    low, high = min(values), max(values)
    assert histogram["edges"][0] <= low + abs(low) * 1e-11
    assert histogram["edges"][-1] >= high - abs(high) * 1e-11


# -- months, turnover, slippage ------------------------------------------------------------------


def test_monthly_returns_when_hand_built_curve_then_exact_months_and_years() -> None:
    points = [
        (_ns(2024, 1, 10), D(105)),
        (_ns(2024, 1, 31, 23, 59, 59), D(110)),
        (_ns(2024, 2, 1), D(120)),
        (_ns(2024, 2, 29, 12), D(99)),
        (_ns(2024, 4, 5), D("108.9")),
        (_ns(2025, 1, 2), D("217.8")),
    ]
    months = monthly_returns(points, D(100))
    assert [m.label for m in months][:4] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert len(months) == 13
    returns = {m.label: m.return_fraction for m in months}
    assert returns["2024-01"] == D("0.1")
    assert returns["2024-02"] == D("-0.1")
    assert returns["2024-03"] == 0
    assert returns["2024-04"] == D("0.1")
    assert all(returns[f"2024-{m:02d}"] == 0 for m in range(5, 13))
    assert returns["2025-01"] == D(1)
    years = yearly_returns(months)
    assert [(y["year"], y["return"]) for y in years] == [(2024, 0.089), (2025, 1.0)]
    assert years[1]["start_equity"] == "108.9"


def test_monthly_returns_when_points_out_of_order_then_error_names_the_point() -> None:
    with pytest.raises(ValueError, match="point 1"):
        monthly_returns([(_ns(2024, 2, 1), D(1)), (_ns(2024, 1, 1), D(1))], D(1))


def test_monthly_turnover_when_fills_in_two_months_then_notional_over_capital() -> None:
    fills = [
        _fill(_ns(2024, 1, 31, 23, 59, 59), 1, Side.BUY, "100", "3"),
        _fill(_ns(2024, 2, 1), 2, Side.SELL, "100", "1"),
    ]
    assert monthly_turnover(fills, D(1000)) == {"2024-01": D("0.3"), "2024-02": D("0.1")}


def test_turnover_buckets_when_too_many_minutes_then_next_width_and_fill_in_its_bucket() -> None:
    hour = 3_600 * 10**9
    fills = [_fill(1_000 * 10**9, 1, Side.BUY, "250", "2")]
    fine = turnover_buckets(fills, D(1000), 0, hour, max_buckets=120)
    assert fine.width_ns == 60 * 10**9 and len(fine.starts_ns) == 61
    coarse = turnover_buckets(fills, D(1000), 0, hour, max_buckets=10)
    assert coarse.width_ns == 900 * 10**9
    assert coarse.turnover == (0.0, 0.5, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="capital"):
        turnover_buckets(fills, D(0), 0, hour)


def test_slippage_by_instrument_when_one_fill_unattributed_then_left_out_of_bps() -> None:
    fills = [
        _fill(1, 1, Side.BUY, "101", "1", decision="100"),
        _fill(2, 2, Side.SELL, "99", "1", decision="100"),
        _fill(3, 3, Side.BUY, "50", "2"),
        _fill(4, 4, Side.SELL, "10", "1", decision="10.1", instrument="A.SIM"),
    ]
    a, x = slippage_by_instrument(fills)
    assert (a["instrument"], a["slippage"], a["slippage_bps"]) == ("A.SIM", "0.1", 100.0)
    assert (x["fills"], x["attributed_fills"], x["notional"]) == (3, 2, "300")
    assert (x["slippage"], x["slippage_buy"], x["slippage_sell"]) == ("2", "1", "1")
    assert x["slippage_bps"] == 100.0  # 2 / 200 attributed notional


# -- downsampling --------------------------------------------------------------------------------


def test_downsample_when_long_series_with_spike_then_spike_and_ends_kept() -> None:
    times = list(range(0, 100_000, 10))
    values = [float(i % 7) for i in range(len(times))]
    values[5_000] = 1_000.0
    values[7_000] = -1_000.0
    t, v = downsample_min_max(times, values, max_points=2_000)
    assert len(t) <= 2_000
    assert t[0] == 0 and t[-1] == times[-1]
    assert 1_000.0 in v and -1_000.0 in v
    assert t == sorted(t)
    assert (t, v) == downsample_min_max(times, values, max_points=2_000)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.floats(-1e9, 1e9)), min_size=1, max_size=300),
    st.integers(4, 60),
)
def test_downsample_when_any_series_then_bounded_ordered_subset_keeping_extremes(
    raw: list[tuple[int, float]], max_points: int
) -> None:
    raw.sort(key=lambda p: p[0])
    times, values = [p[0] for p in raw], [p[1] for p in raw]
    t, v = downsample_min_max(times, values, max_points)
    assert len(t) <= max_points
    assert min(v) == min(values) and max(v) == max(values)
    assert set(zip(t, v, strict=True)) <= set(raw)
    assert t == sorted(t)


def test_downsample_when_lengths_differ_then_error() -> None:
    with pytest.raises(ValueError, match="2 times but 1 values"):
        downsample_min_max([1, 2], [1.0])
