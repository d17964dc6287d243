"""Kite historical candles JSON → BarEvent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qk.data import DataFileError
from qk.data.kite_candles import interval_ns, read_kite_candles
from qk.instruments import Instrument
from qk.schemas.enums import BarAggregation, BarSource

from .conftest import KITE_MINUTE, KITE_OI


def test_minute_candles_are_read_exactly_with_ist_times(instruments: dict[str, Instrument]) -> None:
    bars = read_kite_candles(KITE_MINUTE, instruments["INFY"])
    assert len(bars) == 6
    # 2017-12-15T09:15:00+0530 is 03:45 UTC
    assert (
        bars["open_time"][0] == int(datetime(2017, 12, 15, 3, 45, tzinfo=UTC).timestamp()) * 10**9
    )
    assert (bars["timeframe_ns"] == 60 * 10**9).all()
    assert (bars["close_time"] == bars["open_time"] + 60 * 10**9).all()
    assert (bars["ts_event"] == bars["close_time"]).all()
    assert [int(bars[0][c]) for c in ("open", "high", "low", "close", "volume")] == [
        170450, 170500, 169925, 170280, 2499,
    ]  # fmt: skip
    assert (bars["bar_source"] == BarSource.VENUE).all()
    assert (bars["aggregation"] == BarAggregation.TIME).all()
    assert (bars["instrument_id"] == 3).all()


def test_candles_with_open_interest_are_read(instruments: dict[str, Instrument]) -> None:
    bars = read_kite_candles(KITE_OI, instruments["NIFTY19DECFUT"])
    assert len(bars) == 6
    assert bars["open"][0] == 1200990  # 12009.9
    assert bars["volume"][0] == 163275


def test_interval_given_overrides_inference(instruments: dict[str, Instrument]) -> None:
    bars = read_kite_candles(KITE_MINUTE, instruments["INFY"], interval="3minute")
    assert (bars["timeframe_ns"] == 180 * 10**9).all()
    assert interval_ns("day") == 86_400 * 10**9
    assert interval_ns("15m") == 900 * 10**9
    with pytest.raises(ValueError, match="interval 'weekly' is neither a Kite interval"):
        interval_ns("weekly")


def _write(tmp_path: Path, candles: list[object]) -> Path:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"status": "success", "data": {"candles": candles}}))
    return path


@pytest.mark.parametrize(
    ("candle", "message"),
    [
        (
            ["2017-12-15T09:16:00+0530", "x", 1702, 1698.15, 1698.15, 1271],
            "row 2, column 'open': 'x' is not a number",
        ),
        (
            ["2017-12-15 09:16", 1702, 1702, 1698.15, 1698.15, 1271],
            "row 2, column 'time': '2017-12-15 09:16' is not a time",
        ),
        (
            ["2017-12-15T09:16:00+0530", 1702.015, 1702.015, 1698.15, 1698.15, 1271],
            "row 2, column 'open': 1702.015 has more than 2",
        ),
        (["2017-12-15T09:16:00+0530", 1702, 1702, 1698.15, 1698.15], None),
        (
            ["2017-12-15T09:16:00+0530", 1702, 1701, 1698.15, 1698.15, 1271],
            "row 2, column 'high': open 1702, high 1701",
        ),
    ],
)
def test_bad_candle_names_row_and_column(
    tmp_path: Path, instruments: dict[str, Instrument], candle: list[object], message: str | None
) -> None:
    first = ["2017-12-15T09:15:00+0530", 1704.5, 1705, 1699.25, 1702.8, 2499]
    path = _write(tmp_path, [first, candle])
    with pytest.raises(DataFileError) as caught:
        read_kite_candles(path, instruments["INFY"])
    text = str(caught.value)
    assert text.startswith(f"{path}: ")
    if message is None:
        assert (
            "row 2: a candle is [time, open, high, low, close, volume(, oi)], got 5 items" in text
        )
    else:
        assert message in text


def test_not_a_kite_response_is_refused(tmp_path: Path, instruments: dict[str, Instrument]) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"status": "error", "message": "Invalid token"}))
    with pytest.raises(DataFileError, match="status is 'error', not 'success'"):
        read_kite_candles(path, instruments["INFY"])
    path.write_text('{"data": {}}')
    with pytest.raises(DataFileError, match=r"no list at data\.candles"):
        read_kite_candles(path, instruments["INFY"])


def test_one_candle_needs_an_interval(tmp_path: Path, instruments: dict[str, Instrument]) -> None:
    path = _write(tmp_path, [["2017-12-15T09:15:00+0530", 1704.5, 1705, 1699.25, 1702.8, 2499]])
    with pytest.raises(DataFileError, match="cannot infer the interval from fewer than 2 candles"):
        read_kite_candles(path, instruments["INFY"])
    assert (
        read_kite_candles(path, instruments["INFY"], interval="minute")["timeframe_ns"][0]
        == 60 * 10**9
    )
