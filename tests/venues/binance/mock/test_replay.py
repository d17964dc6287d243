"""Replaying the recorded BTCUSDT tape through the mock: partial fills capped by traded size."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from qk.venues.binance.mock.data import MockDataError, load_trades_csv
from qk.venues.binance.mock.server import MockBinance, MockConfig
from tests.venues.binance.mock.conftest import FIXTURES

TAPE = FIXTURES / "recorded_market_data" / "btcusdt-trades.csv"


class ManualClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _replay(
    limit_price: str, quantity: str
) -> tuple[MockBinance, dict[str, Any], list[dict[str, Any]]]:
    trades = load_trades_csv(TAPE)
    clock = ManualClock(trades[0].ts_ms - 1)
    mock = MockBinance(MockConfig(clock=clock))
    events: list[dict[str, Any]] = []
    mock.hub.publish = lambda channel, event: events.append(event) if channel == "spot" else None  # type: ignore[method-assign]
    placed = mock.spot.new_order(
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": quantity,
            "price": limit_price,
            "newClientOrderId": "replay-1",
        }
    )
    for trade in trades:
        clock.now = trade.ts_ms
        mock.on_trade(trade.symbol, trade.price, trade.qty, trade.ts_ms, trade.trade_id)
    return mock, placed, events


def test_tape_loads_exact_decimals() -> None:
    trades = load_trades_csv(TAPE)
    assert len(trades) == 2001
    assert (trades[0].trade_id, trades[0].price, trades[0].qty) == (
        553287559,
        Decimal("39432.48"),
        Decimal("0.000263"),
    )
    assert trades[-1].qty == Decimal("0.014596")  # float noise "0.014596000000000001" removed


def test_resting_buy_fills_partially_from_trades_through_its_price() -> None:
    mock, placed, events = _replay("39440.00", "0.5")
    reports = [e for e in events if e["e"] == "executionReport" and e["c"] == "replay-1"]
    trades = [r for r in reports if r["x"] == "TRADE"]
    assert placed["status"] == "NEW"
    assert len(trades) >= 2
    assert all(r["L"] == "39440.00000000" and r["m"] is True for r in trades)
    tape = load_trades_csv(TAPE)
    through = [t for t in tape if t.price < Decimal("39440")]
    expected = min(sum((t.qty for t in through), Decimal(0)), Decimal("0.5"))
    order = mock.spot.orders[placed["orderId"]]
    assert order.executed_qty == expected
    assert Decimal(trades[-1]["z"]) == expected
    assert {r["X"] for r in trades} <= {"PARTIALLY_FILLED", "FILLED"}
    # each fill is capped by the size of the trade that printed through the limit
    remaining = Decimal("0.5")
    expected_fills = []
    for t in through:
        if remaining == 0:
            break
        expected_fills.append(min(t.qty, remaining))
        remaining -= expected_fills[-1]
    assert [Decimal(r["l"]) for r in trades] == expected_fills


def test_replay_is_deterministic() -> None:
    _, _, first = _replay("39440.00", "0.5")
    _, _, second = _replay("39440.00", "0.5")
    assert first == second


def test_bad_tape_row_is_named(tmp_path: Any) -> None:
    bad = tmp_path / "trades.csv"
    bad.write_text(
        '"timestamp","trade_id","price","quantity"\n2021-01-08 00:00:00.278Z,1,abc,0.1\n'
    )
    with pytest.raises(MockDataError, match=r"row 2, column 'price'"):
        load_trades_csv(bad)
    missing = tmp_path / "short.csv"
    missing.write_text("timestamp,price\n")
    with pytest.raises(MockDataError, match="missing column"):
        load_trades_csv(missing)
