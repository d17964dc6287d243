"""The partitioned store: layout, idempotent imports, round trips, refusals."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from qk.data import (
    DataError,
    DataStore,
    StoreError,
    import_files,
    load_trades_from_store,
    read_kind,
)
from qk.data.store import STORE_SCHEMA_VERSION, InstrumentInfo
from qk.instruments import Instrument
from qk.schemas import new_records

from .conftest import KITE_MINUTE, KLINES_27, KLINES_28, TRADES_PARQUET


def test_klines_import_lays_out_partitions_and_schema(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path / "data")
    results = import_files(store, "binance-klines", [KLINES_27, KLINES_28], instruments["ADABTC"])
    assert [r.report.rows_written for r in results] == [10, 11]
    base = tmp_path / "data" / "BarEvent" / "venue=BINANCE" / "instrument=ADABTC"
    assert sorted(p.name for p in base.iterdir()) == [
        "_instrument.json",
        "date=2021-11-27",
        "date=2021-11-28",
    ]
    assert [p.name for p in (base / "date=2021-11-27").iterdir()] == ["part-00000.parquet"]
    schema = json.loads((tmp_path / "data" / "BarEvent" / "_schema.json").read_text())
    assert schema["store_schema_version"] == STORE_SCHEMA_VERSION
    assert schema["record_type"] == "BarEvent" and schema["record_version"] == 2
    assert schema["columns"][0] == {"name": "type", "type": "uint16"}
    info = json.loads((base / "_instrument.json").read_text())
    assert info == {
        "venue": "BINANCE",
        "symbol": "ADABTC",
        "instrument_id": 2,
        "price_precision": 8,
        "size_precision": 1,
    }


def test_importing_the_same_files_twice_adds_nothing(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path)
    import_files(store, "binance-klines", [KLINES_27, KLINES_28], instruments["ADABTC"])
    again = import_files(store, "binance-klines", [KLINES_27, KLINES_28], instruments["ADABTC"])
    assert [(r.report.rows_written, r.report.rows_skipped) for r in again] == [(0, 10), (0, 11)]
    assert len(store.read("BarEvent", "BINANCE", "ADABTC")) == 21
    assert [p.files for p in store.partitions()] == [2]


def test_store_round_trip_equals_direct_parse(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path)
    for kind, path, symbol in (
        ("binance-klines", KLINES_27, "ADABTC"),
        ("kite-candles", KITE_MINUTE, "INFY"),
    ):
        direct = read_kind(kind, path, instruments[symbol])
        import_files(store, kind, [path], instruments[symbol])
        venue = instruments[symbol].venue.name
        assert store.read("BarEvent", venue, symbol).tobytes() == direct.tobytes()


def test_overlapping_trade_files_keep_each_trade_once(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    instrument = instruments["BTCUSDT"]
    trades = read_kind("trades", TRADES_PARQUET, instrument, round_values=True)
    store = DataStore(tmp_path)
    assert store.write(trades[:1200], instrument).rows_written == 1200
    report = store.write(trades[800:], instrument)
    assert (report.rows_written, report.rows_skipped) == (801, 400)
    back = store.read("TradeEvent", "BINANCE", "BTCUSDT")
    assert back.tobytes() == trades.tobytes()  # the recording is in time and id order


def test_load_trades_for_the_backtest_numbers_seq_and_filters_dates(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    instrument = instruments["BTCUSDT"]
    trades = new_records("TradeEvent", 4)
    trades["instrument_id"] = 1
    day = 86_400 * 10**9
    trades["ts_event"] = [5 * day + 2, 5 * day + 1, 6 * day, 7 * day]
    trades["venue_trade_id"] = [11, 10, 12, 13]
    trades["price"], trades["quantity"] = 100, 1
    DataStore(tmp_path).write(trades, instrument)
    loaded = load_trades_from_store(
        tmp_path, "BINANCE", "BTCUSDT", date(1970, 1, 6), date(1970, 1, 7)
    )
    assert loaded["venue_trade_id"].tolist() == [10, 11, 12]
    assert loaded["seq"].tolist() == [0, 1, 2]
    with pytest.raises(
        DataError, match=r"no TradeEvent stored for BINANCE BTCUSDT in 1971-01-01\.\.end"
    ):
        load_trades_from_store(tmp_path, "BINANCE", "BTCUSDT", date(1971, 1, 1))


def test_bar_revisions_read_back_as_the_final_one(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    bars = read_kind("binance-klines", KLINES_27, instruments["ADABTC"])
    revised = bars[:2].copy()
    revised["revision"] = 1
    revised["close"] += 1
    store = DataStore(tmp_path)
    store.write(bars, instruments["ADABTC"])
    assert store.write(revised, instruments["ADABTC"]).rows_written == 2
    back = store.read("BarEvent", "BINANCE", "ADABTC")
    assert len(back) == 10
    assert back["revision"][:3].tolist() == [1, 1, 0]
    assert back["close"][:2].tolist() == (bars["close"][:2] + 1).tolist()


def test_a_store_of_another_layout_is_refused(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path)
    import_files(store, "binance-klines", [KLINES_27], instruments["ADABTC"])
    path = tmp_path / "BarEvent" / "_schema.json"
    schema = json.loads(path.read_text())
    schema["record_version"] = 1
    path.write_text(json.dumps(schema))
    with pytest.raises(
        StoreError, match=r"_schema\.json: record_version is 1, this build writes 2"
    ):
        store.read("BarEvent", "BINANCE", "ADABTC")
    with pytest.raises(StoreError, match="record_version is 1"):
        import_files(store, "binance-klines", [KLINES_28], instruments["ADABTC"])


def test_another_precision_for_a_stored_instrument_is_refused(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path)
    bars = read_kind("binance-klines", KLINES_27, instruments["ADABTC"])
    store.write(bars, instruments["ADABTC"])
    other = InstrumentInfo("BINANCE", "ADABTC", 2, 9, 1)
    with pytest.raises(StoreError, match="misread"):
        store.write(bars, other)


def test_records_of_another_instrument_are_refused(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    bars = read_kind("binance-klines", KLINES_27, instruments["ADABTC"])
    with pytest.raises(
        StoreError, match=r"record 0 names instrument id 2, not 1 \(BTCUSDT\.BINANCE\)"
    ):
        DataStore(tmp_path).write(bars, instruments["BTCUSDT"])


def test_a_bad_file_stops_the_import_before_anything_is_written(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("1637971200000,0.00002853,x\n")
    store = DataStore(tmp_path / "data")
    with pytest.raises(DataError):
        import_files(store, "binance-klines", [KLINES_27, bad], instruments["ADABTC"])
    assert not (tmp_path / "data").exists()
    assert list(store.partitions()) == []


def test_partitions_list_date_ranges_and_rows(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path)
    import_files(store, "binance-klines", [KLINES_27, KLINES_28], instruments["ADABTC"])
    import_files(store, "kite-candles", [KITE_MINUTE], instruments["INFY"])
    rows = [
        (p.record_type, p.venue, p.symbol, p.first_date, p.last_date, p.rows)
        for p in store.partitions()
    ]
    assert rows == [
        ("BarEvent", "BINANCE", "ADABTC", date(2021, 11, 27), date(2021, 11, 28), 21),
        ("BarEvent", "NSE", "INFY", date(2017, 12, 15), date(2017, 12, 15), 6),
    ]


def test_generic_trades_keep_the_aggressor(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    trades = read_kind("trades", TRADES_PARQUET, instruments["BTCUSDT"], round_values=True)
    assert set(np.unique(trades["aggressor"]).tolist()) == {1, 2}
    assert trades["aggressor"][0] == 2  # buyer_maker "True": the seller took liquidity


def test_trades_without_ids_are_keyed_by_their_whole_record(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    trades = new_records("TradeEvent", 3)
    trades["instrument_id"] = 1
    trades["ts_event"] = [5, 5, 6]
    trades["price"] = [100, 100, 100]
    trades["quantity"] = 1
    store = DataStore(tmp_path)
    report = store.write(trades, instruments["BTCUSDT"])  # rows 0 and 1 are the same trade
    assert (report.rows_written, report.rows_skipped) == (2, 1)
    trades["price"][1] = 101
    assert store.write(trades, instruments["BTCUSDT"]).rows_written == 1
    assert store.read("TradeEvent", "BINANCE", "BTCUSDT")["price"].tolist() == [100, 101, 100]


def test_names_that_cannot_be_directories_are_refused(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    assert store.instrument_dir("TradeEvent", "NSE", "M&M").name == "instrument=M&M"
    with pytest.raises(StoreError, match=r"symbol '\.\./x' cannot name a directory"):
        store.instrument_dir("TradeEvent", "NSE", "../x")
