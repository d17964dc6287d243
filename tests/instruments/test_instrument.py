"""Instrument validation and record conversion."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from qk.instruments import (
    Instrument,
    InstrumentDefinitionError,
    instruments_from_array,
    instruments_to_array,
)
from qk.schemas.enums import AssetClass, InstrumentKind, OptionType, Venue
from qk.schemas.records import dtype_of


def _spot(**overrides: object) -> Instrument:
    fields: dict[str, object] = {
        "instrument_id": 1,
        "venue": Venue.BINANCE,
        "symbol": "BTCUSDT",
        "asset_class": AssetClass.CRYPTO,
        "kind": InstrumentKind.SPOT,
        "tick_size": Decimal("0.01"),
        "lot_size": Decimal("0.00001"),
        "price_precision": 2,
        "size_precision": 5,
        "currency": "USDT",
    }
    fields.update(overrides)
    return Instrument(**fields)  # type: ignore[arg-type]


def test_records_round_trip_every_default_instrument(default_instruments: list[Instrument]) -> None:
    array = instruments_to_array(default_instruments)
    assert array.dtype == dtype_of("Instrument")
    assert array["instrument_id"].tolist() == list(range(1, len(default_instruments) + 1))
    assert instruments_from_array(array) == default_instruments


def test_record_holds_fixed_point_values_at_the_instrument_precision(
    default_instruments: list[Instrument],
) -> None:
    array = instruments_to_array(default_instruments)
    btc = array[0]
    assert (int(btc["tick_size"]), int(btc["lot_size"])) == (1, 1)  # 0.01 @2, 0.00001 @5
    assert int(btc["min_notional"]) == 10 * 10**8
    option = array[5]
    assert int(option["strike"]) == 24400_00
    assert OptionType(int(option["option_type"])) is OptionType.CALL
    assert bytes(option["symbol"]) == b"NIFTY2580724400CE"


def test_strings_and_ints_are_accepted_for_decimal_fields() -> None:
    instrument = _spot(tick_size="0.01", lot_size=1, price_precision=2, size_precision=0)
    assert instrument.tick_size == Decimal("0.01")
    assert instrument.lot_size == Decimal(1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"instrument_id": 0}, "instrument_id must be in 1.."),
        ({"symbol": ""}, "symbol is empty"),
        ({"symbol": "X" * 33}, "symbol .* at most 32 bytes"),
        ({"symbol": "BTC₹"}, "must be ASCII"),
        ({"currency": ""}, "currency is empty"),
        ({"tick_size": Decimal(0)}, "tick_size must be > 0"),
        ({"tick_size": Decimal("0.001")}, "tick_size: .*more than 2 significant"),
        ({"lot_size": Decimal("-1")}, "lot_size must be > 0"),
        ({"price_precision": 19}, "price_precision: precision must be"),
        ({"venue": 99}, "99 is not a valid Venue"),
        ({"expiry": 1}, "a spot has no expiry"),
        ({"strike": Decimal(5)}, "only for options"),
        ({"kind": InstrumentKind.FUTURE}, "a future needs an expiry"),
        ({"kind": InstrumentKind.OPTION, "expiry": 1, "strike": Decimal(1)}, "needs option_type"),
        (
            {"kind": InstrumentKind.OPTION, "expiry": 1, "option_type": OptionType.PUT},
            "needs a strike",
        ),
        ({"tick_size": "abc"}, "tick_size 'abc' is not a decimal number"),
    ],
)
def test_invalid_instruments_are_rejected_with_a_specific_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(InstrumentDefinitionError, match=message):
        _spot(**overrides)


def test_ids_must_be_dense_and_keys_unique() -> None:
    btc = _spot()
    eth = _spot(instrument_id=2, symbol="ETHUSDT")
    assert len(instruments_to_array([eth, btc])) == 2  # any order
    with pytest.raises(InstrumentDefinitionError, match="id 2 is missing"):
        instruments_to_array([btc, replace(eth, instrument_id=3)])
    with pytest.raises(InstrumentDefinitionError, match="id 2 is used twice"):
        instruments_to_array([btc, eth, replace(eth, symbol="X")])
    with pytest.raises(InstrumentDefinitionError, match=r"BTCUSDT.BINANCE is defined twice"):
        instruments_to_array([btc, replace(eth, symbol="BTCUSDT")])


def test_price_and_quantity_conversion_use_the_instrument_precision() -> None:
    btc = _spot()
    assert btc.price_to_raw("27000.51") == 2700051
    assert btc.quantity_to_raw(0.00123) == 123
    assert btc.name == "BTCUSDT.BINANCE"
    assert btc.key == (Venue.BINANCE, "BTCUSDT")
