"""Export columns: raw fields, text, timestamps and exact decimals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qk.data import DataError, DataStore, export_from_store, export_table, import_files
from qk.data.store import InstrumentInfo
from qk.instruments import Instrument
from qk.schemas import new_records

from .conftest import KLINES_27


def test_bar_export_has_fields_timestamps_and_exact_decimals(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    store = DataStore(tmp_path / "data")
    import_files(store, "binance-klines", [KLINES_27], instruments["ADABTC"])
    rows = export_from_store(store, "BarEvent", "BINANCE", "ADABTC", tmp_path / "bars.parquet")
    table = pq.read_table(tmp_path / "bars.parquet")
    assert rows == table.num_rows == 10
    names = table.column_names
    assert names[:6] == ["type", "version", "flags", "size", "source", "seq"]
    assert "reserved0" not in names
    assert names[-7:] == [
        "ts_event_utc", "open_decimal", "high_decimal", "low_decimal", "close_decimal",
        "volume_decimal", "vwap_decimal",
    ]  # fmt: skip
    assert table.schema.field("open").type == pa.int64()
    assert table.schema.field("open_decimal").type == pa.decimal128(38, 8)
    assert table.schema.field("vwap_decimal").type == pa.decimal128(38, 12)
    assert table.column("open_decimal")[0].as_py() == Decimal("0.00002853")
    assert table.column("volume_decimal")[0].as_py() == Decimal("36304.2")
    assert table.column("ts_event_utc")[0].value == 1637971260000 * 10**6
    assert table.schema.metadata[b"qk.price_precision"] == b"8"


def test_text_arrays_and_negative_decimals_export_exactly() -> None:
    fills = new_records("FillEvent", 2)
    fills["venue_order_id"] = [b"ABC-1", b""]
    fills["fee_currency"] = b"USDT"
    fills["fee"] = [-12345, 7]  # money: 8 decimals
    fills["price"] = [-5, 123456789012]
    table = export_table(fills, InstrumentInfo("BINANCE", "BTCUSDT", 1, 2, 6))
    assert table.column("venue_order_id").to_pylist() == ["ABC-1", ""]
    assert table.column("fee_currency").to_pylist() == ["USDT", "USDT"]
    assert table.column("fee_decimal").to_pylist() == [Decimal("-0.00012345"), Decimal("7E-8")]
    assert table.column("price_decimal").to_pylist() == [Decimal("-0.05"), Decimal("1234567890.12")]

    depth = new_records("DepthEvent", 1)
    depth["bid_price"][0, :3] = [101, 100, 99]
    table = export_table(depth, InstrumentInfo("BINANCE", "BTCUSDT", 1, 2, 6))
    assert table.column("bid_price").to_pylist()[0][:3] == [101, 100, 99]
    assert table.column("bid_price_decimal").to_pylist()[0][:2] == [
        Decimal("1.01"),
        Decimal("1.00"),
    ]


def test_without_an_instrument_only_money_gets_decimals() -> None:
    snapshot = new_records("PortfolioSnapshot", 1)
    snapshot["equity"] = 10**8
    table = export_table(snapshot, None)
    assert table.column("equity_decimal").to_pylist() == [Decimal("1.00000000")]
    trades = new_records("TradeEvent", 1)
    assert "price_decimal" not in export_table(trades, None).column_names


def test_exporting_what_is_not_stored_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match="no TradeEvent stored for venue 'BINANCE' instrument 'BTCUSDT'"
    ):
        export_from_store(
            DataStore(tmp_path), "TradeEvent", "BINANCE", "BTCUSDT", tmp_path / "x.parquet"
        )
    assert not np.any([p.suffix == ".parquet" for p in tmp_path.iterdir()])
