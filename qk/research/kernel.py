"""The numba kernel of the vectorised path: EMA-cross momentum over one trade tape, many
parameter sets at once, in int64 fixed point.

It reproduces what ``qk.backtest.run_backtest`` does for ``strategies/momentum.py`` on one
instrument (see ``docs/research.md``): a decision is taken on the trade that publishes a bar; a
market IOC order reaches the exchange ``latency`` later and meets the first trade at or after its
arrival that comes after the decision trade, filling ``min(leaves, what is left of that trade)``
at the slipped trade price; the rest is cancelled. Fills book FIFO lots; equity is
``cash + unrealised`` and the peak equity is refreshed at every fill (marked at the fill price)
and at every trade, as the portfolio does. Whatever the kernel cannot reproduce (a risk limit
that might deny an order or latch a state, a sell while another sell is pending, off-lot
positions) sets a flag instead of carrying on with different numbers.

Everything here is numba-compiled; the Python side lives in :mod:`qk.research.vectorized`.
"""

from __future__ import annotations

from typing import Final

import numba as nb
import numpy as np

__all__ = [
    "FLAG_BAD_QUANTITY",
    "FLAG_CAPACITY",
    "FLAG_DRAWDOWN",
    "FLAG_MAX_ORDER_QUANTITY",
    "FLAG_MAX_POSITION",
    "FLAG_NONE",
    "FLAG_ORDER_RATE",
    "FLAG_SELL_PENDING",
    "STAT_COLUMNS",
    "evaluate_many",
]

FLAG_NONE: Final = 0
FLAG_MAX_ORDER_QUANTITY: Final = 1
FLAG_MAX_POSITION: Final = 2
FLAG_ORDER_RATE: Final = 3
FLAG_DRAWDOWN: Final = 4
FLAG_SELL_PENDING: Final = 5
FLAG_BAD_QUANTITY: Final = 6
FLAG_CAPACITY: Final = 7

# Columns of the per-parameter-set statistics row.
S_FLAG: Final = 0
S_FLAG_TRADE: Final = 1
S_ORDERS: Final = 2
S_FILLS: Final = 3
S_POSITION: Final = 4
S_REALIZED: Final = 5
S_FEES: Final = 6
S_CASH: Final = 7
S_TURNOVER: Final = 8
S_EXPOSED: Final = 9
S_COST: Final = 10
STAT_COLUMNS: Final = (
    "flag", "flag_trade", "orders", "fills", "position", "realized", "fees", "cash",
    "turnover", "exposed_points", "cost",
)  # fmt: skip
"""Names of the statistics columns, in order."""

_MAX_PENDING: Final = 32
_MAX_LOTS: Final = 64

# Config vector layout (int64), filled by qk.research.vectorized.
C_LATENCY: Final = 0
C_TICK: Final = 1
C_SLIP_TICKS: Final = 2
C_SLIP_BPS: Final = 3
C_LOT: Final = 4
C_MIN_QTY: Final = 5
C_MAX_QTY: Final = 6
C_MAX_ORDER_QTY: Final = 7
C_MAX_POSITION: Final = 8
C_RATE_COUNT: Final = 9
C_RATE_WINDOW: Final = 10
C_MULTIPLIER: Final = 11
C_PNL_TO_MONEY: Final = 12
C_FEE_TO_MONEY: Final = 13
C_CAPITAL: Final = 14
C_CONFIG_SIZE: Final = 15


