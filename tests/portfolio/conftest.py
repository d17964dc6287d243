"""Portfolio test kit: a small instrument master and fill builders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qk.instruments import Instrument, InstrumentMaster
from qk.portfolio import Fill, Portfolio
from qk.schemas.enums import AssetClass, InstrumentKind, Side, Venue

BTC = 1
"""BTCUSDT spot: price 2 decimals, quantity 5 decimals, USDT."""
NIFTY_FUT = 2
"""An NFO future with multiplier 75 (lots of 75 units, quantity counted in lots here)."""
INFY = 3
"""NSE cash equity in INR, quantity 0 decimals."""
PEPE = 4
"""A micro-priced pair: price 8 decimals, quantity 2, so PnL has more decimals than money."""


def instruments() -> list[Instrument]:
    return [
        Instrument(
            instrument_id=BTC,
            venue=Venue.BINANCE,
            symbol="BTCUSDT",
            asset_class=AssetClass.CRYPTO,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.00001"),
            price_precision=2,
            size_precision=5,
            currency="USDT",
        ),
        Instrument(
            instrument_id=NIFTY_FUT,
            venue=Venue.NFO,
            symbol="NIFTY25AUGFUT",
            asset_class=AssetClass.INDEX,
            kind=InstrumentKind.FUTURE,
            tick_size=Decimal("0.05"),
            lot_size=Decimal(1),
            price_precision=2,
            size_precision=0,
            currency="INR",
            multiplier=Decimal(75),
            expiry=1_756_375_200_000_000_000,
        ),
        Instrument(
            instrument_id=INFY,
            venue=Venue.NSE,
            symbol="INFY",
            asset_class=AssetClass.EQUITY,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.05"),
            lot_size=Decimal(1),
            price_precision=2,
            size_precision=0,
            currency="INR",
        ),
        Instrument(
            instrument_id=PEPE,
            venue=Venue.BINANCE,
            symbol="PEPEUSDT",
            asset_class=AssetClass.CRYPTO,
            kind=InstrumentKind.SPOT,
            tick_size=Decimal("0.00000001"),
            lot_size=Decimal("0.01"),
            price_precision=8,
            size_precision=2,
            currency="USDT",
        ),
    ]


MASTER = InstrumentMaster.from_instruments(instruments())


def fill(
    side: Side,
    price: str,
    quantity: str,
    *,
    instrument_id: int = BTC,
    strategy_id: int = 1,
    fee: str = "0",
    fee_currency: str | None = None,
) -> Fill:
    """A Fill from human-readable decimals."""
    instrument = MASTER.get(instrument_id)
    return Fill(
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        side=side,
        price=instrument.price_to_raw(price),
        quantity=instrument.quantity_to_raw(quantity),
        fee=int(Decimal(fee).scaleb(8)),
        fee_currency=instrument.currency if fee_currency is None else fee_currency,
    )


@pytest.fixture
def portfolio() -> Portfolio:
    """An empty portfolio over the test master."""
    return Portfolio(MASTER)
