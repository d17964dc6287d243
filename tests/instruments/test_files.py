"""Loading and saving instrument files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qk.instruments import Instrument, InstrumentFileError, load_instruments, parse_instruments
from qk.instruments.files import dump_toml, save_instruments
from qk.schemas.enums import AssetClass, InstrumentKind, OptionType, Venue

GOOD = """
[[instrument]]
id = 1
venue = "BINANCE"
symbol = "BTCUSDT"
asset_class = "CRYPTO"
kind = "SPOT"
tick_size = "0.01"
lot_size = "0.00001"
currency = "USDT"
"""


def test_default_file_has_the_agreed_instruments(default_instruments: list[Instrument]) -> None:
    by_name = {i.name: i for i in default_instruments}
    assert list(by_name) == [
        "BTCUSDT.BINANCE",
        "ETHUSDT.BINANCE",
        "INFY.NSE",
        "RELIANCE.NSE",
        "NIFTY25AUGFUT.NFO",
        "NIFTY2580724400CE.NFO",
    ]
    btc = by_name["BTCUSDT.BINANCE"]
    assert (btc.tick_size, btc.lot_size, btc.price_precision, btc.size_precision) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        2,
        5,
    )
    assert by_name["INFY.NSE"].venue_token == 408065
    option = by_name["NIFTY2580724400CE.NFO"]
    assert (option.kind, option.option_type, option.strike) == (
        InstrumentKind.OPTION,
        OptionType.CALL,
        Decimal(24400),
    )
    assert option.expiry == 1_754_560_800 * 10**9  # 2025-08-07 15:30 IST
    assert by_name["NIFTY25AUGFUT.NFO"].asset_class is AssetClass.INDEX


@pytest.mark.parametrize("suffix", [".toml", ".csv"])
def test_save_then_load_round_trips(
    default_instruments: list[Instrument], tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"instruments{suffix}"
    save_instruments(path, default_instruments)
    assert load_instruments(path) == default_instruments


def test_csv_file_with_blank_optional_cells(tmp_path: Path) -> None:
    path = tmp_path / "i.csv"
    path.write_text(
        "id,venue,symbol,asset_class,kind,tick_size,lot_size,currency,expiry\n"
        "1,NSE,INFY,EQUITY,SPOT,0.05,1,INR,\n"
    )
    [infy] = load_instruments(path)
    assert (infy.venue, infy.symbol, infy.price_precision, infy.size_precision) == (
        Venue.NSE,
        "INFY",
        2,
        0,
    )


def test_explicit_precision_may_exceed_the_tick_decimals() -> None:
    [btc] = parse_instruments(GOOD + "price_precision = 8\n", "toml")
    assert btc.price_precision == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[instrument]\n", "not valid TOML"),
        ("[instruments]\n", "unknown top-level key"),
        (
            GOOD + 'colour = "red"\n',
            "instrument #1 \\(BTCUSDT\\): unknown key\\(s\\) \\['colour'\\]",
        ),
        (GOOD.replace('currency = "USDT"\n', ""), "missing required key\\(s\\) \\['currency'\\]"),
        (GOOD.replace('"BINANCE"', '"NASDAQ"'), "venue: 'NASDAQ' is not one of SIM, BINANCE"),
        (GOOD.replace('"0.01"', '"ten"'), "tick_size: 'ten' is not a decimal number"),
        (GOOD.replace('"0.01"', "true"), "tick_size: True is not a number"),
        (GOOD + "expiry = 2025-08-07T15:30:00\n", "expiry: 2025-08-07T15:30:00 has no UTC offset"),
        (GOOD + 'expiry = "soon"\n', "expiry: 'soon' is not an ISO 8601"),
        (GOOD + "price_precision = 1\n", "tick_size: .*more than 1 significant"),
        (GOOD.replace("id = 1", "id = 2"), "id 1 is missing"),
        (GOOD + GOOD.replace("id = 1", "id = 2"), "BTCUSDT.BINANCE is defined twice"),
    ],
)
def test_malformed_files_raise_a_specific_error(text: str, message: str) -> None:
    with pytest.raises(InstrumentFileError, match=message):
        parse_instruments(text, "toml", source="x.toml")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InstrumentFileError, match=r"use .toml or .csv"):
        parse_instruments(GOOD, "yaml")
    with pytest.raises(InstrumentFileError, match="cannot read instrument file"):
        load_instruments(tmp_path / "absent.toml")
    with pytest.raises(InstrumentFileError, match=r"use .toml or .csv"):
        save_instruments(tmp_path / "x.json", [])


def test_csv_row_with_extra_cells_is_rejected() -> None:
    text = "id,venue,symbol,asset_class,kind,tick_size,lot_size,currency\n1,NSE,A,EQUITY,SPOT,1,1,INR,extra\n"
    with pytest.raises(InstrumentFileError, match="line 2 has more cells"):
        parse_instruments(text, "csv")


def test_dump_toml_writes_exact_decimal_strings(default_instruments: list[Instrument]) -> None:
    text = dump_toml(default_instruments)
    assert 'lot_size = "0.00001"' in text
    assert "expiry = 2025-08-07T10:00:00Z" in text
