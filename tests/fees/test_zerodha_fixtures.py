"""The Zerodha model reproduces real Kite API charge breakdowns, component by component.

The mocks are float JSON; each fixture number is read as the decimal it was meant to be (float
noise removed at 10 decimals) and rounded half up to 8 decimals, as every fee amount is.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from qk.fees import FeeBreakdown, FeeComponentKind, FeeModels
from qk.schemas.enums import Product, Side, Venue

from .conftest import FIXTURES, equity, fill, future, option


def _expected(value: float) -> Decimal:
    return (
        Decimal(repr(value))
        .quantize(Decimal("1E-10"), rounding=ROUND_HALF_UP)
        .quantize(Decimal("1E-8"), rounding=ROUND_HALF_UP)
    )


def _kite_view(breakdown: FeeBreakdown) -> dict[str, Decimal]:
    """Our breakdown in Kite's ``charges`` fields (Kite folds IPFT into the exchange charge)."""
    return {
        "transaction_tax": breakdown.value(FeeComponentKind.TRANSACTION_TAX),
        "exchange_turnover_charge": breakdown.value(FeeComponentKind.EXCHANGE_TRANSACTION)
        + breakdown.value(FeeComponentKind.INVESTOR_PROTECTION_FUND),
        "sebi_turnover_charge": breakdown.value(FeeComponentKind.SEBI_TURNOVER),
        "brokerage": breakdown.value(FeeComponentKind.BROKERAGE),
        "stamp_duty": breakdown.value(FeeComponentKind.STAMP_DUTY),
        "gst": breakdown.value(FeeComponentKind.GST),
        "total": breakdown.total_value,
    }


def _fixture_view(charges: dict[str, Any]) -> dict[str, Decimal]:
    return {
        "transaction_tax": _expected(charges["transaction_tax"]),
        "exchange_turnover_charge": _expected(charges["exchange_turnover_charge"]),
        "sebi_turnover_charge": _expected(charges["sebi_turnover_charge"]),
        "brokerage": _expected(charges["brokerage"]),
        "stamp_duty": _expected(charges["stamp_duty"]),
        "gst": _expected(charges["gst"]["total"]),
        "total": _expected(charges["total"]),
    }


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())["data"]


def test_fee_when_sbin_delivery_buy_of_contract_note_then_every_charge_matches(
    mock_models: FeeModels,
) -> None:
    row = _load("virtual_contract_note.json")[0]
    assert (row["tradingsymbol"], row["product"], row["transaction_type"]) == ("SBIN", "CNC", "BUY")
    breakdown = mock_models["mock2023.nse.delivery.contract_note"].fee(
        fill(equity("SBIN"), Side.BUY, "560", "1", product=Product.DELIVERY)
    )
    assert _kite_view(breakdown) == _fixture_view(row["charges"])


def test_fee_when_goldpetal_future_sell_of_contract_note_then_every_charge_matches(
    mock_models: FeeModels,
) -> None:
    row = _load("virtual_contract_note.json")[1]
    assert (row["tradingsymbol"], row["transaction_type"]) == ("GOLDPETAL23JULFUT", "SELL")
    breakdown = mock_models["mock2023.mcx.futures"].fee(
        fill(future("GOLDPETAL23JULFUT", Venue.MCX), Side.SELL, "5862", "1", product=Product.CARRY)
    )
    assert _kite_view(breakdown) == _fixture_view(row["charges"])
    # The rule under test: 0.03% of 5862 is below the ₹20 cap, so brokerage is the 0.03%.
    assert breakdown.value(FeeComponentKind.BROKERAGE) == Decimal("1.7586")


def test_fee_when_nifty_put_buy_of_contract_note_then_every_charge_matches(
    mock_models: FeeModels,
) -> None:
    row = _load("virtual_contract_note.json")[2]
    assert (row["tradingsymbol"], row["quantity"], row["price"]) == ("NIFTY2371317900PE", 100, 1.5)
    breakdown = mock_models["mock2023.nfo.options.contract_note"].fee(
        fill(option(), Side.BUY, "1.5", "100", product=Product.CARRY)
    )
    assert _kite_view(breakdown) == _fixture_view(row["charges"])


def test_fee_when_infy_delivery_buy_of_order_margins_then_every_charge_matches(
    mock_models: FeeModels,
) -> None:
    row = _load("order_margins.json")[0]
    assert (row["tradingsymbol"], row["var"]) == ("INFY", 1498)
    breakdown = mock_models["mock2023.nse.delivery.order_margins"].fee(
        fill(equity("INFY"), Side.BUY, "1498", "1", product=Product.DELIVERY)
    )
    assert _kite_view(breakdown) == _fixture_view(row["charges"])


@pytest.mark.parametrize(
    ("index", "side", "price", "quantity"),
    [
        # The mock gives only the premium (2673.75 and 521.25); every charge here is either
        # proportional to the premium or flat per order, so any price x quantity with that
        # premium gives the same charges.
        (0, Side.SELL, "35.65", "75"),
        (1, Side.BUY, "6.95", "75"),
    ],
)
def test_fee_when_basket_option_legs_then_every_charge_matches(
    mock_models: FeeModels, index: int, side: Side, price: str, quantity: str
) -> None:
    row = _load("basket_margins.json")["orders"][index]
    breakdown = mock_models["mock2023.nfo.options.basket"].fee(
        fill(option(row["tradingsymbol"]), side, price, quantity, product=Product.CARRY)
    )
    assert _kite_view(breakdown) == _fixture_view(row["charges"])


def test_fee_when_coindcx_inr_order_of_fixture_then_trading_fee_matches_fee_amount() -> None:
    from qk.fees import default_fee_models
    from qk.schemas.enums import InstrumentKind

    from .conftest import crypto

    order = json.loads((FIXTURES / "coindcx_spot_order_update.json").read_text())[0]
    usdtinr = crypto("USDTINR", Venue.COINDCX, "INR", InstrumentKind.SPOT, 2, 2)
    breakdown = default_fee_models()["coindcx.spot.inr"].fee(
        fill(usdtinr, Side.BUY, str(order["avg_price"]), str(order["total_quantity"]))
    )
    assert breakdown.value(FeeComponentKind.TRADING_FEE) == _expected(order["fee_amount"])
