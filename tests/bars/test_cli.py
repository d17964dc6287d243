"""``qk bars`` end to end: files in, one CSV per timeframe out, clear errors on bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qk.bars.cli import main
from qk.bars.trades_file import BAR_COLUMNS, format_decimal
from qk.schemas.enums import BarFlag

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance" / "recorded_market_data"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_qk_bars_writes_one_csv_per_timeframe_from_the_real_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--input",
            str(FIXTURES / "btcusdt-trades.parquet"),
            "--timeframes",
            "1s,1m,5m",
            "--out",
            str(tmp_path),
            "--lateness",
            "2s",
            "--price-precision",
            "2",
            "--round",
            "--contiguous-ids",
        ]
    )

    assert code == 0
    out = capsys.readouterr().out
    assert "column 'timestamp' read as 'ts_event'" in out
    assert "2,001 trades: 2,001 aggregated" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bars_1m.csv",
        "bars_1s.csv",
        "bars_5m.csv",
    ]
    with (tmp_path / "bars_1s.csv").open() as handle:
        assert tuple(next(csv.reader(handle))) == BAR_COLUMNS
    (minute,) = _rows(tmp_path / "bars_1m.csv")
    assert minute["open_time"] == "1610064000000000000"  # 2021-01-08T00:00:00Z in ns
    assert minute["close_time"] == "1610064060000000000"
    assert (minute["open"], minute["trades"], minute["flags"]) == ("39432.48", "2001", "0")
    seconds = _rows(tmp_path / "bars_1s.csv")
    assert len(seconds) == 47
    assert sum(int(r["trades"]) for r in seconds) == 2001


def test_qk_bars_reads_the_documented_columns_with_iso_times_and_int_ns(tmp_path: Path) -> None:
    src = tmp_path / "trades.csv"
    src.write_text(
        "ts_event,price,quantity,side,trade_id\n"
        "2025-01-01T00:00:00.5Z,100.5,2,buy,1\n"
        "2025-01-01T00:00:01.25Z,101,1,sell,2\n"
    )
    ns_src = tmp_path / "trades_ns.csv"
    ns_src.write_text(
        "ts_event,price,quantity\n1735689600500000000,100.5,2\n1735689601250000000,101,1\n"
    )
    assert main(["--input", str(src), "--timeframes", "1s", "--out", str(tmp_path / "a")]) == 0
    assert main(["--input", str(ns_src), "--timeframes", "1s", "--out", str(tmp_path / "b")]) == 0

    rows = _rows(tmp_path / "a" / "bars_1s.csv")
    assert rows == _rows(tmp_path / "b" / "bars_1s.csv")
    assert [(r["open"], r["volume"], r["vwap"]) for r in rows] == [
        ("100.5", "2", "100.5"),
        ("101", "1", "101"),
    ]


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("ts_event,price\n1,2\n", [], "missing column(s) 'quantity'"),
        (
            "ts_event,price,quantity\n1,2,3\n2,abc,3\n",
            [],
            "row 2 (line 3), column 'price': 'abc' is not a decimal number",
        ),
        (
            "ts_event,price,quantity\n1,2,3\nyesterday,2,3\n",
            [],
            "row 2 (line 3), column 'ts_event': 'yesterday' is neither",
        ),
        ("ts_event,price,quantity\n1,2.123,3\n", ["--price-precision", "2"], "column 'price'"),
        ("ts_event,price,quantity\n1,2,3\n", ["--timeframes", "1s,7x"], "unknown timeframe '7x'"),
        ("ts_event,price,quantity,trade_id\n1,2,3,-4\n", [], "column 'trade_id'"),
        ("ts_event,price,quantity,side\n1,2,3,up\n", [], "column 'side'"),
    ],
)
def test_qk_bars_names_the_file_row_and_column_of_bad_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    args: list[str],
    message: str,
) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(content)
    argv = ["--input", str(src), "--timeframes", "1s", "--out", str(tmp_path / "o"), *args]

    assert main(argv) == 2

    err = capsys.readouterr().err
    assert message in err
    if "timeframe" not in message:
        assert str(src) in err


def test_qk_bars_refuses_an_unknown_file_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "trades.json"
    src.write_text("[]")
    assert main(["--input", str(src), "--timeframes", "1s", "--out", str(tmp_path)]) == 2
    assert "unknown file type '.json'" in capsys.readouterr().err


def test_parquet_with_int_ns_times_reads_like_csv(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"ts_event": [1_735_689_600_500_000_000], "price": [100.5], "quantity": [2.0]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    assert (
        main(
            [
                "--input",
                str(tmp_path / "t.parquet"),
                "--timeframes",
                "1m",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    (row,) = _rows(tmp_path / "o" / "bars_1m.csv")
    assert (row["open"], row["volume"]) == ("100.5", "2")


def test_format_decimal_is_exact_and_short() -> None:
    assert format_decimal(3943248, 2) == "39432.48"
    assert format_decimal(100, 2) == "1"
    assert format_decimal(-5, 3) == "-0.005"
    assert format_decimal(0, 4) == "0"


def test_qk_bars_refuses_a_bad_lateness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "t.csv"
    src.write_text("ts_event,price,quantity\n1,2,3\n")
    argv = ["--input", str(src), "--timeframes", "1s", "--out", str(tmp_path), "--lateness", "2x"]
    assert main(argv) == 2
    assert "--lateness: unknown timeframe '2x'" in capsys.readouterr().err
    assert main([*argv[:-1], "0ms"]) == 0


def test_qk_bars_with_lateness_gives_the_sorted_files_bars_for_a_shuffled_file(
    tmp_path: Path,
) -> None:
    frame = pd.read_parquet(FIXTURES / "btcusdt-trades.parquet")
    rng = np.random.default_rng(3)
    delay = rng.integers(0, 1_000, len(frame)).astype("timedelta64[ms]")
    shuffled = frame.iloc[np.argsort((frame["timestamp"] + delay).to_numpy(), kind="stable")]
    assert not shuffled["trade_id"].is_monotonic_increasing
    shuffled.to_parquet(tmp_path / "shuffled.parquet")
    common = ["--timeframes", "1s,5s", "--price-precision", "2", "--round", "--lateness", "1s"]

    assert (
        main(
            [
                "--input",
                str(FIXTURES / "btcusdt-trades.parquet"),
                "--out",
                str(tmp_path / "sorted"),
                *common,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "--input",
                str(tmp_path / "shuffled.parquet"),
                "--out",
                str(tmp_path / "shuffled"),
                *common,
            ]
        )
        == 0
    )

    for name in ("bars_1s.csv", "bars_5s.csv"):
        expected = _rows(tmp_path / "sorted" / name)
        got = _rows(tmp_path / "shuffled" / name)
        for row in (*expected, *got):
            row["flags"] = str(int(row["flags"]) & ~int(BarFlag.REVISED))
        assert got == expected
