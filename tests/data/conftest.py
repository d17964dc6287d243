"""Fixtures of the data-store tests: fixture paths and an instrument master for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from qk.instruments import Instrument, parse_instruments

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BINANCE = FIXTURES / "binance"
KLINES_27 = BINANCE / "recorded_market_data" / "ADABTC-1m-2021-11-27.csv"
KLINES_28 = BINANCE / "recorded_market_data" / "ADABTC-1m-2021-11-28.csv"
TRADES_CSV = BINANCE / "recorded_market_data" / "btcusdt-trades.csv"
TRADES_PARQUET = BINANCE / "recorded_market_data" / "btcusdt-trades.parquet"
REST_TRADES = (
    BINANCE
    / "nautilus_integration_resources"
    / "http_responses"
    / "http_spot_market_historical_trades.json"
)
REST_AGG_TRADES = (
    BINANCE
    / "nautilus_integration_resources"
    / "http_responses"
    / "http_spot_market_agg_trades.json"
)
KITE_MINUTE = FIXTURES / "zerodha" / "kiteconnect-mocks" / "historical_minute.json"
KITE_OI = FIXTURES / "zerodha" / "kiteconnect-mocks" / "historical_oi.json"

# BTCUSDT with the 2021 lot (0.000001): the recorded trades have 6-decimal quantities.
INSTRUMENTS_TOML = """
[[instrument]]
id = 1
venue = "BINANCE"
symbol = "BTCUSDT"
asset_class = "CRYPTO"
kind = "SPOT"
tick_size = "0.01"
lot_size = "0.000001"
currency = "USDT"

[[instrument]]
id = 2
venue = "BINANCE"
symbol = "ADABTC"
asset_class = "CRYPTO"
kind = "SPOT"
tick_size = "0.00000001"
lot_size = "0.1"
currency = "BTC"

[[instrument]]
id = 3
venue = "NSE"
symbol = "INFY"
asset_class = "EQUITY"
kind = "SPOT"
tick_size = "0.05"
lot_size = "1"
currency = "INR"

[[instrument]]
id = 4
venue = "NFO"
symbol = "NIFTY19DECFUT"
asset_class = "INDEX"
kind = "FUTURE"
tick_size = "0.05"
lot_size = "75"
currency = "INR"
expiry = 2019-12-26T15:30:00+05:30
"""


@pytest.fixture
def instruments_file(tmp_path: Path) -> Path:
    """The test instrument master as a TOML file."""
    path = tmp_path / "instruments.toml"
    path.write_text(INSTRUMENTS_TOML, encoding="utf-8")
    return path


@pytest.fixture
def instruments() -> dict[str, Instrument]:
    """The test instruments by symbol."""
    return {i.symbol: i for i in parse_instruments(INSTRUMENTS_TOML, "toml")}
