"""WAL compaction into the store, and export straight from a WAL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from qk.data import DataError, DataStore, compact_wal, export_from_wal
from qk.data.store import InstrumentInfo
from qk.instruments import Instrument
from qk.schemas import new_records
from qk.wal import WalWriter, WriterOptions

_DAY = 86_400 * 10**9
_T0 = 19_700 * _DAY  # 2023-12-09


def _trades(count: int, instrument_id: int, first_id: int) -> np.ndarray:
    trades = new_records("TradeEvent", count, source=3)
    trades["seq"] = np.arange(count)
    trades["instrument_id"] = instrument_id
    trades["ts_event"] = _T0 + np.arange(count) * (_DAY // 4)  # spans several dates
    trades["price"] = 4_000_000 + np.arange(count)
    trades["quantity"] = 250
    trades["venue_trade_id"] = first_id + np.arange(count)
    return trades


def _health(count: int) -> np.ndarray:
    health = new_records("SystemHealthEvent", count, source=9)
    health["ts_event"] = _T0 + np.arange(count) * 10**9
    health["heartbeat_seq"] = np.arange(count)
    health["detail"] = b"ok"
    return health


def _write_wal(path: Path) -> dict[str, np.ndarray]:
    btc, inf = _trades(10, 1, 500), _trades(3, 3, 90)
    bars = new_records("BarEvent", 2)
    bars["instrument_id"] = 2
    bars["open_time"] = [_T0, _T0 + 60 * 10**9]
    bars["ts_event"] = bars["close_time"] = bars["open_time"] + 60 * 10**9
    bars["timeframe_ns"] = 60 * 10**9
    bars["aggregation"], bars["bar_source"] = 1, 1
    health = _health(5)
    with WalWriter(
        path, options=WriterOptions(segment_size=1 << 20, prepare_ahead=False)
    ) as writer:
        writer.append_records(btc[:6], btc.dtype.itemsize, 1, 0)
        writer.append_records(health, health.dtype.itemsize, 9, 0)
        writer.append(b"a free-form payload, not a record", ts_event=_T0)
        writer.append(b"\xff\xff" + bytes(62), ts_event=_T0)  # 64 bytes, unknown type 65535
        writer.append_records(inf, inf.dtype.itemsize, 2, 0)
        writer.append_records(btc[6:], btc.dtype.itemsize, 1, 6)
        writer.append_records(bars, bars.dtype.itemsize, 4, 0)
        writer.flush()
    return {"btc": btc, "inf": inf, "bars": bars, "health": health}


def test_compaction_groups_by_type_instrument_and_date(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    written = _write_wal(tmp_path / "wal")
    store = DataStore(tmp_path / "data")
    report = compact_wal(tmp_path / "wal", store, instruments.values())
    assert report.frames == 22 and report.records == 20
    assert {reason: (s.count, s.first_seq) for reason, s in report.skipped.items()} == {
        "payload shorter than the 40-byte record header": (1, 12),
        "first two bytes are not a record type code": (1, 13),
    }
    assert store.read("TradeEvent", "BINANCE", "BTCUSDT").tobytes() == written["btc"].tobytes()
    assert store.read("TradeEvent", "NSE", "INFY").tobytes() == written["inf"].tobytes()
    assert store.read("BarEvent", "BINANCE", "ADABTC").tobytes() == written["bars"].tobytes()
    assert store.read("SystemHealthEvent", "NONE", "NONE").tobytes() == written["health"].tobytes()
    assert len(store.dates("TradeEvent", "BINANCE", "BTCUSDT")) == 3  # 10 trades 6 h apart


def test_compacting_the_same_wal_twice_adds_nothing(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    _write_wal(tmp_path / "wal")
    store = DataStore(tmp_path / "data")
    compact_wal(tmp_path / "wal", store, instruments.values())
    again = compact_wal(tmp_path / "wal", store, instruments.values())
    assert sum(w.rows_written for w in again.writes) == 0
    assert sum(w.rows_skipped for w in again.writes) == 20


def test_a_record_of_an_unknown_instrument_is_an_error(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    _write_wal(tmp_path / "wal")
    known = [instruments["BTCUSDT"], instruments["ADABTC"]]
    with pytest.raises(
        DataError,
        match=r"TradeEvent record seq 0 .* names instrument id 3, which is not in test list",
    ):
        compact_wal(tmp_path / "wal", DataStore(tmp_path / "data"), known, source="test list")


def test_export_from_wal_filters_instrument_and_dates(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    written = _write_wal(tmp_path / "wal")
    from datetime import date

    info = InstrumentInfo.of(instruments["BTCUSDT"])
    rows = export_from_wal(
        tmp_path / "wal", "TradeEvent", info, tmp_path / "t.parquet",
        start=date(2023, 12, 10), end=date(2023, 12, 10),
    )  # fmt: skip
    table = pq.read_table(tmp_path / "t.parquet")
    expected = written["btc"][4:8]  # 6-hourly from 2023-12-09 00:00: trades 4..7 fall on the 10th
    assert rows == 4
    assert table.column("venue_trade_id").to_pylist() == expected["venue_trade_id"].tolist()
