"""``qk data import|ls|export|compact-wal`` through their own parser."""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from qk.data import DataError, DataFileError
from qk.data.cli import register
from qk.schemas import new_records
from qk.wal import WalWriter, WriterOptions

from .conftest import KITE_MINUTE, KLINES_27, KLINES_28


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def test_import_ls_export_round(
    tmp_path: Path, instruments_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "data")
    common = ("--store", store, "--instruments", str(instruments_file))
    assert _run("data", "import", "--kind", "binance-klines", str(KLINES_27), str(KLINES_28),
                "--venue", "binance", "--symbol", "ADABTC", *common) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert (
        f"{KLINES_27}: 10 BarEvent rows, 10 new, 0 already stored; dates 2021-11-27..2021-11-27"
        in out
    )
    assert _run("data", "import", "--kind", "binance-klines", str(KLINES_27), "--venue", "BINANCE",
                "--symbol", "ADABTC", *common) == 0  # fmt: skip
    assert "10 BarEvent rows, 0 new, 10 already stored" in capsys.readouterr().out
    assert _run("data", "import", "--kind", "kite-candles", str(KITE_MINUTE), "--venue", "NSE",
                "--symbol", "INFY", "--interval", "minute", *common) == 0  # fmt: skip
    capsys.readouterr()
    assert _run("data", "ls", "--store", store) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == [
        "BarEvent",
        "BINANCE",
        "ADABTC",
        "2021-11-27",
        "2021-11-28",
        "21",
        "2",
    ]
    assert lines[2].split() == ["BarEvent", "NSE", "INFY", "2017-12-15", "2017-12-15", "6", "1"]
    out_file = tmp_path / "bars.parquet"
    assert _run("data", "export", "--type", "BarEvent", "--venue", "BINANCE", "--symbol", "ADABTC",
                "--from", "2021-11-28", "--to", "2021-11-28", "--out", str(out_file), "--store", store) == 0  # fmt: skip
    assert pq.read_table(out_file).num_rows == 11


def test_import_of_an_unknown_instrument_names_what_exists(
    tmp_path: Path, instruments_file: Path
) -> None:
    with pytest.raises(
        DataError,
        match=r"BINANCE ETHUSDT is not in .*instruments\.toml \(it has: BINANCE BTCUSDT, ",
    ):
        _run("data", "import", "--kind", "binance-trades", str(KLINES_27), "--venue", "BINANCE",
             "--symbol", "ETHUSDT", "--instruments", str(instruments_file), "--store", str(tmp_path))  # fmt: skip


def test_import_of_a_bad_file_raises_the_precise_error(
    tmp_path: Path, instruments_file: Path
) -> None:
    bad = tmp_path / "BTCUSDT-trades.csv"
    bad.write_text(
        "1,39432.48,0.000263,10,1610064000278,True,True\n2,1e,0.1,10,1610064000279,True,True\n"
    )
    with pytest.raises(
        DataFileError,
        match=r"BTCUSDT-trades\.csv: row 2 \(line 2\), column 'price': '1e' is not a decimal number",
    ):
        _run("data", "import", "--kind", "binance-trades", str(bad), "--venue", "BINANCE",
             "--symbol", "BTCUSDT", "--instruments", str(instruments_file), "--store", str(tmp_path / "d"))  # fmt: skip


def test_compact_wal_and_export_from_wal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = new_records("TradeEvent", 3)
    trades["instrument_id"] = 1
    trades["ts_event"] = 1_700_000_000_000_000_000 + trades["seq"]
    trades["venue_trade_id"] = [1, 2, 3]
    trades["price"], trades["quantity"] = 100, 5
    with WalWriter(
        tmp_path / "wal", options=WriterOptions(segment_size=1 << 20, prepare_ahead=False)
    ) as w:
        w.append_records(trades, trades.dtype.itemsize, 1, 0)
        w.flush()
    store = str(tmp_path / "data")
    assert (
        _run("data", "compact-wal", str(tmp_path / "wal"), "--instruments", "sim", "--store", store)
        == 0
    )
    assert "TradeEvent         SIM/BTCUSDT: 3 new, 0 already stored" in capsys.readouterr().out
    out_file = tmp_path / "t.parquet"
    assert _run("data", "export", "--type", "TradeEvent", "--venue", "SIM", "--symbol", "BTCUSDT",
                "--wal", str(tmp_path / "wal"), "--instruments", "sim", "--out", str(out_file)) == 0  # fmt: skip
    assert pq.read_table(out_file).column("price_decimal").to_pylist()[0].as_tuple().exponent == -2


def test_export_needs_both_venue_and_symbol(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="give both --venue and --symbol, or neither"):
        _run("data", "export", "--type", "TradeEvent", "--venue", "SIM", "--out", str(tmp_path / "x.parquet"),
             "--store", str(tmp_path))  # fmt: skip
