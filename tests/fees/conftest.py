"""Fee test kit: instruments of each venue segment, and fill builders."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from qk.fees import FeeInput, FeeModels, load_fee_models
from qk.instruments import Instrument
from qk.schemas.enums import (
    AssetClass,
    InstrumentKind,
    LiquiditySide,
    OptionType,
    Product,
    Side,
    Venue,
)

DATA = Path(__file__).resolve().parent / "data"
FIXTURES = DATA / "fixtures"
_EXPIRY = 1_690_000_000_000_000_000


def equity(symbol: str = "INFY", venue: Venue = Venue.NSE) -> Instrument:
    """An NSE cash equity: tick 0.05, lot 1."""
    return Instrument(
        instrument_id=1,
        venue=venue,
        symbol=symbol,
        asset_class=AssetClass.EQUITY,
        kind=InstrumentKind.SPOT,
        tick_size=Decimal("0.05"),
        lot_size=Decimal(1),
        price_precision=2,
        size_precision=0,
        currency="INR",
    )


def future(
    symbol: str = "NIFTY25AUGFUT", venue: Venue = Venue.NFO, multiplier: str = "1"
) -> Instrument:
    """An index or commodity future (Kite quantities are units, so multiplier 1 for NFO)."""
    return Instrument(
        instrument_id=2,
        venue=venue,
        symbol=symbol,
        asset_class=AssetClass.INDEX,
        kind=InstrumentKind.FUTURE,
        tick_size=Decimal("0.05") if venue is Venue.NFO else Decimal(1),
        lot_size=Decimal(1),
        price_precision=2,
        size_precision=0,
        currency="INR",
        multiplier=Decimal(multiplier),
        expiry=_EXPIRY,
    )


def option(symbol: str = "NIFTY2371317900PE") -> Instrument:
    """An NFO index option."""
    return Instrument(
        instrument_id=3,
        venue=Venue.NFO,
        symbol=symbol,
        asset_class=AssetClass.INDEX,
        kind=InstrumentKind.OPTION,
        tick_size=Decimal("0.05"),
        lot_size=Decimal(1),
        price_precision=2,
        size_precision=0,
        currency="INR",
        expiry=_EXPIRY,
        strike=Decimal(17900),
        option_type=OptionType.PUT,
    )


def crypto(
    symbol: str = "BTCUSDT",
    venue: Venue = Venue.BINANCE,
    currency: str = "USDT",
    kind: InstrumentKind = InstrumentKind.SPOT,
    price_precision: int = 2,
    size_precision: int = 5,
) -> Instrument:
    """A crypto pair or perpetual."""
    return Instrument(
        instrument_id=4,
        venue=venue,
        symbol=symbol,
        asset_class=AssetClass.CRYPTO,
        kind=kind,
        tick_size=Decimal(1).scaleb(-price_precision),
        lot_size=Decimal(1).scaleb(-size_precision),
        price_precision=price_precision,
        size_precision=size_precision,
        currency=currency,
    )


def fill(
    instrument: Instrument,
    side: Side,
    price: str,
    quantity: str,
    *,
    product: Product = Product.NONE,
    liquidity: LiquiditySide = LiquiditySide.TAKER,
    order_filled_notional: str = "0",
) -> FeeInput:
    """A FeeInput from human-readable decimals."""
    return FeeInput(
        instrument=instrument,
        side=side,
        price=instrument.price_to_raw(price),
        quantity=instrument.quantity_to_raw(quantity),
        liquidity=liquidity,
        product=product,
        order_filled_notional=int(Decimal(order_filled_notional).scaleb(8)),
    )


@pytest.fixture(scope="session")
def mock_models() -> FeeModels:
    """Models with the 2023 rates implied by the Kite mocks (tests/fees/data/kite_mocks_2023.toml)."""
    return load_fee_models([DATA / "kite_mocks_2023.toml"])