@nb.njit(cache=True, inline="always")
def _slipped(buy: bool, market: int, tick: int, ticks: int, bps: int) -> int:
    # Same integer steps as qk.execution.fill_model.slipped_price (floor division semantics).
    market = -(-market // tick) * tick if buy else market // tick * tick
    bps_ticks = -(-(market * bps) // (tick * 10_000))
    offset = (bps_ticks + ticks) * tick
    if buy:
        return market + offset
    return max(market - offset, tick)


@nb.njit(cache=True, inline="always")
def _fee(
    buy: bool,
    turnover: int,
    fee_num: np.ndarray,
    fee_den: np.ndarray,
    fee_mul: np.ndarray,
    fee_sides: np.ndarray,
) -> int:
    # Each component rounded half up to MONEY_PRECISION on its own, as FeeModel.fee does.
    total = 0
    for c in range(fee_num.shape[0]):
        if (fee_sides[c] & (1 if buy else 2)) == 0:
            continue
        value = turnover * fee_num[c] * fee_mul[c]
        den = fee_den[c]
        total += (2 * value + den) // (2 * den)
    return total


@nb.njit(cache=True, inline="always")
def _drawdown_floor(peak: int, max_drawdown: float) -> int:
    # Equity at or below this is within a millionth of the drawdown limit: a possible breach.
    # Rounded towards flagging, so the check stays conservative.
    if max_drawdown < 0.0 or peak <= 0:
        return -(2**62)
    return peak - int((max_drawdown - 1e-6) * float(peak))


@nb.njit(cache=True)
def _run_one(
    ts: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    eq_idx: np.ndarray,
    bar_pub: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
    quantity: int,
    config: np.ndarray,
    max_drawdown: float,
    fee_num: np.ndarray,
    fee_den: np.ndarray,
    fee_mul: np.ndarray,
    fee_sides: np.ndarray,
    equity_out: np.ndarray,
    peak_out: np.ndarray,
    stats: np.ndarray,
    fill_idx: np.ndarray,
    fill_price: np.ndarray,
    fill_qty: np.ndarray,
    fill_fee: np.ndarray,
    fill_buy: np.ndarray,
) -> None:
    n = ts.shape[0]
    n_points = eq_idx.shape[0]
    n_bars = bar_pub.shape[0]
    latency = config[C_LATENCY]
    tick = config[C_TICK]
    slip_ticks = config[C_SLIP_TICKS]
    slip_bps = config[C_SLIP_BPS]
    lot = config[C_LOT]
    min_qty = config[C_MIN_QTY]
    max_qty = config[C_MAX_QTY]
    max_order_qty = config[C_MAX_ORDER_QTY]
    max_position = config[C_MAX_POSITION]
    rate_count = config[C_RATE_COUNT]
    rate_window = config[C_RATE_WINDOW]
    mult = config[C_MULTIPLIER]
    pnl_to_money = config[C_PNL_TO_MONEY]
    fee_to_money = config[C_FEE_TO_MONEY]
    capital = config[C_CAPITAL]
    record = fill_idx.shape[0]

    p_buy = np.zeros(_MAX_PENDING, np.bool_)
    p_qty = np.zeros(_MAX_PENDING, np.int64)
    p_arrival = np.zeros(_MAX_PENDING, np.int64)
    p_decided = np.zeros(_MAX_PENDING, np.int64)
    n_pending = 0
    lot_price = np.zeros(_MAX_LOTS, np.int64)
    lot_qty = np.zeros(_MAX_LOTS, np.int64)
    lot_head = 0
    lot_count = 0
    sent = np.zeros(max(rate_count, 1), np.int64)
    n_sent = 0

    position = 0
    cost = 0  # sum of open lot price x quantity, scale p + s
    cash = capital  # money scale
    realized = 0  # money scale
    fees = 0  # MONEY_PRECISION
    turnover_sum = 0  # price x quantity of every fill, scale p + s
    peak = capital
    dd_floor = _drawdown_floor(peak, max_drawdown)
    flag = 0
    flag_trade = -1
    orders = 0
    fills = 0
    exposed = 0
    cursor = 0  # next trade the exchange has not matched yet
    prev_spread = 0.0
    have_prev = False
    b = 0

    for e in range(n_points + 1):
        last_point = e == n_points
        target = n - 1 if last_point else eq_idx[e]
        # The exchange and the portfolio see trades cursor..target.
        while cursor <= target:
            if n_pending == 0 and position == 0:
                cursor = target + 1  # nothing can change: cash is flat, no order can fill
                break
            if n_pending == 0:
                # Holding, nothing in flight: only the marks move equity (peak and drawdown).
                base = cash - cost * mult * pnl_to_money
                slope = position * mult * pnl_to_money
                for j in range(cursor, target + 1):
                    equity = base + slope * price[j]
                    if equity > peak:
                        peak = equity
                        dd_floor = _drawdown_floor(peak, max_drawdown)
                    elif equity <= dd_floor and flag == 0:
                        flag = 4
                        flag_trade = j
                cursor = target + 1
                break
            j = cursor
            if n_pending > 0 and position == 0 and not (p_arrival[0] <= ts[j] and p_decided[0] < j):
                cursor += 1
                continue
            # Deliver arrived orders (a prefix: arrivals never decrease) and match them.
            available = qty[j]
            matched = 0
            while matched < n_pending and p_arrival[matched] <= ts[j] and p_decided[matched] < j:
                buy = p_buy[matched]
                leaves = p_qty[matched]
                take = min(leaves, available) if available > 0 else 0
                if take > 0:
                    fill_px = _slipped(buy, price[j], tick, slip_ticks, slip_bps)
                    turnover = fill_px * take * mult
                    fee = _fee(buy, turnover, fee_num, fee_den, fee_mul, fee_sides)
                    available -= take
                    if buy:
                        if lot_count == _MAX_LOTS:
                            if flag == 0:
                                flag = 7
                                flag_trade = j
                        else:
                            slot = (lot_head + lot_count) % _MAX_LOTS
                            lot_price[slot] = fill_px
                            lot_qty[slot] = take
                            lot_count += 1
                        position += take
                        cost += fill_px * take
                    else:
                        left = take
                        pnl = 0
                        while left > 0 and lot_count > 0:
                            closing = min(left, lot_qty[lot_head])
                            pnl += (fill_px - lot_price[lot_head]) * closing
                            cost -= lot_price[lot_head] * closing
                            lot_qty[lot_head] -= closing
                            left -= closing
                            if lot_qty[lot_head] == 0:
                                lot_head = (lot_head + 1) % _MAX_LOTS
                                lot_count -= 1
                        position -= take
                        realized += pnl * mult * pnl_to_money
                        cash += pnl * mult * pnl_to_money
                    fees += fee
                    cash -= fee * fee_to_money
                    turnover_sum += fill_px * take
                    if fills < record:
                        fill_idx[fills] = j
                        fill_price[fills] = fill_px
                        fill_qty[fills] = take
                        fill_fee[fills] = fee
                        fill_buy[fills] = buy
                    fills += 1
                    # The fill marks the position at the fill price before the trade's own mark.
                    equity = cash + (fill_px * position - cost) * mult * pnl_to_money
                    if equity > peak:
                        peak = equity
                        dd_floor = _drawdown_floor(peak, max_drawdown)
                matched += 1
            if matched > 0:
                for k in range(n_pending - matched):
                    p_buy[k] = p_buy[k + matched]
                    p_qty[k] = p_qty[k + matched]
                    p_arrival[k] = p_arrival[k + matched]
                    p_decided[k] = p_decided[k + matched]
                n_pending -= matched
            if position != 0 or fills > 0:
                equity = cash + (price[j] * position - cost) * mult * pnl_to_money
                if equity > peak:
                    peak = equity
                    dd_floor = _drawdown_floor(peak, max_drawdown)
                elif equity <= dd_floor and flag == 0:
                    flag = 4
                    flag_trade = j
            cursor += 1
        mark = price[target]
        equity = cash + (mark * position - cost) * mult * pnl_to_money
        equity_out[e] = equity
        peak_out[e] = peak
        if position != 0:
            exposed += 1
        # Bars published at this trade (after the tape for the last point) reach on_bar.
        publish = n if last_point else target
        while b < n_bars and bar_pub[b] == publish:
            f = fast[b]
            s = slow[b]
            b += 1
            if np.isnan(f) or np.isnan(s):
                continue
            spread = f - s
            if not have_prev:
                prev_spread = spread
                have_prev = True
                continue
            previous = prev_spread
            prev_spread = spread
            decided_ts = ts[n - 1] if last_point else ts[target]
            buy = False
            order_qty = 0
            if previous <= 0.0 < spread and position == 0:
                buy = True
                order_qty = quantity
            elif previous >= 0.0 > spread and position > 0:
                order_qty = position
            else:
                continue
            # What risk and the venue filters would say; anything that might deny is a flag.
            if flag == 0:
                pending_buys = 0
                pending_sells = 0
                for k in range(n_pending):
                    if p_buy[k]:
                        pending_buys += p_qty[k]
                    else:
                        pending_sells += p_qty[k]
                if (
                    order_qty % lot != 0
                    or order_qty < min_qty
                    or (max_qty > 0 and order_qty > max_qty)
                ):
                    flag = 6
                elif max_order_qty >= 0 and order_qty > max_order_qty:
                    flag = 1
                elif not buy and pending_sells > 0:
                    flag = 5
                elif (
                    buy and max_position >= 0 and position + pending_buys + order_qty > max_position
                ):
                    flag = 2
                elif buy and rate_count > 0 and n_sent >= rate_count:
                    oldest = sent[n_sent % rate_count]
                    if oldest >= decided_ts - rate_window:
                        flag = 3
                elif n_pending == _MAX_PENDING:
                    flag = 7
                if flag != 0:
                    flag_trade = n if last_point else target
            if rate_count > 0:
                sent[n_sent % rate_count] = decided_ts
            n_sent += 1
            orders += 1
            if n_pending < _MAX_PENDING:
                p_buy[n_pending] = buy
                p_qty[n_pending] = order_qty
                p_arrival[n_pending] = decided_ts + latency
                # After the tape no trade can meet it: decided "at" index n.
                p_decided[n_pending] = n if last_point else target
                n_pending += 1

    stats[S_FLAG] = flag
    stats[S_FLAG_TRADE] = flag_trade
    stats[S_ORDERS] = orders
    stats[S_FILLS] = fills
    stats[S_POSITION] = position
    stats[S_REALIZED] = realized
    stats[S_FEES] = fees
    stats[S_CASH] = cash
    stats[S_TURNOVER] = turnover_sum
    stats[S_EXPOSED] = exposed
    stats[S_COST] = cost


@nb.njit(cache=True, parallel=True)
def evaluate_many(
    ts: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    eq_idx: np.ndarray,
    bar_pub: np.ndarray,
    ema_table: np.ndarray,
    fast_row: np.ndarray,
    slow_row: np.ndarray,
    quantities: np.ndarray,
    config: np.ndarray,
    max_drawdown: float,
    fee_num: np.ndarray,
    fee_den: np.ndarray,
    fee_mul: np.ndarray,
    fee_sides: np.ndarray,
    equity_out: np.ndarray,
    peak_out: np.ndarray,
    stats: np.ndarray,
) -> None:
    """Run every parameter set ``k`` (EMA rows ``fast_row[k]``, ``slow_row[k]`` of
    ``ema_table``, entry size ``quantities[k]``) over the tape, in parallel; writes row ``k``
    of ``equity_out``, ``peak_out`` and ``stats``."""
    empty_i = np.zeros(0, np.int64)
    empty_b = np.zeros(0, np.bool_)
    for k in nb.prange(fast_row.shape[0]):
        _run_one(
            ts, price, qty, eq_idx, bar_pub, ema_table[fast_row[k]], ema_table[slow_row[k]],
            quantities[k], config, max_drawdown, fee_num, fee_den, fee_mul, fee_sides,
            equity_out[k], peak_out[k], stats[k], empty_i, empty_i, empty_i, empty_i, empty_b,
        )  # fmt: skip


@nb.njit(cache=True)
def evaluate_one_recorded(
    ts: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
    eq_idx: np.ndarray,
    bar_pub: np.ndarray,
    fast: np.ndarray,
    slow: np.ndarray,
    quantity: int,
    config: np.ndarray,
    max_drawdown: float,
    fee_num: np.ndarray,
    fee_den: np.ndarray,
    fee_mul: np.ndarray,
    fee_sides: np.ndarray,
    equity_out: np.ndarray,
    peak_out: np.ndarray,
    stats: np.ndarray,
    fill_idx: np.ndarray,
    fill_price: np.ndarray,
    fill_qty: np.ndarray,
    fill_fee: np.ndarray,
    fill_buy: np.ndarray,
) -> None:
    """One parameter set with its fills recorded (up to the buffers' length)."""
    _run_one(
        ts, price, qty, eq_idx, bar_pub, fast, slow, quantity, config, max_drawdown, fee_num,
        fee_den, fee_mul, fee_sides, equity_out, peak_out, stats, fill_idx, fill_price, fill_qty,
        fill_fee, fill_buy,
    )  # fmt: skip
