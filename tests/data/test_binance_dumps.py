"""Binance public data dumps: trades, aggTrades and klines, with and without a header, ms and µs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qk.bars.trades_file import read_trades
from qk.data import DataFileError
from qk.data.binance_dumps import read_binance_aggtrades, read_binance_klines, read_binance_trades
from qk.instruments import Instrument
from qk.schemas.enums import AggressorSide, BarAggregation, BarSource

from .conftest import KLINES_27, REST_AGG_TRADES, REST_TRADES, TRADES_CSV


def _trades_dump_from_rest(path: Path, *, micro: bool = False, header: bool = False) -> list[dict]:
    # The trades dump is /api/v3/historicalTrades in column order (binance-public-data README).
    rows = json.loads(REST_TRADES.read_text())
    lines = ["id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"] if header else []
    for r in rows:
        time = r["time"] * 1000 if micro else r["time"]
        lines.append(
            f"{r['id']},{r['price']},{r['qty']},{r['quoteQty']},{time},{r['isBuyerMaker']},{r['isBestMatch']}"
        )
    path.write_text("\n".join(lines) + "\n")
    return rows


def test_trades_dump_without_header_reads_every_field_exactly(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    rows = _trades_dump_from_rest(tmp_path / "BTCUSDT-trades.csv")
    trades = read_binance_trades(tmp_path / "BTCUSDT-trades.csv", instruments["BTCUSDT"])
    assert len(trades) == len(rows) == 10
    assert trades["venue_trade_id"].tolist() == [r["id"] for r in rows]
    assert trades["ts_event"].tolist() == [r["time"] * 1_000_000 for r in rows]
    assert trades["price"][0] == 6081478  # 60814.78000000 at 2 decimals
    assert trades["quantity"][0] == 340  # 0.00034000 at 6 decimals
    expected = [AggressorSide.SELLER if r["isBuyerMaker"] else AggressorSide.BUYER for r in rows]
    assert trades["aggressor"].tolist() == expected
    assert (trades["instrument_id"] == 1).all()


def test_trades_dump_in_microseconds_gives_the_same_times_as_in_milliseconds(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    _trades_dump_from_rest(tmp_path / "ms.csv")
    _trades_dump_from_rest(tmp_path / "us.csv", micro=True, header=True)
    ms = read_binance_trades(tmp_path / "ms.csv", instruments["BTCUSDT"])
    us = read_binance_trades(tmp_path / "us.csv", instruments["BTCUSDT"])
    assert ms.tobytes() == us.tobytes()


def test_futures_trades_dump_with_six_columns_and_lowercase_booleans(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    path = tmp_path / "um.csv"
    path.write_text(
        "id,price,qty,quote_qty,time,is_buyer_maker\n"
        "28457,4.00000100,12.00000000,48.00,1499865549590,true\n"
    )
    instrument = instruments["ADABTC"]
    trades = read_binance_trades(path, instrument)
    assert trades["price"].tolist() == [400000100]
    assert trades["quantity"].tolist() == [120]
    assert trades["aggressor"].tolist() == [AggressorSide.SELLER]


def test_recorded_trades_reformatted_as_a_dump_match_the_generic_reader(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    instrument = instruments["BTCUSDT"]
    # The recording stored some quantities as binary floats (0.00031099999999999997): round them
    # once, then write the trades the way a dump writes them (8 decimals, ms, True/False).
    direct = read_trades(TRADES_CSV, 2, 6, round_values=True)
    sides = pd.read_csv(TRADES_CSV, dtype=str)["buyer_maker"].tolist()
    lines = [
        f"{tid},{Decimal(int(p)).scaleb(-2):.8f},{Decimal(int(q)).scaleb(-6):.8f},0,"
        f"{ts // 1_000_000},{side},True"
        for tid, p, q, ts, side in zip(
            direct.trade_id.tolist(),
            direct.price,
            direct.quantity,
            direct.ts_event.tolist(),
            sides,
            strict=True,
        )
    ]
    (tmp_path / "dump.csv").write_text("\n".join(lines) + "\n")
    trades = read_binance_trades(tmp_path / "dump.csv", instrument)
    assert len(trades) == 2001
    np.testing.assert_array_equal(trades["ts_event"], direct.ts_event)
    np.testing.assert_array_equal(trades["price"], direct.price)
    np.testing.assert_array_equal(trades["quantity"], direct.quantity)
    np.testing.assert_array_equal(trades["venue_trade_id"], direct.trade_id)
    sellers = [s == "True" for s in sides]
    assert (trades["aggressor"] == AggressorSide.SELLER).tolist() == sellers


def test_aggtrades_dump_from_recorded_rest_response(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    rows = json.loads(REST_AGG_TRADES.read_text())
    path = tmp_path / "agg.csv"
    path.write_text(
        "".join(
            f"{r['a']},{r['p']},{r['q']},{r['f']},{r['l']},{r['T']},{r['m']},{r['M']}\n"
            for r in rows
        )
    )
    trades = read_binance_aggtrades(path, instruments["BTCUSDT"])
    assert trades["venue_trade_id"].tolist() == [r["a"] for r in rows]
    assert trades["price"][0] == 6075960
    assert trades["quantity"][0] == 8410
    assert trades["aggressor"][0] == AggressorSide.BUYER  # "m": false


def test_klines_dump_becomes_venue_time_bars(instruments: dict[str, Instrument]) -> None:
    bars = read_binance_klines(KLINES_27, instruments["ADABTC"])
    assert len(bars) == 10
    first = bars[0]
    assert first["open_time"] == 1637971200000 * 1_000_000
    assert first["close_time"] == first["ts_event"] == 1637971260000 * 1_000_000
    assert first["timeframe_ns"] == 60 * 10**9
    assert first["bar_source"] == BarSource.VENUE and first["aggregation"] == BarAggregation.TIME
    assert [int(first[c]) for c in ("open", "high", "low", "close")] == [2853, 2854, 2851, 2854]
    assert first["volume"] == 363042  # 36304.2 at 1 decimal
    assert first["trade_count"] == 79
    # 1.03547608 / 36304.2 = 0.0000285222...; 12 decimals, half-even
    assert first["vwap"] == 28522212


def test_klines_in_microseconds_match_milliseconds(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    lines = []
    for line in KLINES_27.read_text().splitlines():
        fields = line.split(",")
        fields[0] = str(int(fields[0]) * 1000)
        fields[6] = str(int(fields[6]) * 1000 + 999)  # µs files end intervals at ...999999
        lines.append(",".join(fields))
    (tmp_path / "us.csv").write_text("\n".join(lines) + "\n")
    ms = read_binance_klines(KLINES_27, instruments["ADABTC"])
    us = read_binance_klines(tmp_path / "us.csv", instruments["ADABTC"])
    assert ms.tobytes() == us.tobytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "553287559,39432.48,0.000263,10,1610064000278,True,True\n"
            "553287560,39432.4x,0.004376,10,1610064000310,False,True\n",
            "bad.csv: row 2 (line 2), column 'price': '39432.4x' is not a decimal number",
        ),
        (
            "id,price,qty,quote_qty,time,is_buyer_maker\n"
            "1,39432.48,0.000263,10,1610064000278,True\n"
            "2,39432.48,0.0002631,10,1610064000310,False\n",
            "bad.csv: row 2 (line 3), column 'qty': '0.0002631' has more than 6 "
            "significant decimal place(s)",
        ),
        (
            "1,39432.48,0.000263,10,1610064000278,True,True\n2,39432.48,0.000263,10,1610064000310\n",
            "bad.csv: row 2 (line 2): 5 fields, the first row has 7",
        ),
        (
            "1,39432.48,0.000263,10,1610064000278,True,True\n2,39432.48,0.000263,10,1610064000310123,Maybe,True\n",
            "bad.csv: row 2 (line 2), column 'time': 1610064000310123 is not in ms like row 1",
        ),
        (
            "1,39432.48,0.000263,10,1610064000278,True,True\n2,39432.48,0.000263,10,1610064000310,Maybe,True\n",
            "bad.csv: row 2 (line 2), column 'is_buyer_maker': 'Maybe' is not true or false",
        ),
        (
            "trade_id,price,quantity,time,side\n1,2,3,4,buy\n",
            "bad.csv: header 'trade_id,price,quantity,time,side' is not a Binance trades header; "
            "expected id,price,qty,quote_qty,time,is_buyer_maker[,is_best_match]",
        ),
        (
            "1,39432.48,0.000263,1610064000278,True\n",
            "bad.csv: row 1 (line 1): 5 fields, a Binance trades dump has 6 or 7",
        ),
    ],
)
def test_bad_trades_dump_names_file_row_and_column(
    tmp_path: Path, instruments: dict[str, Instrument], text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError) as caught:
        read_binance_trades(path, instruments["BTCUSDT"])
    assert str(caught.value).removeprefix(str(tmp_path) + "/").startswith(message)


def test_bad_kline_names_row_and_column(tmp_path: Path, instruments: dict[str, Instrument]) -> None:
    lines = KLINES_27.read_text().splitlines()
    fields = lines[3].split(",")
    fields[2] = "0.00002000"  # high below open
    lines[3] = ",".join(fields)
    (tmp_path / "k.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFileError, match=r"k\.csv: row 4 \(line 4\), column 'open': open is above high"
    ):
        read_binance_klines(tmp_path / "k.csv", instruments["ADABTC"])


def test_kline_file_with_a_missing_column_is_refused(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    lines = [",".join(line.split(",")[:11]) for line in KLINES_27.read_text().splitlines()]
    (tmp_path / "k.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFileError, match=r"row 1 \(line 1\): 11 fields, a Binance klines dump has 12"
    ):
        read_binance_klines(tmp_path / "k.csv", instruments["ADABTC"])


def test_missing_file_is_named(tmp_path: Path, instruments: dict[str, Instrument]) -> None:
    with pytest.raises(DataFileError, match=r"nope\.csv: no such file"):
        read_binance_trades(tmp_path / "nope.csv", instruments["BTCUSDT"])


def test_a_row_with_too_many_fields_is_named(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        "id,price,qty,quote_qty,time,is_buyer_maker\n"
        "1,39432.48,0.000263,10,1610064000278,True\n"
        "2,39432.48,0.000263,10,1610064000279,True,True,9\n"
    )
    with pytest.raises(
        DataFileError, match=r"wide\.csv: row 2 \(line 3\): 8 fields, the first row has 6"
    ):
        read_binance_trades(path, instruments["BTCUSDT"])


def test_a_zipped_dump_reads_like_its_csv(
    tmp_path: Path, instruments: dict[str, Instrument]
) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "ADABTC-1m-2021-11-27.zip", "w") as archive:
        archive.write(KLINES_27, "ADABTC-1m-2021-11-27.csv")
    zipped = read_binance_klines(tmp_path / "ADABTC-1m-2021-11-27.zip", instruments["ADABTC"])
    assert zipped.tobytes() == read_binance_klines(KLINES_27, instruments["ADABTC"]).tobytes()
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    with pytest.raises(DataFileError, match=r"broken\.zip: not a zip file"):
        read_binance_klines(tmp_path / "broken.zip", instruments["ADABTC"])
