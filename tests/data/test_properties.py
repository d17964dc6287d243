"""Property: any set of trades written to the store reads back as the same records, in order,
however it is split across writes and repeated."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qk.data import DataStore
from qk.data.store import InstrumentInfo, sort_records
from qk.schemas import new_records

_INFO = InstrumentInfo("BINANCE", "BTCUSDT", 1, 2, 6)
_DAY = 86_400 * 10**9


@st.composite
def trade_arrays(draw: st.DrawFn) -> np.ndarray:
    count = draw(st.integers(0, 60))
    ids = draw(st.lists(st.integers(1, 2**63), min_size=count, max_size=count, unique=True))
    times = draw(st.lists(st.integers(0, 5 * _DAY), min_size=count, max_size=count))
    prices = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=count, max_size=count))
    trades = new_records("TradeEvent", count, source=draw(st.integers(0, 0xFFFF)))
    trades["instrument_id"] = 1
    trades["venue_trade_id"] = np.array(ids, dtype=np.uint64)
    trades["ts_event"] = 1_600_000_000 * 10**9 + np.array(times, dtype=np.int64)
    trades["price"] = np.array(prices, dtype=np.int64)
    trades["quantity"] = draw(st.integers(1, 10**12))
    trades["aggressor"] = draw(st.integers(0, 2))
    trades["seq"] = np.arange(count, dtype=np.uint64)
    return trades


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=trade_arrays(), split=st.integers(0, 60), repeat=st.booleans())
def test_trades_round_trip_through_the_store(trades: np.ndarray, split: int, repeat: bool) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = DataStore(Path(root))
        store.write(trades[:split], _INFO)
        store.write(trades[split:], _INFO)
        if repeat:
            assert store.write(trades, _INFO).rows_written == 0
        back = store.read("TradeEvent", "BINANCE", "BTCUSDT")
        assert back.tobytes() == sort_records(trades).tobytes()
